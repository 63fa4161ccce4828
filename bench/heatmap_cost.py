"""Seconds of the heatmap alone (after the fit), per gate side and surface fills.

Times ``ssdnet.predict.heatmap`` on an untrained network (the cost does not depend on the
weights) for a working image of the given size, with the gate forced to the texture map, to
the surface map with the image-mean fill only (``surface_windows=0``) and to the surface map
with the default fills, without and with its level map (``surface_level``), with its grain
map too (``surface_grain``), its contrast map (``surface_contrast``) and its region map
(``surface_region``, the default). Median of
--repeats runs. Writes ``heatmap_cost.json`` into --out (bench/out by default), which
bench/report.py renders into docs/PERFORMANCE.md.

    .venv/bin/python bench/heatmap_cost.py --height 256 --width 384 --threads 1
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
from bench.report import commit  # noqa: E402
from ssdnet.api import get_extractor  # noqa: E402
from ssdnet.model import UNet  # noqa: E402
from ssdnet.predict import heatmap  # noqa: E402

SURFACE = dict(gate_low=1.0, gate_high=1.0)
# The surface map's optional maps in the order they joined it; a case keeps the first few.
LATER_MAPS = ("surface_level", "surface_grain", "surface_contrast", "surface_region")


def surface_case(kept: int, **over) -> dict:
    """The surface map with the first ``kept`` of :data:`LATER_MAPS` (the rest at 0)."""
    return dict(SURFACE, **{name: 0.0 for name in LATER_MAPS[kept:]}, **over)


# Each surface case adds one map to the one before; the last is the default surface map, all maps in.
CASES = {"texture map": dict(gate_low=-1.0, gate_high=-1.0),
         # Without local fills there is no level map to leave out.
         "surface map, image-mean fill only": surface_case(1, surface_windows="0"),
         "surface map, default fills, no level map": surface_case(0),
         "surface map, default fills and level map, no grain map": surface_case(1),
         "surface map, default fills, level and grain maps, no contrast map": surface_case(2),
         "surface map, default fills, level, grain and contrast maps, no region map": surface_case(3),
         "surface map, default fills": SURFACE}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--height", type=int, default=256)
    ap.add_argument("--width", type=int, default=384)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = ssdnet.resolve(preset="fused", device="cpu")
    # Noise over vertical streaks: a surface with a typical grain, so the grain map gets its full
    # weight and is timed whole (on an isotropic image it is left out after its first step).
    x = 0.5 * torch.rand(3, args.height, args.width) + 0.5 * torch.rand(1, 1, args.width)
    model = UNet(3, cfg.width).eval()
    rows = {}
    for name, over in CASES.items():
        c = cfg.replace(**over)
        extractor = get_extractor(c, 3, torch.device("cpu"))
        heatmap(model, x, c, extractor)  # warm-up
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            heatmap(model, x, c, extractor)
            times.append(time.perf_counter() - t)
        rows[name] = round(statistics.median(times), 3)
        print(f"{name:40s} {rows[name]:.3f} s", flush=True)
    result = {"height": args.height, "width": args.width, "threads": args.threads, "repeats": args.repeats,
              "seconds": rows, "surface_windows": cfg.surface_windows,
              "surface_level": cfg.surface_level, "surface_grain": cfg.surface_grain,
              "surface_contrast": cfg.surface_contrast, "surface_region": cfg.surface_region, "commit": commit(),
              "command": "bench/heatmap_cost.py " + " ".join(sys.argv[1:])}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "heatmap_cost.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
