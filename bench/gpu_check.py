"""Every GPU code path once, and how far packed fits fill the device (issue 27).

Parts, each timed and recorded even when another fails:

- ``peaks``: the best float32 (TF32 off) and bfloat16 matmul rates on the device, measured.
- ``packs``: fits per minute of packs of K fits (256x256, the preset's steps), the seconds in
  fits and in heatmaps, the achieved FLOP/s (FLOPs of one fit counted by torch's
  FlopCounterMode) and their share of both peaks; one bfloat16 row at the largest K; and the K
  that ``ssdnet.pack_size`` measures.
- ``large``: one 1024x1024 and one 4096x256 image through ``ssdnet.detect``, fit and heatmap apart.
- ``commands``: ``ssdnet detect --device cuda``, ``ssdnet scan`` on its own LocalCluster with
  ``--device cuda`` and on ``--cluster cuda`` (dask-cuda) without ``--pack`` (these need dask,
  distributed, zarr and, for --cluster cuda, dask-cuda: bench/gpu_check.sh installs them from
  carried wheels).
- ``scan_vs_loop``: images per minute of the scan against the bare packed loop on the same
  images, at the scan's pack.
- ``eval`` (with ``--datasets DIR``): ``ssdnet eval`` of the ``--eval-sets`` on the device, to
  compare with the CPU rows of docs/RESULTS.md (a few minutes more).

Writes one JSON (``--out``); ``bench/report.py`` renders it into docs/PERFORMANCE.md. A smoke run
on a CPU: ``PYTHONPATH=. python bench/gpu_check.py --device cpu --preset fast --steps 3
--packs 1,2 --size 32 --large 64x64 --scan-images 4 --out /tmp/g.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ssdnet  # noqa: E402
from ssdnet.synthetic import make_example  # noqa: E402


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def images(k: int, height: int, width: int) -> list[np.ndarray]:
    return [make_example(i, height, width)[0].astype(np.float32)[..., None] / 255 for i in range(k)]


def matmul_peak(device: str, dtype: torch.dtype) -> float:
    """FLOP/s of the best of a few square matmuls (8192 on CUDA; 512 elsewhere: a CPU without bfloat16
    instructions takes seconds per 1024 px bfloat16 matmul, and off CUDA this is only a smoke run)."""
    n = 8192 if device.startswith("cuda") else 512
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False  # the plain fp32 rate, as the fit runs
    try:
        a = torch.rand(n, n, device=device, dtype=dtype)
        a @ a
        best = 0.0
        for _ in range(5):
            sync(device)
            t = time.perf_counter()
            a @ a
            sync(device)
            best = max(best, 2 * n ** 3 / (time.perf_counter() - t))
        return best
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32


def flops_per_fit(cfg: ssdnet.Config, size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        ssdnet.map_for_arrays(images(1, size, size), cfg, pack=1)
    return float(counter.get_total_flops())


def timed_pack(k: int, cfg: ssdnet.Config, size: int) -> dict:
    batch = images(k, size, size)
    ssdnet.map_for_arrays(batch, cfg.replace(steps=1), pack=k)  # this K's kernels and memory, untimed
    timings: dict[str, float] = {}
    sync(cfg.device)
    t = time.perf_counter()
    ssdnet.maps_and_shares(batch, cfg, pack=k, timings=timings)
    sync(cfg.device)
    seconds = time.perf_counter() - t
    return {"K": k, "precision": cfg.precision, "seconds": seconds, "fits_per_minute": 60 * k / seconds,
            "fit_seconds": timings["fit_seconds"], "heatmap_seconds": timings["heatmap_seconds"]}


def part_packs(args, cfg: ssdnet.Config, result: dict) -> None:
    peaks = result["peaks"]
    fit_flops = flops_per_fit(cfg, args.size)
    rows = []
    for k in (int(v) for v in args.packs.split(",")):
        row = timed_pack(k, cfg, args.size)
        rows.append(row)
        print(json.dumps(row), flush=True)
    rows.append(timed_pack(rows[-1]["K"], cfg.replace(precision="bfloat16"), args.size))
    for row in rows:
        row["speedup"] = row["fits_per_minute"] / rows[0]["fits_per_minute"]
        row["flops_per_s"] = fit_flops * row["fits_per_minute"] / 60
        row["share_of_fp32_peak"] = row["flops_per_s"] / peaks["fp32_flops_per_s"]
        row["share_of_bf16_peak"] = row["flops_per_s"] / peaks["bf16_flops_per_s"]
    t = time.perf_counter()
    auto = ssdnet.pack_size(cfg, channels=1, height=args.size, width=args.size)
    result["packs"] = {"flops_per_fit": fit_flops, "rows": rows, "pack_size": auto,
                       "pack_size_seconds": time.perf_counter() - t}


def part_large(args, cfg: ssdnet.Config, result: dict) -> None:
    rows = []
    for shape in args.large.split(","):
        w, h = (int(v) for v in shape.split("x"))
        image = images(1, h, w)[0]
        ssdnet.detect(image, cfg.replace(steps=2))  # this shape's kernels, untimed
        r = ssdnet.detect(image, cfg)
        rows.append({"width": w, "height": h, "seconds": r.seconds, "fit_seconds": r.fit_seconds,
                     "heatmap_seconds": r.heatmap_seconds})
        print(json.dumps(rows[-1]), flush=True)
    result["large"] = rows


def cli(args: list[str], timeout: float) -> dict:
    """``ssdnet ARGS`` in a fresh process: exit code, seconds, and the last JSON line it printed."""
    t = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(ROOT), os.environ.get("PYTHONPATH", "")])})
    except subprocess.TimeoutExpired:
        return {"args": args, "rc": "timeout", "seconds": timeout}
    out = {"args": args, "rc": done.returncode, "seconds": time.perf_counter() - t}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if lines:
        out["json"] = json.loads(lines[-1])
    if done.returncode not in (0, 3):
        out["stderr_tail"] = done.stderr[-3000:]
    return out


def config_flags(args) -> list[str]:
    return ["--preset", args.preset, "--device", args.device] + (["--steps", str(args.steps)] if args.steps else [])


def write_pngs(folder: Path, count: int, size: int) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"img_{i:04d}.png")
        Image.fromarray(make_example(i, size, size)[0]).save(paths[-1])
    return paths


def part_commands(args, cfg: ssdnet.Config, result: dict, work: Path) -> None:
    paths = write_pngs(work / "archive", args.scan_images, args.size)
    common = config_flags(args)
    commands = result["commands"] = {}
    commands["detect"] = cli(["detect", str(paths[0]), "--out", str(work / "detect"), "--json", *common], 300)
    print(json.dumps(commands["detect"])[:400], flush=True)
    scan = ["scan", str(work / "archive"), "--json", "--progress-every", "10", *common]
    commands["scan_local"] = cli([*scan, "--out", str(work / "local.zarr")], 400)
    print(json.dumps(commands["scan_local"])[:600], flush=True)
    if args.device.startswith("cuda"):
        cuda_scan = [a if a != args.device else "auto" for a in scan]
        commands["scan_cluster_cuda"] = cli([*cuda_scan, "--cluster", "cuda", "--out", str(work / "cuda.zarr")], 400)
        print(json.dumps(commands["scan_cluster_cuda"])[:600], flush=True)
    local = commands["scan_local"].get("json")
    if local and local.get("ok"):
        # The bare loop over the same decoded images, at the pack the scan used.
        pack = local.get("pack", 1)
        decoded = [ssdnet.load_image(p.read_bytes()) for p in paths]
        ssdnet.map_for_arrays(decoded[:pack], cfg.replace(steps=1), pack=pack)  # warm, as the scan's workers are
        sync(cfg.device)
        t = time.perf_counter()
        for first in range(0, len(decoded), pack):
            ssdnet.map_for_arrays(decoded[first:first + pack], cfg, pack=pack)
        sync(cfg.device)
        loop = 60 * len(decoded) / (time.perf_counter() - t)
        result["scan_vs_loop"] = {"images": len(decoded), "pack": pack, "loop_images_per_minute": loop,
                                  "scan_images_per_minute": local["images_per_minute"],
                                  "ratio": local["images_per_minute"] / loop}
        print(json.dumps(result["scan_vs_loop"]), flush=True)


def part_eval(args, cfg: ssdnet.Config, result: dict) -> None:
    """``ssdnet eval`` of each set of --eval-sets under --datasets (whole sets: the rows of
    docs/RESULTS.md they are compared with are whole sets)."""
    common = config_flags(args)
    evals = result["eval"] = {}
    for name in args.eval_sets.split(","):
        evals[name] = cli(["eval", str(Path(args.datasets) / name), "--json", "--threads", "0", *common], 400)
        print(json.dumps(evals[name])[:600], flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--packs", default="1,4,16,64,128")
    ap.add_argument("--steps", type=int, default=None, help="override the preset's steps (smoke runs)")
    ap.add_argument("--large", default="1024x1024,4096x256", help="WxH,... images for the large-image part")
    ap.add_argument("--scan-images", type=int, default=64)
    ap.add_argument("--datasets", default="", help="folder holding the --eval-sets: adds the eval part")
    ap.add_argument("--eval-sets", default="mvtec_ad_grid,hazelnut_toy")
    ap.add_argument("--parts", default="packs,large,commands")
    ap.add_argument("--out", default="bench/out/gpu_check.json", help="the JSON result")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("error: cuda: no CUDA device on this machine (use --device cpu for a smoke run)", file=sys.stderr)
        return 2
    cfg = ssdnet.resolve(preset=args.preset, device=args.device, steps=args.steps)
    result: dict = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
                    "torch": torch.__version__, "preset": args.preset, "steps": cfg.steps, "size": args.size,
                    "commit": _commit(), "errors": {}, "seconds": {}}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result["peaks"] = {"fp32_flops_per_s": matmul_peak(args.device, torch.float32),
                       "bf16_flops_per_s": matmul_peak(args.device, torch.bfloat16)}
    print(json.dumps(result["peaks"]), flush=True)
    ssdnet.map_for_arrays(images(1, args.size, args.size), cfg.replace(steps=2))  # CUDA context, kernels
    parts = args.parts.split(",") + (["eval"] if args.datasets else [])
    with tempfile.TemporaryDirectory() as tmp:
        for part in parts:
            t = time.perf_counter()
            try:
                if part == "commands":
                    part_commands(args, cfg, result, Path(tmp))
                else:
                    {"packs": part_packs, "large": part_large, "eval": part_eval}[part](args, cfg, result)
            except Exception:  # noqa: BLE001 - record it, go on to the next part
                result["errors"][part] = traceback.format_exc()[-3000:]
                print(f"part {part} failed:\n{result['errors'][part]}", file=sys.stderr, flush=True)
            result["seconds"][part] = time.perf_counter() - t
            out.write_text(json.dumps(result, indent=1))  # what is done so far survives a timeout
    print(json.dumps(result, indent=1))
    return 1 if result["errors"] else 0


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


if __name__ == "__main__":
    sys.exit(main())
