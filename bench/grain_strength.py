"""Each image's typical grain: the strength that weights the surface map's grain map.

Prints, for every image of a set (or its development images), the length of the median
structure-tensor vector at working resolution (``ssdnet.predict.grain_error``), sorted, and
the share of the grain map's full weight it gets (``GRAIN_RAMP``). Needs no fit.

    .venv/bin/python bench/grain_strength.py --set magnetic_tile --limit 30 --dev 30
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from bench.selection import add_selection, selected_samples  # noqa: E402
from ssdnet.api import to_working  # noqa: E402
from ssdnet.predict import GRAIN_RAMP, grain_error, texture_weight  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_selection(ap)
    ap.add_argument("--sigma", type=float, default=None, help="structure tensor sigma (default: the config's)")
    args = ap.parse_args(argv)
    cfg = ssdnet.resolve(preset="fused")
    sigma = cfg.surface_grain if args.sigma is None else args.sigma
    samples = selected_samples(ap, args)
    strengths = {}
    for sample in samples:
        x = to_working(ssdnet.load_image(sample.image, cfg.max_pixels), cfg.size, torch.device("cpu"))
        strengths[sample.id] = grain_error(x.unsqueeze(0), sigma)[1]
    values = sorted(strengths.values())
    weights = [texture_weight(v, *GRAIN_RAMP) for v in values]
    print(f"{args.set}: {len(values)} images, grain strength at sigma {sigma:g}: "
          f"{values[0]:.2f}-{values[-1]:.2f}, the grain map's weight {min(weights):.2f}-{max(weights):.2f} "
          f"(ramp {GRAIN_RAMP[0]:g}-{GRAIN_RAMP[1]:g})")
    print(" ".join(f"{v:.2f}" for v in values))
    print(json.dumps({"set": args.set, "sigma": sigma, "strength": strengths}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
