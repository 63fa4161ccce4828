"""Heatmap pictures: a colour map and the heatmap blended over its image."""
from __future__ import annotations

import numpy as np
from PIL import Image

# A perceptually ordered dark-blue -> red -> yellow ramp (control points, linearly interpolated).
_RAMP = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                  [245, 125, 21], [250, 193, 39], [252, 255, 164]], dtype=np.float32)


def normalise(m: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    lo = float(np.min(m)) if lo is None else lo
    hi = float(np.max(m)) if hi is None else hi
    return np.clip((m - lo) / (hi - lo), 0, 1) if hi > lo else np.zeros_like(m, dtype=np.float32)


def colormap(unit: np.ndarray) -> np.ndarray:
    """(H, W) values in [0, 1] -> (H, W, 3) uint8."""
    pos = np.clip(unit, 0, 1) * (len(_RAMP) - 1)
    i = np.minimum(pos.astype(int), len(_RAMP) - 2)
    t = (pos - i)[..., None]
    return (_RAMP[i] * (1 - t) + _RAMP[i + 1] * t).astype(np.uint8)


def to_rgb8(image: np.ndarray) -> np.ndarray:
    """float (H, W, C) in [0, 1] -> uint8 (H, W, 3)."""
    rgb = image if image.shape[2] == 3 else np.repeat(image[..., :1], 3, axis=2)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def blend(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5, lo: float | None = None,
          hi: float | None = None) -> Image.Image:
    """The image with the heatmap over it; ``lo``/``hi`` fix the colour scale across images."""
    base = to_rgb8(image).astype(np.float32)
    colour = colormap(normalise(heat, lo, hi)).astype(np.float32)
    return Image.fromarray((base * (1 - alpha) + colour * alpha + 0.5).astype(np.uint8))
