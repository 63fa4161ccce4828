"""Seconds per image of the scan's store writes, by how many results go into one update.

    .venv/bin/python bench/store_write.py --images 60 --batches 1,4,20

Writes --images generated 256x256 records through ``pipeline.store.StoreWriter`` into a fresh
store per batch size and prints milliseconds per image: what ``ssdnet scan --write-every``
trades against how long finished results wait on the client.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from pipeline.store import StoreWriter  # noqa: E402
from pipeline.layout import thumb_shape  # noqa: E402


def record(i: int, size: int, rng: np.random.Generator) -> dict:
    ty, tx = thumb_shape(size, size)
    return {"id": f"img{i:05d}.png", "path": f"/archive/img{i:05d}.png", "sha256": f"{i:064x}", "status": "ok",
            "error": "", "height": size, "width": size, "worker": "tcp://127.0.0.1:1", "seconds": 2.5,
            "finished_at": time.time_ns(), "score_max": 3.0, "score_p99": 2.0, "score_mean": 1.0,
            "texture_share": 1.0, "map": rng.random((size, size), dtype=np.float32),
            "thumbnail": rng.integers(0, 255, (ty, tx, 3), dtype=np.uint8)}


def ms_per_image(images: int, batch: int, size: int) -> float:
    rng = np.random.default_rng(0)
    records = [record(i, size, rng) for i in range(images)]
    with tempfile.TemporaryDirectory() as tmp:
        writer = StoreWriter(Path(tmp) / "store.zarr", ssdnet.resolve(preset="fast"))
        t = time.perf_counter()
        for start in range(0, images, batch):
            writer.write(records[start:start + batch])
        seconds = time.perf_counter() - t
        writer.close()
    return 1000 * seconds / images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--batches", default="1,4,20")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    for batch in (int(b) for b in args.batches.split(",")):
        runs = [ms_per_image(args.images, batch, args.size) for _ in range(args.repeats)]
        print(f"{batch:3d} results per update: {statistics.median(runs):6.1f} ms per image "
              f"(median of {args.repeats})", flush=True)


if __name__ == "__main__":
    main()
