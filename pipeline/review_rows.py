"""The review table's rows as small script files next to the page, read by the page on demand.

A page that embeds the whole index as JSON does not survive a million rows (about 100 MB the
browser parses before it paints). Instead the rows go, in table order, into
``rows-<stamp>/r-00000.js``, ``r-00001.js``, ... of ROWS_PER_FILE rows each; each file is one
call, ``ssdnetRows(k, {column: [values]})``, and the page adds a ``<script src>`` for a file
when a page of the table needs it. A script tag, not ``fetch``: browsers refuse ``fetch`` of a
neighbouring file opened from disk (file://), never a script. The stamp makes each report's
files its own, so a page never mixes its rows with an older report's.

Table order: flagged images (highest score first), failed ones (by id), the other ok images
(highest score first), then rows not yet done. The page's status filter then reads a range of
rows, not all of them.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.flags import FLAG_SCORE, FLAG_VAR, Z_VAR

ROWS_PER_FILE = 5000
ROWS_PREFIX = "rows-"
# Columns of the page's table, in the order shown; "rank" links a pictured row to its details.
COLUMNS = ("image", "status", "score_max", "score_p99", Z_VAR, FLAG_VAR, "seconds", "error", "rank")


@dataclass
class Table:
    frame: pd.DataFrame       # COLUMNS, in table order
    sections: dict[str, int]  # rows per section, in order: flagged, failed, ok (unflagged), pending


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows by FLAG_SCORE descending, ties (and NaN, last) by image id."""
    frame = frame.sort_values("image", kind="stable")
    return frame.sort_values(FLAG_SCORE, ascending=False, kind="stable", na_position="last")


def table_order(frame: pd.DataFrame) -> Table:
    """``frame`` (one row per image, COLUMNS but rank) in table order, with its section sizes."""
    flagged = frame[FLAG_VAR].to_numpy(bool)
    status = frame["status"].to_numpy(object)
    parts = {"flagged": ranked(frame[flagged]),
             "failed": frame[(status == "failed") & ~flagged].sort_values("image", kind="stable"),
             "ok": ranked(frame[(status == "ok") & ~flagged]),
             "pending": frame[(status != "ok") & (status != "failed") & ~flagged].sort_values("image", kind="stable")}
    return Table(pd.concat(list(parts.values()), ignore_index=True), {k: len(v) for k, v in parts.items()})


def _numbers(values: np.ndarray) -> str:
    """A JS array of numbers at 6 significant digits, NaN as null: far shorter than repr's 17."""
    values = np.asarray(values, dtype=np.float64)
    text = np.char.mod("%.6g", values).astype(object)
    text[~np.isfinite(values)] = "null"
    return "[" + ",".join(text) + "]"


def _script(k: int, part: pd.DataFrame) -> str:
    cols = []
    for name in COLUMNS:
        col = part[name].to_numpy()
        if name in ("image", "status", "error"):
            cols.append(f'"{name}":{json.dumps([str(v) for v in col], ensure_ascii=False)}')
        elif name == FLAG_VAR:
            cols.append(f'"{name}":[{",".join("1" if v else "0" for v in col)}]')
        elif name == "rank":
            cols.append(f'"{name}":[{",".join(str(int(v)) for v in col)}]')
        else:
            cols.append(f'"{name}":{_numbers(col)}')
    return f"ssdnetRows({k},{{{','.join(cols)}}});\n"


def write_rows(out: Path, table: Table, stamp: str, per: int = ROWS_PER_FILE) -> tuple[str, int]:
    """Write the row files into ``out/rows-<stamp>/``; (that folder's name, number of files).
    Row folders of earlier reports are removed after the page is in place (see prune_rows)."""
    name = f"{ROWS_PREFIX}{stamp}"
    folder = out / name
    tmp = out / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = len(table.frame)
    files = max(1, -(-n // per))
    for k in range(files):
        part = table.frame.iloc[k * per: (k + 1) * per]
        (tmp / f"r-{k:05d}.js").write_text(_script(k, part), encoding="utf-8")
    tmp.rename(folder)  # whole or absent: a page never points at half a folder
    return name, files


def prune_rows(out: Path, keep: str) -> None:
    """Remove row folders other than ``keep`` (earlier reports'; the page no longer uses them)."""
    for old in out.glob(f"{ROWS_PREFIX}*"):
        if old.is_dir() and old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
