"""Pipeline overhead, worker scaling and the write path of ``ssdnet scan``.

Whole commands, timed from outside: ``ssdnet scan`` of N generated images with 1 worker vs
one ``ssdnet detect`` call over the same images (both single-threaded torch, cluster start-up
included); the same scan with 2 workers; Zarr write seconds per image (from the scan's
summary) vs fit seconds (from its index). Median of --repeats runs.
Writes bench/out/scan_speed.json; bench/report.py renders it.

    .venv/bin/python bench/scan_speed.py --images 24 --preset fast --repeats 3
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pipeline  # noqa: E402
from bench.report import commit  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
CLI = [sys.executable, "-m", "pipeline.cli"]


def make_archive(folder: Path, count: int, size: int) -> list[Path]:
    from PIL import Image

    from ssdnet.synthetic import make_example

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        p = folder / f"img_{i:03d}.png"
        Image.fromarray(make_example(i, size, size, defect=None if i % 4 == 0 else "random")[0]).save(p)
        paths.append(p)
    return paths


def timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"error: {' '.join(cmd[:4])}...: exit {res.returncode}: {res.stderr.strip()[-500:]}")
    return time.perf_counter() - t, res.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT, help="folder for the JSON result")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ssdnet-bench-"))
    try:
        paths = make_archive(work / "archive", args.images, args.size)
        method = ["--preset", args.preset, "--threads", "1"]
        runs: dict[str, list[float]] = {"loop": [], "scan_1": [], "scan_2": []}
        write_s: list[float] = []
        fit_s: dict[int, list[float]] = {1: [], 2: []}
        for r in range(args.repeats):
            sec, _ = timed(CLI + ["detect", *map(str, paths), "--out", str(work / f"detect{r}"), *method])
            runs["loop"].append(sec)
            for workers in (1, 2):
                store = work / f"scan{workers}_{r}.zarr"
                sec, out = timed(CLI + ["scan", str(work / "archive"), "--out", str(store), "--workers",
                                        str(workers), "--json", *method])
                runs[f"scan_{workers}"].append(sec)
                summary = json.loads(out.strip().splitlines()[-1])
                write_s.append(summary["store_write_seconds_per_image"])
                fit_s[workers].append(float(pipeline.open_index(str(store))["seconds"].median()))
        med = {k: statistics.median(v) for k, v in runs.items()}
        result = {
            "images": args.images, "size": args.size, "preset": args.preset, "runs": runs, "median": med,
            "commit": commit(), "command": "bench/scan_speed.py " + " ".join(sys.argv[1:]),
            "scan_over_loop": med["scan_1"] / med["loop"],
            "speedup_2_workers": med["scan_1"] / med["scan_2"],
            "write_seconds_per_image": statistics.median(write_s),
            "fit_seconds_per_image": statistics.median(fit_s[1]),
            "fit_seconds_per_image_2_workers": statistics.median(fit_s[2]),
        }
        # Where the 2-worker scan loses against 2x: time outside the fits (start-up, shutdown; the
        # same for 1 and 2 workers) and fits slowed by sharing the machine.
        result["outside_fits_seconds"] = med["scan_1"] - args.images * result["fit_seconds_per_image"]
        result["fit_slowdown_2_workers"] = result["fit_seconds_per_image_2_workers"] / result["fit_seconds_per_image"]
        result["write_over_fit"] = result["write_seconds_per_image"] / result["fit_seconds_per_image"]
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "scan_speed.json").write_text(json.dumps(result, indent=1))
        print(f"loop (detect) {med['loop']:.1f} s   scan 1 worker {med['scan_1']:.1f} s   "
              f"scan 2 workers {med['scan_2']:.1f} s")
        print(f"scan / loop {result['scan_over_loop']:.3f}   2 workers speed-up {result['speedup_2_workers']:.2f}x   "
              f"write / fit {100 * result['write_over_fit']:.2f}%")
        print(f"outside the fits {result['outside_fits_seconds']:.1f} s   a fit with 2 workers busy "
              f"{result['fit_slowdown_2_workers']:.2f}x as long as with 1")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
