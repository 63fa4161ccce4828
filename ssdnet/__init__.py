"""SSDnet: zero-shot anomaly localization from a single image.

Fits a fresh small U-Net to each image alone and reports where it cannot reconstruct the
image. Importing this package loads torch, numpy and pillow only: no dask, zarr or CUDA.
"""
from .api import Result, detect, map_for_array, map_for_arrays, map_scores, maps_and_shares, resolve_device
from .config import PRESETS, Config, ConfigError, complete_record, resolve
from .features import WeightsNotFound
from .imageio import IMAGE_EXTENSIONS, ImageError, load_image
from .packing import describe_device, pack_size

__version__ = "0.1.0"

__all__ = [
    "Config", "ConfigError", "IMAGE_EXTENSIONS", "ImageError", "PRESETS", "Result", "WeightsNotFound",
    "__version__", "complete_record", "describe_device", "detect", "load_image", "map_for_array", "map_for_arrays", "map_scores",
    "maps_and_shares", "pack_size", "resolve", "resolve_device",
]
