"""Training losses: pixel L2 plus the inner-product (cosine) perceptual loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .features import Extractor


def pixel_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(out, target)


def perceptual_loss(out: torch.Tensor, target: torch.Tensor, extractor: Extractor) -> torch.Tensor:
    """1 - mean cosine similarity of the two images' features: 0 when they agree everywhere."""
    return 1.0 - extractor.cosine_map(out, target).mean()


def total_loss(out: torch.Tensor, target: torch.Tensor, extractor: Extractor,
               pixel_weight: float, perceptual_weight: float, trim: float = 0.0) -> torch.Tensor:
    if trim > 0:
        return trimmed_loss(out, target, extractor, pixel_weight, perceptual_weight, trim)
    loss = pixel_weight * pixel_loss(out, target)
    if perceptual_weight > 0:
        loss = loss + perceptual_weight * perceptual_loss(out, target, extractor)
    return loss


def trimmed_loss(out: torch.Tensor, target: torch.Tensor, extractor: Extractor,
                 pixel_weight: float, perceptual_weight: float, trim: float) -> torch.Tensor:
    """The same per-pixel loss, averaged over each patch's best ``1 - trim`` of pixels.

    A defect is rare in its own image, so the fit reconstructs it last: leaving each patch's
    worst pixels out of the gradient keeps the network from ever learning it (trimmed least
    squares). Each patch is trimmed on its own, so packed fits stay independent.
    """
    per_pixel = pixel_weight * (out - target).pow(2).mean(1)
    if perceptual_weight > 0:
        per_pixel = per_pixel + perceptual_weight * (1.0 - extractor.cosine_map(out, target)[:, 0])
    flat = per_pixel.flatten(1)
    cut = torch.quantile(flat.detach(), 1.0 - trim, dim=1, keepdim=True)
    keep = (flat <= cut).to(flat.dtype)
    return ((flat * keep).sum(1) / keep.sum(1).clamp_min(1)).mean()
