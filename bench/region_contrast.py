"""Whether each defect is rougher or smoother than its image's typical surface.

For every defective image of a set (or its development images), the median inside the defect
of the contrast map's signed log ratio (``ssdnet.predict.log_contrast``: above 0 rougher than
the image's median contrast, below 0 smoother), at the config's ``surface_contrast`` or
--sigma, summed up per defect type (the set's defect class). Needs no fit.

    .venv/bin/python bench/region_contrast.py --set magnetic_tile
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from bench.selection import add_selection, selected_samples  # noqa: E402
from ssdnet.api import _to_original, to_working  # noqa: E402
from ssdnet.evaluation import read_mask  # noqa: E402
from ssdnet.predict import log_contrast  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_selection(ap)
    ap.add_argument("--sigma", type=float, default=None, help="the local contrast's sigma (default: the config's)")
    args = ap.parse_args(argv)
    cfg = ssdnet.resolve(preset="fused")
    sigma = cfg.surface_contrast if args.sigma is None else args.sigma
    if sigma <= 0:
        ap.error("--sigma must be positive")
    samples = selected_samples(ap, args)
    inside: dict[str, dict[str, float]] = defaultdict(dict)
    for sample in samples:
        if sample.mask is None:  # a defect-free image: nothing inside to measure
            continue
        image = ssdnet.load_image(sample.image, cfg.max_pixels)
        mask = read_mask(sample.mask, image.shape[:2])
        if not mask.any():
            continue
        x = to_working(image, cfg.size, torch.device("cpu"))
        ratio = _to_original(log_contrast(x.unsqueeze(0), sigma)[0, 0], image.shape[:2])
        inside[sample.defect][sample.id] = float(np.median(ratio[mask]))
    for kind, values in sorted(inside.items()):
        v = list(values.values())
        print(f"{args.set} {kind}: {len(v)} images, rougher {sum(x > 0 for x in v)}, smoother "
              f"{sum(x < 0 for x in v)}, median log ratio inside {statistics.median(v):.2f}")
    print(json.dumps({"set": args.set, "sigma": sigma, "inside": inside}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
