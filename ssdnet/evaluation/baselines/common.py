"""What every baseline shares: a gray working copy, sliding windows, and the way back to full size."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def gray(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luminance of an (H, W, C) image in [0, 1]; every baseline here is gray-level."""
    if image.ndim == 2:
        return image.astype(np.float32)
    if image.shape[2] == 1:
        return image[..., 0].astype(np.float32)
    return (image[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def resize(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area average when shrinking (no aliasing of fine texture), bilinear when growing."""
    if x.shape == tuple(shape):
        return x.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
    shrink = shape[0] <= x.shape[0] and shape[1] <= x.shape[1]
    if shrink:
        out = F.interpolate(t, size=shape, mode="area")
    else:
        out = F.interpolate(t, size=shape, mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def working_shape(height: int, width: int, short_side: int) -> tuple[int, int]:
    """The shorter side becomes ``short_side`` (never upsampled), aspect kept."""
    short = min(height, width)
    if short <= short_side:
        return height, width
    s = short_side / short
    return max(2, round(height * s)), max(2, round(width * s))


def windows(x: torch.Tensor, size: int, stride: int) -> torch.Tensor:
    """(C, H, W) -> (N, C * size * size): every window at ``stride``, row-major."""
    return F.unfold(x[None], kernel_size=size, stride=stride)[0].T


def spread(window_scores: torch.Tensor, shape: tuple[int, int], size: int, stride: int) -> np.ndarray:
    """Each pixel gets the mean score of the windows that cover it (zero-padded at the border)."""
    cols = window_scores.reshape(1, 1, -1).expand(1, size * size, -1).contiguous()
    total = F.fold(cols, output_size=shape, kernel_size=size, stride=stride)
    count = F.fold(torch.ones_like(cols), output_size=shape, kernel_size=size, stride=stride)
    out = total / count.clamp_min(1)
    # Pixels right of / below the last whole window: take the nearest covered value.
    hh = (shape[0] - size) // stride * stride + size
    ww = (shape[1] - size) // stride * stride + size
    out = out[..., :hh, :ww]
    out = F.pad(out, (0, shape[1] - ww, 0, shape[0] - hh), mode="replicate")
    return out[0, 0].numpy().astype(np.float32)
