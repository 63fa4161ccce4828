"""SSDnet: zero-shot anomaly localization from a single image.

Fits a fresh small U-Net to each image alone and reports where it cannot reconstruct the
image. The public names load their modules on first use: ``import ssdnet`` itself loads
nothing heavy, ``ssdnet.detect`` loads torch, and a reader of stores that only needs
``ssdnet.overlay`` or ``ssdnet.config`` never does. Nothing here imports dask or zarr.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# Public name -> the submodule that defines it.
_LAZY = {
    "Result": "api", "detect": "api", "map_for_array": "api", "map_for_arrays": "api", "map_scores": "api",
    "maps_and_shares": "api", "resolve_device": "api",
    "PRESETS": "config", "Config": "config", "ConfigError": "config", "complete_record": "config",
    "resolve": "config",
    "WeightsNotFound": "features",
    "IMAGE_EXTENSIONS": "imageio", "ImageError": "imageio", "load_image": "imageio",
    "describe_device": "packing", "pack_size": "packing",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module 'ssdnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
