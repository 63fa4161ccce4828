"""Fitting a fresh U-Net to one image: multi-scale corrupted patches -> the clean patch."""
from __future__ import annotations

import torch

from .config import Config
from .corruptions import corrupt, sample_patches
from .features import Extractor
from .losses import total_loss
from .model import UNet

MIN_PATCH = 16


def patch_sizes(height: int, width: int, scales: list[int]) -> list[int]:
    """Patch side for each scale: the shorter image side divided by the scale, global to local."""
    short = min(height, width)
    sizes = [min(short, max(MIN_PATCH, short // s)) for s in scales]
    return sorted(set(sizes), reverse=True)


def fit(image: torch.Tensor, cfg: Config, extractor: Extractor, gen: torch.Generator) -> UNet:
    """Train a new network on ``image`` (C, H, W) alone and return it in eval mode.

    Each step uses one patch scale, cycling largest to smallest. The patch count is scaled
    so every step sees about the same number of pixels: small patches are cheap, and
    without more of them the local scale would be undertrained.
    """
    c, h, w = image.shape
    torch.manual_seed(cfg.seed)  # network initialisation (callers fork the RNG)
    model = UNet(channels=c, width=cfg.width).to(image.device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.3)
    sizes = patch_sizes(h, w, cfg.scale_list)
    model.train()
    for step in range(cfg.steps):
        p = sizes[step % len(sizes)]
        count = max(1, round(cfg.batch * (sizes[0] / p) ** 2))
        clean = sample_patches(image, p, count, gen)
        noisy = corrupt(clean, mask_ratio=cfg.mask_ratio, mask_grid=cfg.mask_grid,
                        shuffle_grid=cfg.shuffle_grid, shuffle_prob=cfg.shuffle_prob,
                        noise_sigma=cfg.noise_sigma, gen=gen)
        loss = total_loss(model(noisy), clean, extractor, cfg.pixel_weight, cfg.perceptual_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    return model.eval()
