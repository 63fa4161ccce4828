"""Large images at native resolution: overlapping tiles, one fit each, blended into one map.

Resizing a 2048 px image to a 256 px working side shrinks a 10 px defect to about one pixel,
below what any reconstruction error can show. With ``tile_above`` set, an image whose shorter
side is larger is cut into ``size`` x ``size`` tiles at its own resolution, overlapping by a
quarter tile; each tile is an image of its own to the fit (so a pack fits several tiles of one
image at once), and the tiles' maps are blended with weights that fall to zero towards every
tile edge that is not an image edge, so no seam and no tile-edge effect shows.
"""
from __future__ import annotations

import math

import torch

# Share of a tile that overlaps its neighbour: wide enough that the blending ramp covers the
# heatmap's edge band (border_width, 16 of 256 working pixels by default) with room to spare.
OVERLAP = 0.25


def needs_tiles(height: int, width: int, size: int, tile_above: int) -> bool:
    """Whether an image of this shape is analysed in tiles (``tile_above`` = 0: never)."""
    return tile_above > 0 and min(height, width) > max(tile_above, size)


def origins(length: int, size: int) -> list[int]:
    """Evenly spaced tile starts covering ``length`` with tiles of ``size``, overlapping by at
    least :data:`OVERLAP` of a tile; the first starts at 0 and the last ends at ``length``."""
    if length <= size:
        return [0]
    stride = size * (1 - OVERLAP)
    n = 1 + math.ceil((length - size) / stride)
    return [round(i * (length - size) / (n - 1)) for i in range(n)]


def tile_boxes(height: int, width: int, size: int) -> list[tuple[int, int, int, int]]:
    """(y0, x0, tile height, tile width) of every tile, row by row."""
    th, tw = min(size, height), min(size, width)
    return [(y, x, th, tw) for y in origins(height, size) for x in origins(width, size)]


def _ramp(n: int, ramp: float, at_low_edge: bool, at_high_edge: bool, device: torch.device) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float32, device=device) + 0.5
    inf = torch.full_like(t, math.inf)
    # Distance to the nearest tile edge that another tile covers; an image edge is no seam.
    d = torch.minimum(inf if at_low_edge else t, inf if at_high_edge else n - t)
    w = 0.5 - 0.5 * torch.cos(math.pi * torch.clamp(d / ramp, 0.0, 1.0))
    # Never exactly 0: a pixel seen by one tile only (none, with OVERLAP > 0) still gets its value.
    return w.clamp_min(1e-4)


class Canvas:
    """Accumulates the tile maps of one image into its (height, width) map."""

    def __init__(self, height: int, width: int, size: int, device: torch.device):
        self.height, self.width = height, width
        self.ramp = max(1.0, size * OVERLAP)
        self.total = torch.zeros(height, width, device=device)
        self.weight = torch.zeros(height, width, device=device)
        self.shares: list[float] = []

    def add(self, box: tuple[int, int, int, int], tile_map: torch.Tensor, share: float) -> None:
        y, x, h, w = box
        wy = _ramp(h, self.ramp, y == 0, y + h == self.height, tile_map.device)
        wx = _ramp(w, self.ramp, x == 0, x + w == self.width, tile_map.device)
        weight = wy[:, None] * wx[None, :]
        self.total[y:y + h, x:x + w] += weight * tile_map.float()
        self.weight[y:y + h, x:x + w] += weight
        self.shares.append(share)

    def result(self) -> tuple[torch.Tensor, float]:
        """The blended map, and the tiles' mean texture share."""
        return self.total / self.weight, float(sum(self.shares) / len(self.shares))
