"""Gray-level co-occurrence texture features in sliding windows, scored against the image itself.

Each window's GLCM (Haralick et al. 1973) gives contrast, homogeneity, energy, entropy and
correlation per offset, plus the window's mean and standard deviation. A defect is a window
whose feature vector is far from the image's own distribution: the Mahalanobis distance to
the median window under a covariance that is re-estimated without the farthest windows,
so a large defect does not inflate the covariance it is measured with.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .common import gray, resize, spread, windows, working_shape

SHORT_SIDE = 128
WINDOW = 16
STRIDE = 4
LEVELS = 8
# Distance 1 at 0, 45, 90 and 135 degrees, the usual Haralick set.
OFFSETS = ((0, 1), (1, 1), (1, 0), (1, -1))
# Fraction of windows kept for the covariance: the rest are the candidates for defects.
INLIER_FRACTION = 0.8


def _quantise(g: np.ndarray) -> torch.Tensor:
    # Levels from the image's own 1st-99th percentiles: contrast-normalised, robust to a few hot pixels.
    lo, hi = np.percentile(g, [1, 99])
    q = np.clip((g - lo) / max(hi - lo, 1e-6), 0, 1 - 1e-6) * LEVELS
    return torch.from_numpy(q.astype(np.int64))


def _glcm_features(q: torch.Tensor) -> torch.Tensor:
    """(n_windows, features) for windows of ``q`` (H, W) of levels."""
    h, w = q.shape
    levels = torch.arange(LEVELS, dtype=torch.float32, device=q.device)
    i, j = torch.meshgrid(levels, levels, indexing="ij")
    i, j = i.reshape(-1, 1), j.reshape(-1, 1)
    feats = []
    for dy, dx in OFFSETS:
        # Pair codes of each pixel with its neighbour at (dy, dx), dy >= 0; zero-padded back to (H, W)
        # so that the windows line up with the first-order ones (a missing pair adds nothing).
        ca, cb = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        a, b = q[0:h - dy, ca], q[dy:h, cb]
        pairs = F.one_hot(a * LEVELS + b, LEVELS * LEVELS) + F.one_hot(b * LEVELS + a, LEVELS * LEVELS)  # symmetric
        pairs = pairs.permute(2, 0, 1).float()
        left = max(0, -dx)
        pairs = F.pad(pairs, (left, w - pairs.shape[2] - left, 0, h - pairs.shape[1]))
        p = F.avg_pool2d(pairs[None], WINDOW, STRIDE)[0]
        p = p / p.sum(0, keepdim=True).clamp_min(1e-12)
        p = p.reshape(LEVELS * LEVELS, -1)
        diff = i - j
        mu_i, mu_j = (i * p).sum(0), (j * p).sum(0)
        sd_i = ((i - mu_i) ** 2 * p).sum(0).sqrt()
        sd_j = ((j - mu_j) ** 2 * p).sum(0).sqrt()
        feats += [
            (diff ** 2 * p).sum(0),                                         # contrast
            (p / (1 + diff.abs())).sum(0),                                  # homogeneity
            (p ** 2).sum(0),                                                # energy
            -(p * torch.log(p.clamp_min(1e-12))).sum(0),                    # entropy
            ((i - mu_i) * (j - mu_j) * p).sum(0) / (sd_i * sd_j).clamp_min(1e-6),  # correlation
        ]
    return torch.stack(feats, 1)


def _first_order(g: np.ndarray) -> torch.Tensor:
    win = windows(torch.from_numpy(g)[None], WINDOW, STRIDE)
    return torch.stack([win.mean(1), win.std(1)], 1)


def _mahalanobis(feats: torch.Tensor) -> torch.Tensor:
    x = feats.double()
    x = (x - x.median(0).values) / (x.std(0) + 1e-9)
    keep = torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(2):
        centre = x[keep].median(0).values
        cov = torch.cov((x[keep] - centre).T) + 1e-3 * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        d = x - centre
        dist = (d @ torch.linalg.inv(cov) * d).sum(1).clamp_min(0).sqrt()
        keep = dist <= torch.quantile(dist, INLIER_FRACTION)
    return dist.float()


def glcm(image: np.ndarray) -> np.ndarray:
    g = gray(image)
    shape = working_shape(*g.shape, SHORT_SIDE)
    small = resize(g, shape)
    if min(shape) < WINDOW:
        raise ValueError(f"image {g.shape[1]}x{g.shape[0]} is smaller than the {WINDOW}-pixel GLCM window")
    feats = torch.cat([_glcm_features(_quantise(small)), _first_order(small)], 1)
    score = _mahalanobis(feats)
    return resize(spread(score, shape, WINDOW, STRIDE), g.shape)
