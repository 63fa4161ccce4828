"""How a scan gets its Dask cluster. Knows nothing about images: imports neither ssdnet nor pipeline.

``connect`` loads Dask on first use: the specs and their files do not need it.
"""
from __future__ import annotations

from typing import Any

from .config import load_spec, read_config
from .spec import KINDS, ClusterError, ClusterSpec, ConfigError

__all__ = ["KINDS", "ClusterError", "ClusterSpec", "ConfigError", "connect", "load_spec", "read_config"]


def __getattr__(name: str) -> Any:
    if name == "connect":
        from .client import connect
        return connect
    raise AttributeError(f"module 'cluster' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
