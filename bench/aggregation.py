"""Which error maps, smoothing and aggregation make the best heatmap: fit once, score many.

Fits each image of a set once (the given config), saves the heatmap's ingredients (the
clean-input pixel error, and the inpainting error at several block sizes as pixel L2, patch
NCC cosine and random-conv cosine) under bench/out/components/<set>/<tag>/, then scores
aggregation formulas on them with pooled pixel AUROC / AUPRC. Fits are resumable.

    .venv/bin/python bench/aggregation.py --set mvtec_ad_grid --option batch=2 --option steps=200
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from ssdnet.api import get_extractor, to_working  # noqa: E402
from ssdnet.features import PatchNCC, RandConv  # noqa: E402
from ssdnet.fit import fit  # noqa: E402
from ssdnet.predict import checkerboard_masks, gaussian_blur, reconstruction_error, robust_z  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "components"
FORMULAS = [
    "B(pix1 * ncc_8, 4)",              # product, the plain reference recipe
    "B(pix1 * (ncc_8 + ncc_16) / 2, 4)",
    "Z(B(pix1, 6))",                   # pixel error alone
    "Z(B(ncc_8, 6))",                  # inpainting cosine alone
    "(Z(B(pix1, 6)) + Z(B(ncc_8, 6))) / 2",
    "np.maximum(Z(B(pix1, 4)), Z(B(ncc_8, 4)))",
    "np.maximum(Z(B(pix1, 6)), Z(B(ncc_8, 6)))",
    "np.maximum(Z(B(pix1, 8)), Z(B(ncc_8, 8)))",
    "np.maximum(Z(B(pix1, 6)), Z(B((ncc_8 + ncc_16) / 2, 6)))",
    "np.maximum(Z(B(pix1, 6)), Z(B((ncc_4 + ncc_8) / 2, 6)))",  # the default: zmax, blocks 4,8, sigma 6
    "np.maximum(Z(B(pix1, 6)), Z(B((rc_4 + rc_8) / 2, 6)))",
]


def components(cfg: ssdnet.Config, image: np.ndarray) -> dict[str, np.ndarray]:
    x = to_working(image, cfg.size, torch.device("cpu"))
    model = fit(x, cfg, get_extractor(cfg, x.shape[0], torch.device("cpu")), torch.Generator().manual_seed(cfg.seed))
    X = x[None]
    out = {}
    with torch.inference_mode():
        out["pix1"] = reconstruction_error(model, X, [1])
        h, w = x.shape[-2:]
        fill = X.mean(dim=(2, 3), keepdim=True)
        for b in (4, 8, 16):
            m = checkerboard_masks(h, w, b, X.device)
            comp = (model(X * (1 - m) + fill * m) * m).sum(0, keepdim=True)
            out[f"l2_{b}"] = (comp - X).pow(2).mean(1, keepdim=True)
            out[f"ncc_{b}"] = 1 - PatchNCC().cosine_map(comp, X)
            out[f"rc_{b}"] = 1 - RandConv(x.shape[0]).cosine_map(comp, X)
    return {k: v[0, 0].numpy() for k, v in out.items()}


def blur(m: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_blur(torch.from_numpy(m.astype(np.float32))[None, None], sigma)[0, 0].numpy()


def zscore(m: np.ndarray) -> np.ndarray:
    return robust_z(torch.from_numpy(m)).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "datasets"))
    ap.add_argument("--set", required=True)
    ap.add_argument("--limit", type=int, default=0, help="evenly spaced subset of N images (0: all)")
    ap.add_argument("--option", action="append", default=[], metavar="FIELD=VALUE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--formula", action="append", help="score these instead of the built-in list")
    args = ap.parse_args()
    overrides = dict(o.split("=", 1) for o in args.option)
    cfg = ssdnet.resolve(threads=args.threads, **overrides)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    root = Path(args.datasets) / args.set
    ids = sorted(Path(p).stem for p in glob.glob(str(root / "images" / "*.png")))
    if args.limit and args.limit < len(ids):
        ids = [ids[i] for i in np.linspace(0, len(ids) - 1, args.limit).round().astype(int)]
    tag = "_".join(f"{k}{v}" for k, v in sorted(overrides.items())) or "default"
    folder = OUT / args.set / tag
    folder.mkdir(parents=True, exist_ok=True)
    for i in ids:
        if not (folder / f"{i}.npz").exists():
            t = time.perf_counter()
            np.savez(folder / f"{i}.npz", **components(cfg, ssdnet.load_image(root / "images" / f"{i}.png")))
            print(f"fitted {i} in {time.perf_counter() - t:.1f} s", flush=True)
    data = [(dict(np.load(folder / f"{i}.npz")), np.asarray(Image.open(root / "masks" / f"{i}.png")) > 0) for i in ids]
    rows = []
    for formula in args.formula or FORMULAS:
        scores, labels = [], []
        for comp, mask in data:
            env = {**comp, "np": np, "B": blur, "Z": zscore}
            m = torch.from_numpy(np.asarray(eval(formula, {}, env), dtype=np.float32))  # noqa: S307 - our own formulas
            m = F.interpolate(m[None, None], size=mask.shape, mode="bilinear", align_corners=False)[0, 0].numpy()
            scores.append(m.ravel())
            labels.append(mask.ravel())
        y, s = np.concatenate(labels), np.concatenate(scores)
        rows.append({"formula": formula, "pixel_auroc": roc_auc_score(y, s), "pixel_auprc": average_precision_score(y, s)})
        print(f"{formula:58s} AUROC {rows[-1]['pixel_auroc']:.4f}  AUPRC {rows[-1]['pixel_auprc']:.4f}", flush=True)
    (folder / "scores.json").write_text(json.dumps({"set": args.set, "images": len(ids), "config": overrides,
                                                    "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
