"""Classical single-image defect localisers, each image (H, W, C) in [0, 1] -> map (H, W) float32."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .cooccurrence import glcm
from .least_squares import pg_lsr
from .saliency import spectral_residual
from .smooth_sparse import ssd

BASELINES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "spectral-residual": spectral_residual,
    "glcm": glcm,
    "pg-lsr": pg_lsr,
    "ssd": ssd,
}

__all__ = ["BASELINES", "glcm", "pg_lsr", "spectral_residual", "ssd"]
