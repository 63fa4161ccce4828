"""Fits per minute on one device for packs of K = 1, 4, 16 fits (256x256, the paper preset),
in float32 and bfloat16, and the pack size ``ssdnet.pack_size`` picks from free memory.

Runs from a plain checkout with only torch, numpy and pillow (``PYTHONPATH=. python
bench/gpu_check.py``): no install step, no dask, no zarr, no network.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

import ssdnet
from ssdnet.synthetic import make_example


def images(k: int, size: int) -> list[np.ndarray]:
    return [make_example(i, size, size)[0].astype(np.float32)[..., None] / 255 for i in range(k)]


def fits_per_minute(k: int, cfg: ssdnet.Config, size: int, repeats: int) -> float:
    batch = images(k, size)
    rates = []
    for _ in range(repeats):
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        ssdnet.map_for_arrays(batch, cfg, pack=k)
        if cfg.device.startswith("cuda"):
            torch.cuda.synchronize()
        rates.append(60 * k / (time.perf_counter() - t))
    return float(np.median(rates))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--packs", default="1,4,16")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's steps (smoke runs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--precisions", default="float32,bfloat16")
    ap.add_argument("--out", default="", help="also write the JSON summary to this file")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: cuda: no CUDA device on this machine (use --device cpu for a smoke run)", file=sys.stderr)
        return 2
    cfg = ssdnet.resolve(preset=args.preset, device=args.device, steps=args.steps)
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    fits_per_minute(1, cfg.replace(steps=min(cfg.steps, 5)), args.size, 1)  # warm-up: kernels, allocator
    auto = ssdnet.pack_size(cfg, channels=1, height=args.size, width=args.size)
    rows = []
    for precision in args.precisions.split(","):
        run = cfg.replace(precision=precision)
        for k in (int(v) for v in args.packs.split(",")):
            rows.append({"K": k, "precision": precision,
                         "fits_per_minute": fits_per_minute(k, run, args.size, args.repeats)})
    base = rows[0]["fits_per_minute"]
    print(f"device: {name}  preset: {args.preset}  steps: {cfg.steps}  image: {args.size}x{args.size}  "
          f"pack_size from free memory: {auto}")
    print(f"{'precision':>9} {'K':>4} {'fits/min':>10} {'speed-up':>9}")
    for r in rows:
        r["speedup"] = r["fits_per_minute"] / base
        print(f"{r['precision']:>9} {r['K']:>4} {r['fits_per_minute']:>10.1f} {r['speedup']:>8.2f}x")
    summary = json.dumps({"device": name, "preset": args.preset, "steps": cfg.steps, "size": args.size,
                          "auto_pack": auto, "rows": rows})
    if args.out:
        with open(args.out, "w") as f:
            f.write(summary + "\n")
    print(summary)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed", "zarr", "xarray"))
    assert not heavy, heavy
    return 0


if __name__ == "__main__":
    sys.exit(main())
