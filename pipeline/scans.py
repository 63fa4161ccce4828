"""The store's scan log, and what a scan added, changed, flagged or failed ("new since last scan").

Each scan records its start in the store's attributes (``scans``: the last KEEP scans, oldest
first): its number, start time and how many images the store held. A row the scan writes gets a
``finished_at`` at or after that start, so the rows of "the last scan" are those finished since
it started. Which of them it *added* and which it *changed* (rewrote: new bytes, or failed
before) is told by the ids the store held at its start, kept for the last scan only as the
sorted 64-bit hashes of those ids in the root array KNOWN (8 bytes an image, rewritten by each
scan): not by row numbers, which move when an image changes shape group. The scan's *flagged*
and *failed* images are those of its rows that are flagged or failed now.

finished_at comes from the worker's clock: a worker whose clock runs behind the client's by
more than the scan's first fit could leave a row out.

Light like the rest of the reading side: numpy, pandas and zarr only.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import zarr

from pipeline.exitcodes import Refused
from pipeline.layout import STATUS, TIME_VAR, quiet_zarr, store_attrs

ATTR = "scans"
KNOWN = "scan_known"
KEEP = 100
LAST = "LAST"


def id_hashes(ids: Any) -> np.ndarray:
    """64-bit hashes of image ids (pandas' hash_array: vectorised, stable across runs)."""
    return pd.util.hash_array(np.asarray(ids, dtype=object)) if len(ids) else np.array([], dtype=np.uint64)


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _iso(ns: int) -> str:
    # Truncated to microseconds, never rounded up: --since <a scan's started_at> finds that scan.
    return (EPOCH + timedelta(microseconds=ns // 1000)).isoformat(timespec="microseconds")


def record_scan_start(writer: Any) -> dict[str, Any]:
    """Append this scan's start to the store's log (``writer``: the scan's open StoreWriter,
    before it writes a row). Returns the entry."""
    now = time.time_ns()
    log = list(writer.root.attrs.get(ATTR, []))
    entry = {"scan": (log[-1]["scan"] + 1) if log else 1, "started_at": _iso(now), "started_ns": now,
             "images_before": len(writer.known)}
    known = np.sort(id_hashes(list(writer.known)))
    writer.root.create_array(KNOWN, shape=known.shape, chunks=(max(1, min(known.size, 1 << 20)),), dtype="uint64",
                             dimension_names=[KNOWN], overwrite=True)[:] = known
    writer.root.attrs[ATTR] = [*log[-(KEEP - 1):], entry]
    return entry


def scan_log(store: str | os.PathLike) -> list[dict[str, Any]]:
    """The recorded scans, oldest first (empty for a store scanned before scans were recorded)."""
    return list(store_attrs(store).get(ATTR, []))


def resolve_since(store: str | os.PathLike, since: str) -> tuple[int, dict[str, Any] | None]:
    """``since`` (LAST, or an ISO 8601 time; without a zone, UTC) as nanoseconds since the epoch,
    and the first recorded scan started at or after it (what tells added from changed), if any."""
    log = scan_log(store)
    if since.upper() == LAST:
        if not log:
            raise Refused(f"--since LAST: {os.fspath(store)} has no recorded scan (scanned by an earlier "
                          "version); give a time instead, e.g. --since 2026-12-01T00:00")
        return int(log[-1]["started_ns"]), log[-1]
    try:
        when = datetime.fromisoformat(since)
    except ValueError:
        raise Refused(f"--since {since!r}: not LAST or an ISO 8601 time (2026-12-01T06:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    # Exact, not through a float: a scan's own started_at (microseconds) must find that scan.
    ns = (when - EPOCH) // timedelta(microseconds=1) * 1000
    return ns, next((s for s in log if s["started_ns"] >= ns), None)


def new_rows(store: str | os.PathLike, since: str) -> pd.DataFrame:
    """The done rows finished at or after ``since``: columns image and change (added, changed,
    or "" where the scan's ids at its start are not kept), sorted by image."""
    ns, scan = resolve_since(store, since)
    parts = []
    with quiet_zarr():
        root = zarr.open_group(os.fspath(store), mode="r")
        last = scan is not None and scan["scan"] == scan_log(store)[-1]["scan"] and KNOWN in root.array_keys()
        known = np.asarray(root[KNOWN][:]) if last else None
        for name in sorted(root.group_keys()):
            g = root[name]
            if not all(v in g for v in ("image", STATUS, TIME_VAR)):
                continue
            finished = np.asarray(g[TIME_VAR][:], dtype=np.int64)
            rows = np.flatnonzero(finished >= ns)
            if not rows.size:
                continue
            ids = np.asarray(g["image"][:])[rows].astype(object)
            status = np.asarray(g[STATUS][:])[rows].astype(object)
            done = (ids != "") & ((status == "ok") | (status == "failed"))
            rows, ids = rows[done], ids[done]
            if scan is not None and scan["images_before"] == 0:
                change = np.full(ids.shape, "added", dtype=object)
            elif known is not None:
                h = id_hashes(ids)
                at = np.minimum(np.searchsorted(known, h), max(known.size - 1, 0))
                seen = (known[at] == h) if known.size else np.zeros(h.shape, bool)
                change = np.where(seen, "changed", "added").astype(object)
            else:
                change = np.full(ids.shape, "", dtype=object)  # an earlier scan's ids are not kept
            parts.append(pd.DataFrame({"image": ids, "change": change}))
    if not parts:
        return pd.DataFrame({"image": pd.Series([], dtype=object), "change": pd.Series([], dtype=object)})
    return pd.concat(parts, ignore_index=True).drop_duplicates("image").sort_values("image", ignore_index=True)
