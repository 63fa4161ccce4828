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
               pixel_weight: float, perceptual_weight: float) -> torch.Tensor:
    loss = pixel_weight * pixel_loss(out, target)
    if perceptual_weight > 0:
        loss = loss + perceptual_weight * perceptual_loss(out, target, extractor)
    return loss
