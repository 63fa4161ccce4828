"""The review page's "new since last scan" section: what a morning review of a nightly scan wants.

Counts of what the last recorded scan added, changed, flagged and failed (pipeline/scans.py),
then its flagged and failed images and the rest by score, at most SHOWN rows in the page; the
whole list is ``ssdnet index STORE --since LAST``.
"""
from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import pandas as pd

from pipeline.flags import FLAG_SCORE, FLAG_VAR

SHOWN = 200


def _num(v: Any) -> str:
    return "&ndash;" if v is None or not np.isfinite(v) else f"{v:.4g}"


def since_html(scan: dict[str, Any] | None, new: pd.DataFrame, store: str) -> str:
    """``new``: the page's rows (image, status, FLAG_SCORE, FLAG_VAR, error) of the last scan,
    with its ``change`` column; ``scan``: that scan's log entry, None when none is recorded."""
    if scan is None:
        return ('<section id="since"><h2>New since last scan</h2><p class="muted">No scan recorded in this '
                'store (scanned by an earlier version).</p></section>')
    flagged = new[FLAG_VAR].to_numpy(bool)
    failed = (new["status"] == "failed").to_numpy()
    counts = [("added", int((new["change"] == "added").sum()), ""),
              ("changed", int((new["change"] == "changed").sum()), ""),
              ("flagged", int(flagged.sum()), "warn" if flagged.any() else ""),
              ("failed", int(failed.sum()), "bad" if failed.any() else "")]
    cards = '<div class="cards">' + "".join(f'<div class="card {c}"><b>{v}</b>{k}</div>' for k, v, c in counts) + "</div>"
    order = pd.concat([new[flagged].sort_values(FLAG_SCORE, ascending=False, kind="stable"),
                       new[failed & ~flagged].sort_values("image", kind="stable"),
                       new[~failed & ~flagged].sort_values(FLAG_SCORE, ascending=False, kind="stable")])
    rows = "".join(
        f'<tr{" class=flag" if r[FLAG_VAR] else ""}><td>{escape(str(r["image"]))}</td><td>{escape(str(r["change"]))}</td>'
        f'<td>{escape(str(r["status"]))}</td><td class="num">{_num(r[FLAG_SCORE])}</td>'
        f'<td>{"yes" if r[FLAG_VAR] else ""}</td><td>{escape(str(r["error"]))}</td></tr>'
        for _, r in order.head(SHOWN).iterrows())
    more = (f'<p class="muted">{len(order) - SHOWN} more: <code>ssdnet index {escape(store)} --since LAST</code></p>'
            if len(order) > SHOWN else "")
    table = (f'<table><thead><tr><th>image</th><th>change</th><th>status</th><th>{FLAG_SCORE}</th><th>flagged</th>'
             f'<th>error</th></tr></thead><tbody>{rows}</tbody></table>{more}' if len(order) else
             '<p class="muted">The last scan wrote no image (nothing new or changed).</p>')
    return (f'<section id="since"><h2>New since last scan (scan {scan["scan"]}, started '
            f'{escape(scan["started_at"][:19])} UTC)</h2>{cards}<p></p>{table}</section>')
