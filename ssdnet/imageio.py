"""Reading any common image into a float array, with one clear reason when that fails."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, UnidentifiedImageError

from .model import MIN_SIDE

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

ImageSource = Union[str, os.PathLike, bytes, BinaryIO, np.ndarray, Image.Image]


class ImageError(ValueError):
    """An input that cannot be analysed; ``reason`` is one line for the user."""

    def __init__(self, source: str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


def describe(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return f"<{type(source).__name__}>"


def load_image(source: ImageSource, max_pixels: int = 50_000_000) -> np.ndarray:
    """Decode ``source`` to float32 (H, W, C) in [0, 1], C = 1 (gray) or 3 (colour).

    Alpha is dropped (composited on black would invent edges; the colour values are what was
    imaged), palettes are expanded, 16-bit data keeps its full range.
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        return _from_array(source, name, max_pixels)
    if isinstance(source, Image.Image):
        return _from_pil(source, name, max_pixels)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageError(name, "no such file")
        if path.is_dir():
            raise ImageError(name, "is a directory, not an image")
        if path.stat().st_size == 0:
            raise ImageError(name, "empty file (0 bytes)")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ImageError(name, f"cannot read: {exc.strerror or exc}") from None
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    if not data:
        raise ImageError(name, "empty file (0 bytes)")
    return decode_bytes(data, name, max_pixels)


def decode_bytes(data: bytes, name: str, max_pixels: int) -> np.ndarray:
    with warnings.catch_warnings():
        # Our own max_pixels check replaces PIL's warning-based decompression-bomb guard.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(name, "not a recognised image format") from None
        except Image.DecompressionBombError:
            raise ImageError(name, f"more than {max_pixels} pixels") from None
        except Exception as exc:  # noqa: BLE001 - PIL raises many types for broken headers
            raise ImageError(name, f"cannot decode: {exc}") from None
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(name, f"{w}x{h} = {w * h} pixels is more than --max-pixels {max_pixels}")
        try:
            img.load()
        except Exception as exc:  # noqa: BLE001
            raise ImageError(name, f"truncated or corrupt image data ({exc})") from None
    return _from_pil(img, name, max_pixels)


def _from_pil(img: Image.Image, name: str, max_pixels: int) -> np.ndarray:
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(name, f"{w}x{h} = {w * h} pixels is more than --max-pixels {max_pixels}")
    _check_size(name, w, h)
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top, 0.0, 1.0)[..., None]
    elif mode in ("L", "1", "LA"):
        arr = np.asarray(img.convert("L"), dtype=np.float64)[..., None] / 255.0
    else:
        arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
    return _gray_if_neutral(arr.astype(np.float32))


def _check_size(name: str, width: int, height: int) -> None:
    # Here, not in the fit: a smaller image would fail deep inside torch's padding. The working
    # shape never shrinks a side below MIN_SIDE (it keeps the shorter side at >= cfg.size >= 16).
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(name, f"image {width}x{height} is smaller than the {MIN_SIDE}x{MIN_SIDE} the network needs")


def _from_array(arr: np.ndarray, name: str, max_pixels: int) -> np.ndarray:
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(name, f"array of shape {arr.shape} is not an image (H, W[, C])")
    h, w = arr.shape[:2]
    if h * w > max_pixels:
        raise ImageError(name, f"{w}x{h} = {w * h} pixels is more than --max-pixels {max_pixels}")
    _check_size(name, w, h)
    arr = arr[..., :3]
    if np.issubdtype(arr.dtype, np.integer):
        top = 65535.0 if arr.dtype.itemsize > 1 else 255.0
        arr = arr.astype(np.float64) / top
    return _gray_if_neutral(np.clip(arr, 0, 1).astype(np.float32))


def _gray_if_neutral(arr: np.ndarray) -> np.ndarray:
    # An RGB file of a gray scene carries no colour information; fitting one channel is 3x cheaper.
    if arr.shape[2] == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        return np.ascontiguousarray(arr[..., :1])
    return np.ascontiguousarray(arr)


def working_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Shape at which the fit runs: the shorter side becomes ``size``, aspect kept.

    Images whose shorter side is already at most ``size`` run at native resolution, so a
    small crop or a line-scan strip is never upsampled into invented detail.
    """
    short = min(height, width)
    if short <= size:
        return height, width
    scale = size / short
    return max(2, round(height * scale)), max(2, round(width * scale))
