"""Smooth-sparse decomposition (Yan, Paynabar & Shi, Technometrics 2017): image = smooth
background + sparse anomalies + noise; the sparse part is the defect map.

    min_{theta, a} ||Y - B1 Theta B2^T - A||^2 + lambda * roughness(Theta) + gamma * ||A||_1

The background is a tensor-product cubic B-spline with a second-difference roughness penalty
(P-spline); the anomaly basis is the identity (pixel-sized anomalies). Solved by block
coordinate descent, each block exact: the background is a separable ridge smoother, the
anomalies a soft threshold. The paper picks gamma by a BIC search; here gamma comes from the
robust noise scale of the first residual (a fixed multiple of its MAD), one solve per image.
The map is |Y - background|, which is |A| + gamma wherever A is nonzero.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.interpolate import BSpline

from .common import gray, resize, working_shape

SHORT_SIDE = 128
# One B-spline knot interval per KNOT_SPACING working pixels: smooth enough to leave defects out.
KNOT_SPACING = 8
ROUGHNESS = 1.0
# Soft threshold at this many robust standard deviations of the residual.
GAMMA_MADS = 2.0
ITERATIONS = 30
# Light smoothing of the map so that one defect's pixels rank together.
SIGMA = 1.0


def smoother(n: int) -> np.ndarray:
    """(n, n) hat matrix of a penalised cubic B-spline fit along one axis."""
    k = 3
    intervals = max(1, n // KNOT_SPACING)
    inner = np.linspace(0, 1, intervals + 1)
    knots = np.concatenate([[0] * k, inner, [1] * k])
    basis = BSpline.design_matrix(np.linspace(0, 1, n), knots, k).toarray()
    diff = np.diff(np.eye(basis.shape[1]), 2, axis=0)
    return basis @ np.linalg.solve(basis.T @ basis + ROUGHNESS * diff.T @ diff, basis.T)


def ssd(image: np.ndarray) -> np.ndarray:
    g = gray(image)
    shape = working_shape(*g.shape, SHORT_SIDE)
    y = resize(g, shape).astype(np.float64)
    h_rows, h_cols = smoother(shape[0]), smoother(shape[1])
    residual = y - h_rows @ y @ h_cols.T
    gamma = GAMMA_MADS * 1.4826 * np.median(np.abs(residual - np.median(residual)))
    a = np.zeros_like(y)
    for _ in range(ITERATIONS):
        r = y - h_rows @ (y - a) @ h_cols.T
        a = np.sign(r) * np.maximum(np.abs(r) - gamma, 0)
    # |A| = max(|R| - gamma, 0): ranking by |R| is the same above gamma and also orders the
    # pixels the sparse part leaves at exactly zero (often all of them on a strong texture).
    return resize(ndimage.gaussian_filter(np.abs(r), SIGMA).astype(np.float32), g.shape)
