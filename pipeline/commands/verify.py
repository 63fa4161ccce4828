"""``ssdnet verify STORE [--repair]``: is the store what its index says?"""
from __future__ import annotations

import json
import os

import click

from pipeline import exitcodes


@click.command("verify")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--repair", is_flag=True, help="Rewrite damaged metadata from the store's consolidated copy, "
              "remove index chunks that cannot be decoded and mark the rows they held and rows whose map is "
              "damaged failed, so that the next scan refits them.")
@click.option("--json", "json_out", is_flag=True, help="Print the report as one JSON object.")
def verify_cmd(store: str, repair: bool, json_out: bool) -> int:
    """Check every metadata file of STORE (there and parsing), every index chunk (decodes; a done
    row has its id) and every ok row's map (its chunk is there, decodes, holds values
    and matches the checksum written with the row), thumbnail and browse level (decode).

    Exit 0: intact, or with --repair nothing damaged is left (rows marked failed are refitted by
    the next scan); 3: damage found, or left that --repair cannot rebuild.
    """
    from pipeline.integrity import verify

    if not os.path.isfile(os.path.join(store, "zarr.json")):
        raise exitcodes.Refused(f"{store}: not a Zarr store (no zarr.json)")
    report = verify(store, repair=repair)
    if json_out:
        click.echo(json.dumps(report.to_dict()))
    else:
        for path in report.rebuilt:
            click.echo(f"rebuilt: {path} (from the consolidated metadata)")
        for path, why in report.metadata:
            click.echo(f"damaged: {path}: {why}" + ("" if repair else f"; run ssdnet verify --repair {store}"))
        for c in report.chunks:
            if c.get("mended"):
                click.echo(f"mended: {c['file']}: {c['why']}; its {c.get('marked', 0)} row(s) marked for refit "
                           "by the next scan")
            else:
                hint = "" if repair else f"; run ssdnet verify --repair {store}"
                click.echo(f"damaged: {c['file']}: {c['why']}{hint}")
        for row in report.rows:
            fate = "marked failed, refitted by the next scan" if repair else "damaged"
            click.echo(f"{fate}: {row['id']}: {row['why']}")
        state = "intact" if not (report.metadata or report.rows or report.rebuilt or report.chunks) else \
            "repaired" if report.clean else "damaged"
        click.echo(f"{store}: {state}; {report.rows_checked} ok rows checked")
    return exitcodes.OK if report.clean else exitcodes.SOME_FAILED
