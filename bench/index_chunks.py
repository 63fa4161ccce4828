"""Index chunk sizes: the cost of an append and of reading the whole variable, per chunk size.

    PYTHONPATH=. .venv/bin/python bench/index_chunks.py --rows 1000000 --append 256

For a string variable (image ids of ~40 bytes, as the index holds) and a float64 one, each
--chunks size makes a --rows array in a fresh Zarr v3 store (the codecs the scan's arrays get)
and times: an append of --append rows (resize, then write: what a scan's commit does, rewriting
the last chunk) and a read of the whole array (what open_index does). Prints one line per case.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr


def case(root: Path, kind: str, chunk: int, rows: int, append: int, repeats: int) -> str:
    path = root / f"{kind}-{chunk}.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=3)
    if kind == "str":
        values = np.array([f"archive/night/{i // 1000:04d}/img_{i:07d}.png" for i in range(rows + append * repeats)])
        arr = g.create_array("v", shape=(rows,), chunks=(chunk,), dtype=str)
    else:
        values = np.random.default_rng(0).random(rows + append * repeats)
        arr = g.create_array("v", shape=(rows,), chunks=(chunk,), dtype="float64", fill_value=float("nan"))
    arr[:] = values[:rows]
    n, appends = rows, []
    for _ in range(repeats):
        t = time.perf_counter()
        arr.resize((n + append,))
        arr[n: n + append] = values[n: n + append]
        appends.append(time.perf_counter() - t)
        n += append
    reads = []
    for _ in range(repeats):
        t = time.perf_counter()
        zarr.open_array(path / "v", mode="r")[:]
        reads.append(time.perf_counter() - t)
    return (f"{kind:5s} chunk {chunk:6d}: append {append} rows {1000 * min(appends):7.1f} ms, "
            f"read {rows} rows {min(reads):6.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--append", type=int, default=256)
    ap.add_argument("--chunks", default="1024,4096,16384,65536")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("str", "float"):
            for chunk in (int(c) for c in args.chunks.split(",")):
                print(case(Path(tmp), kind, chunk, args.rows, args.append, args.repeats), flush=True)


if __name__ == "__main__":
    main()
