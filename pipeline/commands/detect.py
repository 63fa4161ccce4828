"""``ssdnet detect IMAGE... --out DIR``."""
from __future__ import annotations

import json

import click

from pipeline import exitcodes
from pipeline.detect import detect_files
from pipeline.options import MethodCommand, config_from, config_options


@click.command("detect", cls=MethodCommand)
@click.argument("images", nargs=-1, required=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output directory.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@config_options
def detect_cmd(images: tuple[str, ...], out_dir: str, as_json: bool, **kwargs) -> int:
    """Fit SSDnet to each IMAGE; write DIR/<stem>.npy (the heatmap) and DIR/<stem>_overlay.png."""
    cfg = config_from(kwargs)
    failed = 0
    for rec in detect_files(list(images), out_dir, cfg):
        if "error" in rec:
            failed += 1
            click.echo(f"error: {rec['path']}: {rec['error']}", err=True)
        if as_json:
            click.echo(json.dumps(rec))
        elif "error" not in rec:
            click.echo(f"{rec['path']}: max {rec['score_max']:.4g}  p99 {rec['score_p99']:.4g}  "
                       f"{rec['seconds']:.1f}s -> {rec['map']}")
    return exitcodes.SOME_FAILED if failed else exitcodes.OK
