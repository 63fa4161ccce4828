"""``ssdnet eval DATASET``: pooled-pixel metrics of a method on a set with masks."""
from __future__ import annotations

import json

import click

from pipeline import exitcodes
from pipeline.options import MethodCommand, config_from, config_options
from ssdnet.evaluation import METHODS, DatasetError, evaluate
from ssdnet.imageio import ImageError

_ROWS = (("images", "n_images", "d"), ("pixel AUROC", "pixel_auroc", ".4f"), ("pixel AUPRC", "pixel_auprc", ".4f"),
         ("pixel AUPRO@0.3", "pixel_aupro", ".4f"), ("pixel F1-max", "pixel_f1_max", ".4f"),
         ("image AUROC", "image_auroc", ".4f"), ("seconds/image", "seconds_per_image", ".2f"))


def render(result: dict) -> str:
    head = f"{result['method']} on {result['dataset']}"
    if result["preset"]:
        head += f" (preset {result['preset']}, features {result['feature_extractor']})"
    lines = [head]
    for label, key, fmt in _ROWS:
        value = result[key]
        lines.append(f"  {label:<16} {'n/a' if value is None else format(value, fmt)}")
    return "\n".join(lines)


@click.command("eval", cls=MethodCommand)
@click.argument("dataset", type=click.Path())
@click.option("--method", type=click.Choice(METHODS), default="ssdnet", show_default=True,
              help="SSDnet or one of the classical baselines (those ignore the config flags).")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Evaluate a fixed subset of N images spread over the defect classes.")
@click.option("--per-image", "per_image", type=click.Path(dir_okay=False), default=None,
              help="Write one CSV row per image with its own metrics.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@config_options
def eval_cmd(dataset: str, method: str, limit: int | None, per_image: str | None, as_json: bool, **kwargs) -> int:
    """Run METHOD on every image of DATASET and score the maps against its masks.

    DATASET is images/ + masks/ (mask 0/255 or 0/1, missing mask = defect-free) or an MVTec AD category
    folder (test/<defect>/, ground_truth/<defect>/). Metrics pool all pixels of the set.
    """
    cfg = config_from(kwargs) if method == "ssdnet" else None
    try:
        result = evaluate(dataset, method, cfg, limit, per_image)
    except (DatasetError, ImageError) as exc:
        # Metrics over part of a set would pass for the whole set's: one bad image refuses the run.
        raise exitcodes.Refused(str(exc)) from None
    click.echo(json.dumps(result) if as_json else render(result))
    return exitcodes.OK
