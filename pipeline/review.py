"""``ssdnet review``: a static, offline HTML report of a scanned store.

Only the top K images by FLAG_SCORE (score_p99) get pictures (PNG files under ``DIR/img/``,
written once and reused by later reports: their names hash the image id, its content hash and the
drawing style); every image is a row of the table, whose rows are script files next to the page
(``rows-<stamp>/``, pipeline/review_rows.py) read as the reader pages. So a report of 1,000,000
images costs K map reads and about 80 bytes of row files an image, and the page paints before
any row is read.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.exitcodes import Refused
from pipeline.flags import FLAG_SCORE, FLAG_VAR, Z_VAR, Rule, stored_rule
from pipeline.layout import bound_config
from pipeline.pictures import StoreImages, draw, picture_key, write_once

IMG_DIR = "img"
KINDS = ("thumb", "heat", "overlay")
MIN_SIDE = 192


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def run_summary(index: pd.DataFrame, attrs: dict[str, Any], rule: Rule, flags: dict[str, Any]) -> dict[str, Any]:
    ok = index[index["status"] == "ok"]
    done = index[index["status"].isin(["ok", "failed"])]
    times = done["finished_at"].dropna()
    return {
        "images": int(len(index)), "ok": int(len(ok)), "failed": int((index["status"] == "failed").sum()),
        "pending": int(len(index) - len(done)), "flagged": int(index[FLAG_VAR].sum()),
        "flag_rule": rule.describe() if flags else "never flagged (scanned before flags existed)",
        "flag_cut": _finite(rule.cut_score()), "flag_score": rule.score,
        "config": bound_config(attrs), "feature_extractor": attrs.get("feature_extractor", ""),
        "ssdnet_version": attrs.get("ssdnet_version", ""), "seed": attrs.get("seed"),
        "map_dtype": attrs.get("map_dtype", ""),
        "fit_seconds_total": round(float(done["seconds"].sum()), 2),
        "fit_seconds_median": _finite(ok["seconds"].median()) if len(ok) else None,
        "first_finished": times.min().isoformat(timespec="seconds") if len(times) else "",
        "last_finished": times.max().isoformat(timespec="seconds") if len(times) else "",
    }


def _pictures(images: StoreImages, row: pd.Series, out: Path, max_side: int) -> dict[str, Any]:
    """Write (once) one top image's pictures; its entry for the page."""
    key = picture_key(row["image"], row["sha256"])
    paths = {k: out / IMG_DIR / f"{key}.{k}.png" for k in KINDS}
    meta = out / IMG_DIR / f"{key}.json"
    if meta.exists() and all(p.exists() for p in paths.values()):
        info = json.loads(meta.read_text())
    else:
        m, thumb = images.load(row["image"])
        pics = draw(m, thumb, max_side, MIN_SIDE)
        for kind, path in paths.items():
            write_once(path, lambda kind=kind: getattr(pics, kind))
        info = {"region": asdict(pics.region), "lo": pics.lo, "hi": pics.hi}
        meta.write_text(json.dumps(info))
    return {**info, "src": {k: f"{IMG_DIR}/{p.name}" for k, p in paths.items()}}


def _frame(index: Any) -> pd.DataFrame:
    """What the page needs of every row, from open_index's Dataset without loading its lazy
    string columns: errors are read for the rows that are not ok only."""
    status = index["status"].values
    cols = {"image": index["image"].values, "status": status}
    for var in ("score_max", "score_p99", "score_mean", Z_VAR, FLAG_VAR, "seconds", "finished_at"):
        cols[var] = index[var].values
    error = np.full(status.shape, "", dtype=object)
    bad = np.flatnonzero(status != "ok")
    if bad.size:
        error[bad] = index["error"].isel(image=bad).values
    cols["error"] = error
    return pd.DataFrame(cols)


