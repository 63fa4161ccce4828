"""Large images with small defects: native tiles (``--tile-above``) against resizing to ``size``.

Two kinds of input, each scored both ways with the same fit settings:

* generated: ``--count`` images of ``--side`` x ``--side`` px (``ssdnet.synthetic``: a woven,
  gridded, striped or noisy texture with one spot, scratch, hole or stain ``--diameters`` px
  across), development data only, never evidence;
* ``--sets``: real sets of ``--datasets`` (e.g. the 1024 x 1024 MVTec AD ones), their fixed
  stratified ``--limit`` subset.

Prints and writes (``--out``, JSON) pooled pixel AUROC / AUPRC, image AUROC where there are
defect-free images, seconds per image and per megapixel, for each way.

    .venv/bin/python bench/large_images.py --side 2048 --count 2 --preset fast --threads 2
    .venv/bin/python bench/large_images.py --count 0 --sets mvtec_ad_grid --limit 4 --threads 2
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from bench.report import commit  # noqa: E402
from ssdnet.evaluation import PooledMetrics, image_auroc, list_samples, read_mask, stratified  # noqa: E402
from ssdnet.synthetic import TEXTURES, make_example  # noqa: E402
from ssdnet.tiling import needs_tiles, tile_boxes  # noqa: E402


def generated(side: int, count: int, diameters: tuple[float, float], seed: int
              ) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    for i in range(count):
        d = float(rng.uniform(*diameters))
        img, mask = make_example(seed + i, side, side, texture_kind=TEXTURES[i % len(TEXTURES)],
                                 defect_diameter=d)
        yield f"generated/{side}px_{i:02d}_{d:.0f}px", img.astype(np.float32)[..., None] / 255, mask


def real(datasets: Path, name: str, limit: int) -> Iterator[tuple[str, np.ndarray, np.ndarray | None]]:
    for s in stratified(list_samples(datasets / name), limit):
        image = ssdnet.load_image(s.image)
        yield f"{name}/{s.id}", image, read_mask(s.mask, image.shape[:2])


def score(images: Iterator[tuple[str, np.ndarray, np.ndarray | None]], configs: dict[str, ssdnet.Config]
          ) -> dict[str, dict[str, Any]]:
    pooled = {k: PooledMetrics() for k in configs}
    maxima: dict[str, list[float]] = {k: [] for k in configs}
    seconds = {k: 0.0 for k in configs}
    defective: list[bool] = []
    megapixels, tiles = 0.0, {k: 0 for k in configs}
    for name, image, mask in images:
        h, w = image.shape[:2]
        megapixels += h * w / 1e6
        defective.append(mask is not None and bool(mask.any()))
        for k, cfg in configs.items():
            n = len(tile_boxes(h, w, cfg.size)) if needs_tiles(h, w, cfg.size, cfg.tile_above) else 1
            t = time.perf_counter()
            m = ssdnet.map_for_array(image, cfg)
            dt = time.perf_counter() - t
            seconds[k] += dt
            tiles[k] += n
            pooled[k].add(m, mask)
            maxima[k].append(float(m.max()))
            print(f"{name} {h}x{w}: {k} ({n} fit{'s' if n > 1 else ''}) {dt:.1f} s", flush=True)
    count = len(defective)
    return {k: {**pooled[k].result(), "image_auroc": image_auroc(maxima[k], defective), "images": count,
                "fits": tiles[k], "seconds_per_image": seconds[k] / count,
                "seconds_per_megapixel": seconds[k] / megapixels} for k in configs} if count else {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--side", type=int, default=2048, help="generated images' side, pixels")
    ap.add_argument("--count", type=int, default=2, help="generated images (0: none)")
    ap.add_argument("--diameters", default="8,20", help="generated defects' diameter range, pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--sets", default="", help="comma-separated real sets to score too")
    ap.add_argument("--limit", type=int, default=4, help="images per real set (its stratified subset)")
    ap.add_argument("--preset", default=ssdnet.resolve().preset)
    ap.add_argument("--tile-above", type=int, default=512, help="the tiled run's tile_above")
    ap.add_argument("--size", type=int, default=None, help="working size (default: the preset's)")
    ap.add_argument("--steps", type=int, default=None, help="fit steps (default: the preset's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="", help="JSON file for the results")
    args = ap.parse_args()
    lo, hi = (float(v) for v in args.diameters.split(","))
    base = ssdnet.resolve(preset=args.preset, threads=args.threads, device="cpu", size=args.size, steps=args.steps)
    configs = {"resized": base, f"tiled (tile_above={args.tile_above})": base.replace(tile_above=args.tile_above)}
    results: dict[str, Any] = {"commit": commit(), "cpu": platform.processor() or platform.machine(),
                               "preset": args.preset, "threads": args.threads, "size": base.size,
                               "steps": base.steps}
    if args.count:
        key = f"generated {args.side}px, defects {args.diameters} px"
        results[key] = score(generated(args.side, args.count, (lo, hi), args.seed), configs)
    for name in [s for s in args.sets.split(",") if s]:
        results[name] = score(real(Path(args.datasets), name, args.limit), configs)
    for key, rows in results.items():
        if isinstance(rows, dict):
            for k, r in rows.items():
                print(f"{key}: {k}: pixel AUROC {r['pixel_auroc']:.4f} AUPRC {r['pixel_auprc']:.4f} "
                      f"image AUROC {r['image_auroc']} | {r['seconds_per_image']:.1f} s/image, "
                      f"{r['seconds_per_megapixel']:.1f} s/MP, {r['fits']} fits")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
