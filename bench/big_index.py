"""Times ``pipeline.open_index`` and ``ssdnet review`` on a store with a large index.

    PYTHONPATH=. .venv/bin/python bench/big_index.py --rows 1000000 [--store /tmp/big.zarr] [--keep]

Synthesizes a store of --rows index rows in the real layout: the groups and arrays are made by
``pipeline.store.StoreWriter`` (so chunking and dtypes are the scan's), then each index array
is filled in slices as a scan's appends would leave it. Most rows are ok 32x32 images whose maps
were never written (a map costs a file each; the review reads only the top K, which get real
maps here), 1 in 1,000 failed; flags are computed by ``pipeline.flags.flag_store`` as a scan's end
does. Prints one JSON line of seconds: synthesis, open_index (best of --repeats) and review.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from pipeline.flags import flag_store  # noqa: E402
from pipeline.layout import FAILED, STATUS, thumb_shape  # noqa: E402
from pipeline.store import StoreWriter  # noqa: E402

SIDE = 32
SLICE = 65536  # rows written per call, as many appends would


def synthesize(store: Path, rows: int, top: int) -> None:
    rng = np.random.default_rng(0)
    failed = np.arange(rows) % 1000 == 999
    writer = StoreWriter(store, ssdnet.resolve(preset="fast"))
    # Real records for the top images (so review draws real maps) and one failed row: these make
    # the groups through the writer's own code.
    ty, tx = thumb_shape(SIDE, SIDE)
    base = {"status": "ok", "error": "", "height": SIDE, "width": SIDE, "worker": "tcp://10.0.0.1:40000",
            "seconds": 0.5, "finished_at": time.time_ns(), "texture_share": 0.5}
    writer.write([{**base, "id": f"archive/top/img_{k:03d}.png", "path": f"/data/archive/top/img_{k:03d}.png",
                   "sha256": f"{k:064x}", "score_max": 100.0 + k, "score_p99": 50.0 + k, "score_mean": 1.0,
                   "map": rng.random((SIDE, SIDE), dtype=np.float32) * (50 + k),
                   "thumbnail": rng.integers(0, 255, (ty, tx, 3), dtype=np.uint8)} for k in range(top)])
    writer.write([{**base, "id": "archive/top/broken.png", "path": "/data/archive/top/broken.png", "sha256": "0" * 64,
                   "status": FAILED, "height": 0, "width": 0, "error": "cannot decode image"}])
    for name, n in ((f"{SIDE}x{SIDE}", int((~failed).sum())), (FAILED, int(failed.sum()))):
        first = writer.used[name]
        writer._reserve(name, first + n)
        a = writer.arrays[name]
        which = np.flatnonzero(failed if name == FAILED else ~failed)
        for lo in range(0, n, SLICE):
            idx = which[lo: lo + SLICE]
            sl = slice(first + lo, first + lo + idx.size)
            ids = np.array([f"archive/night/{i // 1000:04d}/img_{i:07d}.png" for i in idx], dtype=str)
            p99 = np.exp(rng.normal(0, 0.3, idx.size))
            ok = name != FAILED
            cols = {"image": ids, "path": np.char.add("/data/", ids), "sha256": np.array([f"{i:064x}" for i in idx]),
                    "worker": np.full(idx.size, "tcp://10.0.0.1:40000"),
                    "error": np.full(idx.size, "" if ok else "cannot decode image"),
                    "height": np.full(idx.size, SIDE if ok else 0), "width": np.full(idx.size, SIDE if ok else 0),
                    "score_max": p99 * 2 if ok else np.full(idx.size, np.nan),
                    "score_p99": p99 if ok else np.full(idx.size, np.nan),
                    "score_mean": p99 / 2 if ok else np.full(idx.size, np.nan),
                    "texture_share": np.full(idx.size, 0.5 if ok else np.nan),
                    "seconds": np.full(idx.size, 0.5), "finished_at": np.full(idx.size, time.time_ns()),
                    STATUS: np.full(idx.size, "ok" if ok else FAILED)}
            for var, values in cols.items():
                arr = a[var]
                arr[sl] = values.astype(arr.dtype) if arr.dtype.kind != "T" else values
        writer.used[name] = first + n
    writer.close()
    flag_store(store)


# After the load event: first (contentful) paint and when the table's first rows were drawn.
PAINT = """(async () => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  return {first_paint_ms: paint['first-paint'], first_contentful_paint_ms: paint['first-contentful-paint'],
          load_ms: nav.loadEventStart, rows_shown: document.querySelectorAll('#rows tr').length};
})()"""


def first_paint(page: Path) -> dict:
    """The page opened from disk in headless Chromium (tests/pipeline/browser.py): paint times, ms."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "pipeline"))
    from browser import chromium_or_skip, visit_page

    visit = visit_page(chromium_or_skip(), page, PAINT)
    return {k: (round(v) if isinstance(v, float) else v) for k, v in visit.evaluated.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--store", type=Path, default=None, help="reuse (or make) this store [a temporary one]")
    ap.add_argument("--top", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-review", action="store_true")
    ap.add_argument("--browser", action="store_true", help="also time the page's first paint in headless Chromium")
    ap.add_argument("--keep", action="store_true", help="keep the temporary store and report")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="big-index-"))
    store = args.store or tmp / "big.zarr"
    out: dict[str, float | int | str] = {"rows": args.rows}
    try:
        if not (store / "zarr.json").exists():
            t = time.perf_counter()
            synthesize(store, args.rows, args.top)
            out["synthesize_s"] = round(time.perf_counter() - t, 1)
        files = sum(1 for _ in store.rglob("*") if _.is_file())
        out["store_files"] = files
        # A fresh interpreter each time: what a user's `import pipeline; open_index(...)` costs.
        code = ("import time,sys; t=time.perf_counter(); import pipeline; ix=pipeline.open_index(sys.argv[1]); "
                "print(time.perf_counter()-t, ix.sizes['image'])")
        runs = []
        for _ in range(args.repeats):
            res = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True, check=True)
            seconds, n = res.stdout.split()
            runs.append(float(seconds))
        out["open_index_s"] = round(min(runs), 2)
        out["open_index_rows"] = int(n)
        if not args.no_review:
            report = tmp / "report"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pipeline.cli", "review", str(store), "--out", str(report),
                            "--top", str(args.top)], check=True, capture_output=True)
            out["review_s"] = round(time.perf_counter() - t, 1)
            out["report"] = str(report)
            out["report_bytes"] = sum(p.stat().st_size for p in report.rglob("*") if p.is_file())
            out["page_bytes"] = (report / "index.html").stat().st_size
            if args.browser:
                out.update(first_paint(report / "index.html"))
        print(json.dumps(out), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