def _since(store: str, frame: pd.DataFrame) -> str:
    """The "new since last scan" section: the last recorded scan's rows, from the page's frame."""
    from pipeline.report_since import since_html
    from pipeline.scans import LAST, new_rows, scan_log

    log = scan_log(store)
    if not log:
        return since_html(None, frame.iloc[:0], store)
    return since_html(log[-1], frame.merge(new_rows(store, LAST), on="image", how="inner"), store)


def write_report(store: str | os.PathLike, out: str | os.PathLike, top: int = 24,
                 threshold: float | None = None, max_side: int = 384,
                 rows_per_file: int | None = None) -> dict[str, Any]:
    """Write ``out/index.html``, its row files and the top images' pictures; returns what was written."""
    from pipeline.layout import store_attrs
    from pipeline.report_page import render_page
    from pipeline.results import open_index
    from pipeline.review_rows import ROWS_PER_FILE, prune_rows, ranked, table_order, write_rows

    if top < 0:
        raise Refused("--top must not be negative")
    started = time.perf_counter()
    store, out = os.fspath(store), Path(out)
    if not os.path.exists(os.path.join(store, "zarr.json")):
        raise Refused(f"{store} is not a scan store")
    index = open_index(store)
    frame = _frame(index)
    attrs = store_attrs(store)
    rule, flags = stored_rule(attrs)
    # The histogram is of the score the cut-off is in: the stored rule's (score_max in stores
    # flagged before FLAG_SCORE), or FLAG_SCORE for a --threshold given here.
    score = rule.score
    if threshold is not None:
        # A threshold given here marks the histogram only; the stored flags stay as the scan left them.
        rule = Rule(rule.z_cut, threshold, rule.scale, rule.centre, rule.spread, FLAG_SCORE)
        score = FLAG_SCORE
    (out / IMG_DIR).mkdir(parents=True, exist_ok=True)
    ok = frame[frame["status"] == "ok"]
    chosen = ranked(ok).head(top)
    images = StoreImages(store) if len(chosen) else None
    # The few columns only pictured rows need, read for those rows (lazy columns: a few chunks).
    extra = index[["sha256", "texture_share", "height", "width"]].isel(image=chosen.index.to_numpy()).load()
    gallery = []
    for rank, (pos, row) in enumerate(chosen.iterrows(), start=1):
        more = extra.isel(image=rank - 1)
        entry = _pictures(images, pd.Series({"image": row["image"], "sha256": str(more["sha256"].values)}),
                          out, max_side)
        gallery.append({"rank": rank, "id": row["image"], "score_max": row["score_max"],
                        "score_p99": row["score_p99"], "score_mean": row["score_mean"],
                        "texture_share": _finite(more["texture_share"].values), "z": _finite(row[Z_VAR]),
                        "flagged": bool(row[FLAG_VAR]), "height": int(more["height"].values),
                        "width": int(more["width"].values), **entry})
    summary = run_summary(frame, attrs, rule, flags)
    table = table_order(frame.assign(rank=0))
    ranks = pd.Series({g["id"]: g["rank"] for g in gallery}, dtype="int64")
    table.frame["rank"] = table.frame["image"].map(ranks).fillna(0).astype("int64")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    per = rows_per_file or ROWS_PER_FILE
    rows_dir, files = write_rows(out, table, stamp, per)
    failed = frame[frame["status"] == "failed"].sort_values("image")
    html = render_page(store, summary, gallery, failed,
                       {"dir": rows_dir, "per": per, "files": files, "sections": table.sections},
                       ok[score].to_numpy(), rule, above=threshold is not None, score=score,
                       since=_since(store, frame))
    page = out / "index.html"
    tmp = page.with_name("index.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, page)
    prune_rows(out, rows_dir)
    return {"report": str(page), "images": summary["images"], "pictured": len(gallery),
            "flagged": summary["flagged"], "rows_files": files, "seconds": round(time.perf_counter() - started, 2)}
