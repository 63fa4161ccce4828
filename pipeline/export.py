"""``ssdnet index``: the store's index as one table (CSV, JSON or Parquet), one row per image."""
from __future__ import annotations

import json
import math
import os
import sys
from typing import IO, Any

import pandas as pd

from pipeline.exitcodes import Refused
from pipeline.flags import FLAG_SCORE

FORMATS = ("csv", "json", "parquet")


def index_table(store: str | os.PathLike, sort: str = FLAG_SCORE, failed: bool = False,
                since: str | None = None) -> pd.DataFrame:
    """Every image of ``store`` as a row, sorted by ``sort`` descending (NaN last, ties by id).
    ``since`` (LAST or an ISO time): only the rows finished since, with a ``change`` column
    (added or changed; pipeline/scans.py)."""
    from pipeline.results import open_index

    if not os.path.exists(os.path.join(os.fspath(store), "zarr.json")):
        raise Refused(f"{os.fspath(store)} is not a scan store")
    df = open_index(store).to_dataframe().reset_index()
    if sort not in df.columns:
        raise Refused(f"unknown --sort {sort!r}; one of {', '.join(df.columns)}")
    if failed:
        df = df[df["status"] == "failed"]
    if since is not None:
        from pipeline.scans import new_rows

        df = df.merge(new_rows(store, since), on="image", how="inner")
    # Two stable sorts: by id first so equal values keep a fixed order.
    df = df.sort_values("image", kind="stable")
    return df.sort_values(sort, ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain JSON values: NaN as null, timestamps as ISO 8601 with nanoseconds."""
    cols: dict[str, list[Any]] = {}
    for name in df.columns:
        col = df[name]
        if col.dtype.kind == "M":
            cols[name] = [None if pd.isna(t) else t.isoformat() for t in col]
        elif col.dtype.kind == "f":
            cols[name] = [v if math.isfinite(v) else None for v in col.tolist()]
        else:
            cols[name] = col.tolist()
    return [dict(zip(cols, row)) for row in zip(*cols.values())]


def write_table(df: pd.DataFrame, fmt: str, out: str | None = None, stream: IO[str] | None = None) -> None:
    """Write ``df`` to ``out`` (a path) or, for csv and json, to ``stream`` (default: stdout)."""
    if fmt not in FORMATS:
        raise Refused(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "parquet":
        if not out:
            raise Refused("--format parquet needs --out FILE (it is binary)")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise Refused("--format parquet needs pyarrow: pip install 'ssdnet[parquet]'") from None
        df.to_parquet(out, index=False)
        return
    target = open(out, "w", encoding="utf-8", newline="") if out else (stream or sys.stdout)
    try:
        if fmt == "csv":
            # Timestamps keep their nanoseconds: read_csv(parse_dates=...) gives back the same instants.
            df.to_csv(target, index=False)
        else:
            # dumps, not dump: one C-encoded string is several times faster than dump's chunks.
            target.write(json.dumps(records(df), ensure_ascii=False))
            target.write("\n")
    finally:
        if out:
            target.close()
