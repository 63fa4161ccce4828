"""Seconds and peak memory per fit, and how close the fit runs to the hardware.

For each preset and input size, every measurement runs in a fresh process (so peak RSS is
that fit's alone) and is repeated; the median is reported. FLOPs per fit are counted with
``torch.utils.flop_counter.FlopCounterMode`` on one fit; the device's peak is measured as the
best of large float32 matrix multiplications on the same threads (an achievable peak, not
the vendor's figure). Writes bench/out/fit_speed.json; bench/report.py renders it.

    .venv/bin/python bench/fit_speed.py --sizes 256,512,1024 --presets paper,fast --threads 2
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.report import commit  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"


def one_fit(preset: str, size: int, threads: int) -> dict:
    """Runs in the child: one fit of a generated size x size image."""
    import numpy as np
    import torch

    import ssdnet
    from ssdnet.synthetic import make_example

    image = make_example(0, size, size)[0].astype(np.float32)[..., None] / 255
    cfg = ssdnet.resolve(preset=preset, threads=threads, device="cpu")
    torch.set_num_threads(threads)
    t = time.perf_counter()
    ssdnet.map_for_array(image, cfg)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def count_flops(preset: str, size: int) -> float:
    import numpy as np
    from torch.utils.flop_counter import FlopCounterMode

    import ssdnet
    from ssdnet.synthetic import make_example

    image = make_example(0, size, size)[0].astype(np.float32)[..., None] / 255
    counter = FlopCounterMode(display=False)
    with counter:
        ssdnet.map_for_array(image, ssdnet.resolve(preset=preset, device="cpu"))
    return float(counter.get_total_flops())


def matmul_peak(threads: int) -> float:
    import torch

    torch.set_num_threads(threads)
    a = torch.rand(2048, 2048)
    a @ a
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048 ** 3 / (time.perf_counter() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="paper,fast")
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("PRESET", "SIZE", "THREADS"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=OUT, help="folder for the JSON result")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_fit(args.child[0], int(args.child[1]), int(args.child[2]))))
        return
    rows = []
    peak = matmul_peak(args.threads)
    for preset in args.presets.split(","):
        for size in map(int, args.sizes.split(",")):
            runs = []
            for _ in range(args.repeats):
                res = subprocess.run([sys.executable, __file__, "--child", preset, str(size), str(args.threads)],
                                     capture_output=True, text=True, check=True)
                runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
            flops = count_flops(preset, size)
            sec = statistics.median(r["seconds"] for r in runs)
            row = {"preset": preset, "size": size, "threads": args.threads, "seconds": sec,
                   "runs": [r["seconds"] for r in runs],
                   "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                   "gflop": flops / 1e9, "gflops_per_s": flops / sec / 1e9,
                   "fraction_of_peak": flops / sec / peak}
            rows.append(row)
            print(f"{preset:6s} {size:5d}px  {sec:7.2f} s  {row['peak_rss_mb']:7.0f} MB  "
                  f"{row['gflop']:8.1f} GFLOP  {row['gflops_per_s']:6.1f} GFLOP/s  "
                  f"{100 * row['fraction_of_peak']:5.1f}% of peak", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fit_speed.json").write_text(json.dumps(
        {"matmul_peak_gflops": peak / 1e9, "threads": args.threads, "rows": rows, "commit": commit(),
         "command": "bench/fit_speed.py " + " ".join(sys.argv[1:])}, indent=1))


if __name__ == "__main__":
    main()
