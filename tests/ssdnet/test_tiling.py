"""Large images in native tiles (ssdnet/tiling.py): coverage, seamless blending, small defects kept."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ssdnet
from ssdnet import tiling
from ssdnet.evaluation.pooled import single_image
from ssdnet.synthetic import make_example

CPU = torch.device("cpu")


@pytest.mark.parametrize("length,size", [(256, 64), (1000, 256), (2048, 256), (300, 256), (64, 64), (40, 64)])
def test_tiles_cover_the_side_and_overlap_by_a_quarter(length, size):
    starts = tiling.origins(length, size)
    assert starts[0] == 0 and starts[-1] + min(size, length) == length
    gaps = np.diff(starts)
    assert all(gaps <= size * (1 - tiling.OVERLAP)), gaps  # overlap at least a quarter tile


def test_only_images_larger_than_tile_above_and_size_are_tiled():
    assert not tiling.needs_tiles(2048, 2048, 256, 0)
    assert tiling.needs_tiles(2048, 2048, 256, 1024)
    assert not tiling.needs_tiles(1024, 4096, 256, 1024)  # the shorter side decides
    assert not tiling.needs_tiles(256, 4096, 256, 256)  # a strip at working size is native already


def test_blending_makes_no_seam():
    # Tiles that agree (each a crop of one smooth field) blend back to that field exactly, and
    # a constant stays constant: whatever seams a map shows come from its tiles, not the blend.
    h, w, size = 300, 520, 128
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    field = torch.sin(yy / 37) + torch.cos(xx / 23)
    canvas = tiling.Canvas(h, w, size, CPU)
    for box in tiling.tile_boxes(h, w, size):
        y, x, th, tw = box
        canvas.add(box, field[y:y + th, x:x + tw], 0.5)
    blended, share = canvas.result()
    assert torch.allclose(blended, field, atol=1e-5) and share == 0.5


def test_a_tile_edge_weighs_less_than_its_neighbours_interior():
    # Where two tiles overlap, the pixel nearer one tile's inner edge takes its value mostly from
    # the other tile: a tile's edge effect (the heatmap's edge band) is faded out, not averaged in.
    canvas = tiling.Canvas(64, 112, 64, CPU)
    boxes = tiling.tile_boxes(64, 112, 64)
    assert [b[1] for b in boxes] == [0, 48]
    canvas.add(boxes[0], torch.zeros(64, 64), 0.0)
    canvas.add(boxes[1], torch.ones(64, 64), 1.0)
    blended, _ = canvas.result()
    row = blended[32]
    assert row[49] < 0.1 and row[62] > 0.9  # near tile 1's left edge / tile 0's right edge
    assert torch.all(row[:48] == 0) and torch.all(row[64:] == 1)
    assert torch.all(torch.diff(row[48:64]) >= 0)  # a smooth hand-over


def _small_defect_image():
    img, mask = make_example(5, 256, 256, texture_kind="weave", defect="spot", defect_diameter=6)
    return img.astype(np.float32)[..., None] / 255, mask


def test_tiles_keep_a_small_defect_that_resizing_loses():
    # 256 px with a 6 px spot at a 64 px working size: resized, the spot becomes 1.5 px; in
    # native tiles it stays 6 px wide and stands out far more.
    x, mask = _small_defect_image()
    cfg = ssdnet.resolve(preset="fast", size=64, steps=12, threads=1)
    resized = single_image(ssdnet.map_for_array(x, cfg), mask)
    tiled_map = ssdnet.map_for_array(x, cfg.replace(tile_above=128))
    tiled = single_image(tiled_map, mask)
    assert tiled_map.shape == (256, 256) and np.isfinite(tiled_map).all()
    assert tiled["auprc"] > resized["auprc"] + 0.2, (tiled, resized)


def test_tiles_pack_like_images_and_report_once_per_image():
    x, _ = _small_defect_image()
    small = make_example(1, 48, 48)[0].astype(np.float32)[..., None] / 255
    cfg = ssdnet.resolve(preset="fast", size=64, steps=3, threads=1, tile_above=128)
    seen: list[int] = []
    timings: dict[str, float] = {}
    maps, shares = ssdnet.maps_and_shares([x, small], cfg, pack=4, on_map=seen.append, timings=timings)
    alone = ssdnet.map_for_array(x, cfg)
    assert sorted(seen) == [0, 1]  # the tiled image's map is announced once, when all its tiles are in
    assert maps[0].shape == (256, 256) and maps[1].shape == (48, 48)
    assert np.allclose(maps[0], alone, rtol=1e-4, atol=1e-5 * float(np.abs(alone).max()))
    assert 0.0 <= shares[0] <= 1.0 and timings["fit_seconds"] > 0 and timings["heatmap_seconds"] > 0


def test_tile_above_below_size_is_refused():
    with pytest.raises(ssdnet.ConfigError, match="tile_above must be 0"):
        ssdnet.resolve(size=256, tile_above=100)
