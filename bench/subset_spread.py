"""How far a small test subset's pooled metrics can stray from the whole set's: each method's
map of every image is computed once (kept as .npy under bench/out/maps/<set>/<method>/,
resumable, ``--shard i/n`` splits the work across processes), then many random subsets of the
size of the ``--limit`` test subset (same number of images per defect class) are scored, as
bench/accuracy.py scores a subset: pooled pixels, the same metrics.

    .venv/bin/python bench/subset_spread.py --set crackforest --methods ssdnet,ssd --limit 20 --shard 0/2
    .venv/bin/python bench/subset_spread.py --set crackforest --methods ssdnet,ssd --limit 20 --draws 200

It prints, per method, the whole set's figures, the test subset's and the spread over the
draws (5th, 50th, 95th percentile), for each pair of methods how often the first leads, and
how often each method is ahead of all the others (issue 3's target, per draw).
"""
from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ssdnet.evaluation.datasets import DatasetError, list_samples, read_mask, stratified  # noqa: E402
from ssdnet.evaluation.pooled import Pixels, PooledMetrics, image_pixels  # noqa: E402
from ssdnet.evaluation.runner import method_function  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "maps"
METRICS = {"auroc": "pixel_auroc", "auprc": "pixel_auprc"}


def compute_maps(samples, method: str, preset: str, folder: Path, shard: tuple[int, int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    run, _ = method_function(method, {"preset": preset} if method == "ssdnet" else None)
    index, count = shard
    for s in samples[index::count]:
        target = folder / f"{s.id}.npy"
        if not target.exists():
            np.save(folder / f"{s.id}.tmp.npy", run(s.image).astype(np.float32))
            (folder / f"{s.id}.tmp.npy").rename(target)


def pixels_of(samples, folder: Path) -> dict[str, tuple[Pixels, int]]:
    """Each image's pooled pixels, made once: the defect regions are labelled once, not per draw."""
    maps = ((s, np.load(folder / f"{s.id}.npy")) for s in samples)
    return {s.id: image_pixels(m, read_mask(s.mask, m.shape)) for s, m in maps}


def pooled(pixels: dict[str, tuple[Pixels, int]], ids: list[str]) -> dict[str, float]:
    """The metrics of these images pooled, as bench/accuracy.py computes them (binned above its limit)."""
    metrics = PooledMetrics()
    for i in ids:
        metrics.add_pixels(*pixels[i])
    result = metrics.result()
    return {k: result[v] for k, v in METRICS.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--set", required=True)
    ap.add_argument("--methods", default="ssdnet,ssd")
    ap.add_argument("--preset", default="fused")
    ap.add_argument("--limit", type=int, required=True, help="size of the test subset whose spread is measured")
    ap.add_argument("--draws", type=int, default=0, help="random subsets to score (0: only compute the maps)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--shard", default="0/1", metavar="I/N", help="compute every N-th map from the I-th")
    ap.add_argument("--maps", default=str(OUT))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        samples = list_samples(Path(args.datasets) / args.set)
    except DatasetError as e:
        ap.error(str(e))
    methods = [m for m in args.methods.split(",") if m]
    folders = {m: Path(args.maps) / args.set / m for m in methods}
    if not args.draws:
        shard = tuple(int(v) for v in args.shard.split("/"))
        for m in methods:
            compute_maps(samples, m, args.preset, folders[m], shard)
        return 0
    missing = [f"{m}/{s.id}" for m in methods for s in samples if not (folders[m] / f"{s.id}.npy").exists()]
    if missing:
        ap.error(f"{len(missing)} maps not computed yet (first {missing[0]}): run without --draws first")
    pixels = {m: pixels_of(samples, folders[m]) for m in methods}
    test = stratified(samples, args.limit)
    per_class = Counter(s.defect for s in test)
    by_class = defaultdict(list)
    for s in samples:
        by_class[s.defect].append(s.id)
    rng = np.random.default_rng(args.seed)
    draws = [[i for c, n in sorted(per_class.items()) for i in rng.choice(by_class[c], n, replace=False)]
             for _ in range(args.draws)]
    scores = {m: [pooled(pixels[m], ids) for ids in draws] for m in methods}
    everything = [s.id for s in samples]
    for m in methods:
        whole, sub = pooled(pixels[m], everything), pooled(pixels[m], [s.id for s in test])
        spread = ", ".join(f"{k} {' / '.join(f'{v:.4f}' for v in np.percentile([d[k] for d in scores[m]], [5, 50, 95]))}"
                           for k in METRICS)
        print(f"{m}: all {len(everything)} {whole['auroc']:.4f} / {whole['auprc']:.4f}; test {len(test)} "
              f"{sub['auroc']:.4f} / {sub['auprc']:.4f}; {args.draws} draws of {len(test)} (5/50/95 %): {spread}")
    for a, b in itertools.permutations(methods, 2):
        share = {k: np.mean([x[k] > y[k] for x, y in zip(scores[a], scores[b])]) for k in METRICS}
        print(f"{a} ahead of {b}: " + ", ".join(f"{k} in {share[k]:.0%} of draws" for k in METRICS))
    for m in methods:
        first = {k: np.array([all(scores[m][d][k] > scores[o][d][k] for o in methods if o != m)
                              for d in range(args.draws)]) for k in METRICS}
        print(f"{m} ahead of all others: " + ", ".join(f"{k} in {v.mean():.0%}" for k, v in first.items())
              + f", both in {np.mean(np.logical_and.reduce(list(first.values()))):.0%} of draws")
    return 0


if __name__ == "__main__":
    sys.exit(main())
