"""``ssdnet review``, ``ssdnet show`` and ``ssdnet index``: looking at a scanned store."""
from __future__ import annotations

import json

import click


@click.command("review")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Folder of the report.")
# "score_p99" is pipeline.flags.FLAG_SCORE, written out: importing flags would load zarr at CLI start.
@click.option("--top", type=int, default=24, show_default=True,
              help="Images pictured, highest score_p99 (the flags' score) first.")
@click.option("--threshold", type=float, default=None,
              help="Mark this score_p99 (absolute) in the histogram instead of the scan's flag cut-off.")
def review_cmd(store: str, out: str, top: int, threshold: float | None) -> int:
    """Write OUT/index.html: an offline report of STORE (summary, histogram, top images, failures,
    every image in a paged table). Pictures are written once into OUT/img/ and reused."""
    from pipeline.integrity import refuse_damage
    from pipeline.review import write_report

    # Damage met anywhere in the store's reading (exit 2, naming it and verify --repair), not a traceback.
    with refuse_damage(store):
        result = write_report(store, out, top=top, threshold=threshold)
    click.echo(json.dumps(result))
    return 0


@click.command("show")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.argument("image_id")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="The PNG to write.")
def show_cmd(store: str, image_id: str, out: str) -> int:
    """Write one image's heatmap overlay (map resolution, hottest region outlined) to OUT."""
    from pipeline.integrity import refuse_damage
    from pipeline.pictures import save_overlay

    with refuse_damage(store):
        region = save_overlay(store, image_id, out)
    click.echo(f"{out}: hottest region x {region.x0}-{region.x1}, y {region.y0}-{region.y1}")
    return 0


@click.command("export")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.argument("image_ids", nargs=-1, required=True)
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="The folder to write into.")
def export_cmd(store: str, image_ids: tuple[str, ...], out: str) -> int:
    """Write each image's map (float32 TIFF and colours), overlay and source image at full size.

    IMAGE_IDS may be unique tails of ids (img_05.png for arch/img_05.png)."""
    from pipeline.full_size import export_images
    from pipeline.integrity import refuse_damage

    with refuse_damage(store):
        exported = export_images(store, list(image_ids), out)
    for done in exported:
        click.echo(f"{done.image_id}: {len(done.files)} files in {out}"
                   + ("" if done.source == "source" else f" ({done.source})"))
    return 0


@click.command("index")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "json", "parquet"]), default="csv", show_default=True)
@click.option("--sort", default="score_p99", show_default=True,
              help="Index variable to sort by, descending (default: the flags' score).")
@click.option("--failed", is_flag=True, help="Only the failed images.")
@click.option("--since", default=None, metavar="LAST|TIME",
              help="Only what the last scan (LAST) or scans since TIME (ISO 8601, UTC without a zone) added, "
                   "changed, flagged or failed; adds a change column (added or changed).")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None, help="File to write [stdout].")
def index_cmd(store: str, fmt: str, sort: str, failed: bool, since: str | None, out: str | None) -> int:
    """Export STORE's index, one row per image (flags included)."""
    from pipeline.export import index_table, write_table
    from pipeline.integrity import refuse_damage

    if fmt == "parquet" and not out:
        raise click.UsageError("--format parquet needs --out FILE (it is binary)")
    with refuse_damage(store):
        table = index_table(store, sort, failed, since)
    write_table(table, fmt, out)
    return 0
