"""Fit once, score many: heatmap settings compared on the very same fitted networks.

Fits every image of a set once with the given config and keeps the networks under
bench/out/models/<set>/<tag>/ (``--models``; resumable: the folder keeps the config its networks
were fitted with, fit.json, and refuses another), then builds the heatmap of each image with
``ssdnet.predict.heatmap_and_share`` under each --variant (fields that only change the heatmap,
such as border_width, surface_sigma, surface_grain or the gate's; the list is HEATMAP_FIELDS) and
scores them with the evaluation's pooled metrics.
Fit-side choices (batch, steps...) are compared by running it once per fit config (--option).
``--dev N`` scores N images from outside the ``--limit`` test subset instead (the development
split of docs/RESULTS.md). ``--copy-network`` puts the identity in place of each fitted
network, so every hidden block keeps its fill: what the maps owe to the network and what to
the fill. ``--input-noise`` / ``--input-dropout`` damage every input first, as
bench/accuracy.py's robustness rows do (same pixels), and fit on the damaged images. Each
image's texture share (the gate's) is printed per variant; ``--predictability 0,1`` also
prints its predictability measured through each of these gate blurs (and keeps the per-image
values in the JSON).

    .venv/bin/python bench/heatmap_variants.py --set mvtec_ad_grid --variant border_width=0
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ssdnet  # noqa: E402
from bench.accuracy import fmt, input_label  # noqa: E402
from bench.selection import selected_samples  # noqa: E402
from ssdnet.api import _to_original, get_extractor, to_working  # noqa: E402
from ssdnet.evaluation import PooledMetrics, image_auroc, read_mask  # noqa: E402
from ssdnet.evaluation.robustness import degrade  # noqa: E402
from ssdnet.fit import fit  # noqa: E402
from ssdnet.model import UNet  # noqa: E402
from ssdnet.predict import gate_predictability, heatmap_and_share, inpainted  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "models"
CPU = torch.device("cpu")
# The fields a --variant may change: they act after the fit, so every variant reuses its networks.
HEATMAP_FIELDS = frozenset({"border_width", "border_floor", "smooth_sigma", "aggregation", "inpaint_blocks",
                            "infer_scales", "surface_sigma", "surface_windows", "surface_level", "surface_grain",
                            "surface_contrast", "surface_region", "gate_low", "gate_high", "gate_sigma",
                            "map_units", "surface_weights"})


def fit_record(cfg: ssdnet.Config, noise: float, dropout: float) -> dict:
    """What a kept network depends on: every config field but the heatmap's (the thread count
    too: another summation order is another fit) and the damage done to the input."""
    fields = {k: v for k, v in cfg.to_dict().items() if k not in HEATMAP_FIELDS | {"preset"}}
    return {**fields, "input_noise": noise, "input_dropout": dropout}


def record_changes(kept: dict, record: dict) -> list[str]:
    """Each field where ``record`` differs from the ``kept`` one (completed with
    ``ssdnet.complete_record``), as ``name old -> new``; a field ``kept`` lacks differs."""
    return [f"{k} {kept.get(k)!r} -> {v!r}" for k, v in record.items() if k not in kept or kept[k] != v]


def check_kept(folder: Path, record: dict) -> str | None:
    """Why the networks kept in ``folder`` are not this config's fits, or None (and the record
    written) when they are. The folder's name says only the options given, so a changed default
    or thread count would otherwise reuse networks fitted under another config."""
    path = folder / "fit.json"
    if path.exists():
        # Fields added since count at the values that gave its maps.
        kept = ssdnet.complete_record(json.loads(path.read_text()))
        changed = record_changes(kept, record)
        if changed:
            return f"its networks were fitted with another config ({', '.join(changed)})"
        return None
    if any(folder.glob("*.pt")):
        return "its networks have no record of the config they were fitted with (fit.json)"
    path.write_text(json.dumps(record, indent=1, sort_keys=True))
    return None


def fitted(cfg: ssdnet.Config, sample, folder: Path, noise: float = 0.0, dropout: float = 0.0
           ) -> tuple[UNet, np.ndarray, torch.Tensor]:
    image = degrade(ssdnet.load_image(sample.image, cfg.max_pixels), str(sample.image), noise, dropout)
    x = to_working(image, cfg.size, CPU)
    path = folder / f"{sample.id.replace('/', '__')}.pt"
    model = UNet(x.shape[0], cfg.width)
    if path.exists():
        model.load_state_dict(torch.load(path))
    else:
        t = time.perf_counter()
        model = fit(x, cfg, get_extractor(cfg, x.shape[0], CPU), torch.Generator().manual_seed(cfg.seed))
        torch.save(model.state_dict(), path)
        print(f"fitted {sample.id} in {time.perf_counter() - t:.1f} s", flush=True)
    return model.eval(), image, x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--set", required=True)
    ap.add_argument("--preset", default="fused")
    ap.add_argument("--option", action="append", default=[], metavar="FIELD=VALUE", help="fit config")
    ap.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE[;FIELD=VALUE]",
                    help="heatmap settings to score besides the config's own, repeatable")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="the stratified subset bench/accuracy.py --limit scores")
    ap.add_argument("--dev", type=int, default=None, metavar="N",
                    help="score a development subset instead: N images (stratified) among those NOT in the "
                         "--limit test subset, so heatmap choices made on it leave the test subset unseen")
    ap.add_argument("--copy-network", action="store_true",
                    help="replace every fitted network by the identity (a block keeps its fill)")
    ap.add_argument("--models", default=str(OUT), help="where the fitted networks are kept, one folder per set and config")
    ap.add_argument("--input-noise", type=float, default=0.0, help="Gaussian noise of this sigma on every input")
    ap.add_argument("--input-dropout", type=float, default=0.0, help="this share of every input's pixels set to 0")
    ap.add_argument("--predictability", default="", metavar="SIGMAS",
                    help="comma-separated gate blurs (gate_sigma) under which to print each image's predictability")
    args = ap.parse_args()
    sigmas = [float(v) for v in args.predictability.split(",") if v.strip()]
    fit_over = dict(o.split("=", 1) for o in args.option)
    cfg = ssdnet.resolve(preset=args.preset, threads=args.threads, **fit_over)
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    samples = selected_samples(ap, args)
    damage = input_label(args.input_noise, args.input_dropout)  # "noise 0.02, dropout 0.1" or "as is"
    damage_tag = [] if damage == "as is" else [damage.replace(", ", "_").replace(" ", "")]
    tag = "_".join([args.preset] + [f"{k}{v}" for k, v in sorted(fit_over.items())] + damage_tag)
    variants = [{}] + [dict(kv.split("=", 1) for kv in v.split(";")) for v in args.variant]
    not_heatmap = sorted({k for v in variants for k in v} - HEATMAP_FIELDS)
    if not_heatmap:
        print(f"error: --variant {', '.join(not_heatmap)}: not a heatmap setting; a fit setting is an --option "
              f"(one run per fit config)", file=sys.stderr)
        sys.exit(2)
    folder = Path(args.models) / args.set / tag
    folder.mkdir(parents=True, exist_ok=True)
    problem = check_kept(folder, fit_record(cfg, args.input_noise, args.input_dropout))
    if problem:
        print(f"error: {folder}: {problem}; pass --models elsewhere or remove the folder", file=sys.stderr)
        sys.exit(2)
    scored = [(v, ssdnet.resolve(cfg, **v), PooledMetrics(), [], []) for v in variants]
    predictabilities: dict[str, list[float]] = {f"{s:g}": [] for s in sigmas}
    for sample in samples:
        model, image, x = fitted(cfg, sample, folder, args.input_noise, args.input_dropout)
        if args.copy_network:
            model = torch.nn.Identity()
        shares = []
        for _, vcfg, pooled, maxima, defective in scored:
            m, share = heatmap_and_share(model, x, vcfg, get_extractor(vcfg, x.shape[0], CPU))
            shares.append(f"{share:.2f}")
            m = _to_original(m, image.shape[:2])
            mask = read_mask(sample.mask, m.shape)
            pooled.add(m, mask)
            maxima.append(float(m.max()))
            defective.append(mask is not None and bool(mask.any()))
        print(f"{sample.id}: texture share per variant {' '.join(shares)}", flush=True)
        if sigmas:
            with torch.inference_mode():
                composites = inpainted(model, x.unsqueeze(0), cfg.inpaint_block_list)
                extractor = get_extractor(cfg, x.shape[0], CPU)
                for s in sigmas:
                    predictabilities[f"{s:g}"].append(gate_predictability(composites, x.unsqueeze(0), extractor, s))
            print(f"{sample.id}: predictability per gate blur " +
                  " ".join(f"{k}: {v[-1]:.2f}" for k, v in predictabilities.items()), flush=True)
    rows = []
    for variant, _, pooled, maxima, defective in scored:
        row = {"variant": ", ".join(f"{k}={v}" for k, v in variant.items()) or "as configured",
               **pooled.result(), "image_auroc": image_auroc(maxima, defective)}
        rows.append(row)
        print(f"{row['variant']:40s} AUROC {row['pixel_auroc']:.4f}  AUPRC {row['pixel_auprc']:.4f}  "
              f"AUPRO {row['pixel_aupro']:.4f}  image AUROC {fmt(row['image_auroc'], '{:.3f}')}", flush=True)
    name = ("variants_copy" if args.copy_network else "variants") + (f"_dev{args.dev}" if args.dev else "") + ".json"
    for key, values in predictabilities.items():
        print(f"predictability through a {key} px blur: {min(values):.2f}..{max(values):.2f}", flush=True)
    (folder / name).write_text(json.dumps({"set": args.set, "config": cfg.to_dict(), "rows": rows,
                                           "predictability": predictabilities}, indent=1))


if __name__ == "__main__":
    main()
