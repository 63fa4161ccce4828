"""Degraded inputs for the robustness curves: sensor noise and missing pixels.

The degradation is seeded by the image's id, so every method of a curve sees the very
same damaged pixels and a rerun reproduces them.
"""
from __future__ import annotations

import zlib

import numpy as np


def degrade(image: np.ndarray, key: str, noise_sigma: float = 0.0, dropout: float = 0.0) -> np.ndarray:
    """``image`` (H, W, C) float in [0, 1] with Gaussian noise of ``noise_sigma`` added and a
    random ``dropout`` share of its pixels set to 0 in every channel (dead pixels), clipped to [0, 1]."""
    if noise_sigma <= 0 and dropout <= 0:
        return image
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    out = image.astype(np.float32, copy=True)
    if noise_sigma > 0:
        out += rng.normal(0.0, noise_sigma, size=out.shape).astype(np.float32)
    if dropout > 0:
        out[rng.random(out.shape[:2]) < dropout] = 0.0
    return np.clip(out, 0.0, 1.0)
