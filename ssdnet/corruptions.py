"""Input corruptions that stop the fit from learning the identity.

Every function works on a whole batch (B, C, P, P) at once and draws from an explicit
``torch.Generator`` so a fit is reproducible.
"""
from __future__ import annotations

import torch


def sample_patches(image: torch.Tensor, size: int, count: int, gen: torch.Generator) -> torch.Tensor:
    """``count`` random ``size`` x ``size`` crops of ``image`` (C, H, W), gathered in one indexing op."""
    c, h, w = image.shape
    ys = torch.randint(0, h - size + 1, (count,), generator=gen, device=gen.device)
    xs = torch.randint(0, w - size + 1, (count,), generator=gen, device=gen.device)
    ar = torch.arange(size, device=image.device)
    rows = (ys.to(image.device)[:, None] + ar)[:, :, None]  # (B, P, 1)
    cols = (xs.to(image.device)[:, None] + ar)[:, None, :]  # (B, 1, P)
    return image[:, rows, cols].permute(1, 0, 2, 3).contiguous()  # (B, C, P, P)


def block_mask(patches: torch.Tensor, ratio: float, grid: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Blank a random ``ratio`` of the ``grid`` x ``grid`` blocks of each patch with the patch mean.

    Returns the masked patches and the mask (B, 1, P, P), 1 where a block was blanked.
    The number of blanked blocks is exactly ``round(ratio * grid**2)`` per patch, so the
    ratio is what was asked for, not only in expectation.
    """
    b, c, p, _ = patches.shape
    grid = max(1, min(grid, p))
    n_blocks = grid * grid
    k = int(round(ratio * n_blocks))
    if k == 0:
        return patches, torch.zeros(b, 1, p, p, device=patches.device)
    scores = torch.rand(b, n_blocks, generator=gen, device=gen.device).to(patches.device)
    chosen = scores.argsort(dim=1)[:, :k]
    blocks = torch.zeros(b, n_blocks, device=patches.device).scatter_(1, chosen, 1.0)
    blocks = blocks.view(b, 1, grid, grid)
    mask = torch.nn.functional.interpolate(blocks, size=(p, p), mode="nearest")
    fill = patches.mean(dim=(2, 3), keepdim=True)
    return patches * (1 - mask) + fill * mask, mask


def shuffle_tiles(patches: torch.Tensor, grid: int, prob: float, gen: torch.Generator) -> torch.Tensor:
    """Permute the ``grid`` x ``grid`` sub-tiles of a random ``prob`` share of the patches.

    Each chosen patch gets its own permutation. Pixels beyond the last full tile (when P is
    not a multiple of grid) stay in place.
    """
    b, c, p, _ = patches.shape
    if grid < 2 or prob <= 0:
        return patches
    t = p // grid
    if t == 0:
        return patches
    n = grid * grid
    core = patches[:, :, : t * grid, : t * grid]
    tiles = core.reshape(b, c, grid, t, grid, t).permute(0, 2, 4, 1, 3, 5).reshape(b, n, c, t, t)
    perm = torch.rand(b, n, generator=gen, device=gen.device).argsort(dim=1).to(patches.device)
    keep = torch.rand(b, generator=gen, device=gen.device).to(patches.device) >= prob
    perm = torch.where(keep[:, None], torch.arange(n, device=patches.device).expand(b, n), perm)
    tiles = torch.gather(tiles, 1, perm[:, :, None, None, None].expand_as(tiles))
    core = tiles.reshape(b, grid, grid, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(b, c, t * grid, t * grid)
    out = patches.clone()
    out[:, :, : t * grid, : t * grid] = core
    return out


def add_noise(patches: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    if sigma <= 0:
        return patches
    noise = torch.randn(patches.shape, generator=gen, device=gen.device).to(patches.device)
    return patches + sigma * noise


def corrupt(patches: torch.Tensor, *, mask_ratio: float, mask_grid: int, shuffle_grid: int,
            shuffle_prob: float, noise_sigma: float, gen: torch.Generator) -> torch.Tensor:
    """Shuffle, then mask, then noise: the masked block hides shuffled content too."""
    x = shuffle_tiles(patches, shuffle_grid, shuffle_prob, gen)
    x, _ = block_mask(x, mask_ratio, mask_grid, gen)
    return add_noise(x, noise_sigma, gen)
