"""Packed scans: several images per task, fitted together, each still its own row."""
from __future__ import annotations

import logging

import numpy as np

import pipeline

from scan_fixtures import FAST, client, reference_map, write_images  # noqa: F401


def test_packed_tasks_give_every_image_its_row_and_the_single_fit_map(client, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ssdnet.scan")
    src = tmp_path / "batch"
    paths = write_images(src, 5, shapes={3: (48, 64)})  # two shapes: a pack holds both
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    store = tmp_path / "scan.zarr"
    summary = pipeline.scan(src, store, client=client, pack=3, **FAST)
    assert (summary["ok"], summary["failed"]) == (5, 1)
    assert "packing 3 fits per task" in caplog.text
    index = pipeline.open_index(store)
    broken = index.sel(image="batch/broken.png")
    assert broken.status.item() == "failed" and broken.error.item()
    for p in paths:
        stored = pipeline.open_map(store, f"batch/{p.name}").values
        single = reference_map(p.read_bytes())
        # packed and single fits agree to float rounding (ssdnet's packed test states the bound)
        span = float(single.max() - single.min())
        assert np.abs(stored - single).max() <= 5e-3 * span
        assert index.sel(image=f"batch/{p.name}").seconds.item() > 0
