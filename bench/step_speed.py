"""Milliseconds per training step of the U-Net alone, per width and memory layout.

The fit's seconds are mostly its network's steps (forward, backward, Adam). This times those
steps with nothing else: the `paper` patch schedule of a square working image (one patch
size per step in turn, more patches at smaller sizes, as ``ssdnet.fit`` draws them), a pixel
loss only, for each width and for the default (contiguous) and the channels-last layout of
the network and its input. On processors whose vector registers hold 16 floats a width of 12
channels can cost what 16 cost, and the layout decides how much time goes into reordering
memory between layers: what a FLOP count cannot show. Prints one line per case and, last, a
JSON summary; ``--out DIR`` also writes it to DIR/step_speed.json.

    .venv/bin/python bench/step_speed.py --widths 12,16 --threads 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from bench.report import commit, cpu_name  # noqa: E402
from ssdnet.fit import patch_count, patch_sizes  # noqa: E402
from ssdnet.model import UNet  # noqa: E402

LAYOUTS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def step_ms(width: int, layout: str, size: int, steps: int) -> float:
    """Mean milliseconds of one training step over ``steps`` steps, after a few warm-up steps."""
    cfg = ssdnet.resolve(preset="paper")
    torch.manual_seed(0)
    fmt = LAYOUTS[layout]
    model = UNet(3, width).to(memory_format=fmt)
    sizes = patch_sizes(size, size, cfg.scale_list)
    batches = [torch.rand(patch_count(cfg.batch, sizes[0], p), 3, p, p).contiguous(memory_format=fmt) for p in sizes]
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step(i: int) -> None:
        x = batches[i % len(batches)]
        loss = (model(x) - x).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(2 * len(batches)):
        step(i)
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    return (time.perf_counter() - start) / steps * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="12,16")
    ap.add_argument("--layouts", default="contiguous,channels_last")
    ap.add_argument("--size", type=int, default=256, help="working image side the patch sizes are taken from")
    ap.add_argument("--steps", type=int, default=60,
                    help="timed steps per case (a multiple of the patch sizes' count)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="the cases are run in turn this many times; medians reported")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cases = [(int(w), layout) for w in args.widths.split(",") for layout in args.layouts.split(",")]
    unknown = sorted({layout for _, layout in cases} - set(LAYOUTS))
    if unknown:
        ap.error(f"unknown layout(s): {', '.join(unknown)} (known: {', '.join(LAYOUTS)})")
    runs: dict[tuple[int, str], list[float]] = {case: [] for case in cases}
    for _ in range(args.repeats):  # in turn, so a slow spell of a shared machine hits every case
        for case in cases:
            runs[case].append(step_ms(*case, args.size, args.steps))
    rows = [{"width": w, "layout": layout, "ms_per_step": statistics.median(runs[(w, layout)]),
             "runs": runs[(w, layout)]} for w, layout in cases]
    for r in rows:
        print(f"width {r['width']:3d}  {r['layout']:13s}  {r['ms_per_step']:7.1f} ms per step", flush=True)
    summary = {"rows": rows, "threads": args.threads, "size": args.size, "cpu": cpu_name(), "commit": commit(),
               "command": "bench/step_speed.py " + " ".join(sys.argv[1:])}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "step_speed.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
