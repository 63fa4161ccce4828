"""``ssdnet review``: a static, offline HTML report of a scanned store.

Only the top K images by score_max get pictures (PNG files under ``DIR/img/``, written once and
reused by later reports: their names hash the image id, its content hash and the drawing style);
every other image is a row of the JSON table embedded in the page, paged and filtered in the
browser. So a report of 50,000 images costs K map reads, not 50,000.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.exitcodes import Refused
from pipeline.flags import FLAG_VAR, Z_VAR, Rule, stored_rule
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
        "flag_cut": _finite(rule.cut_score()),
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


def table_rows(index: pd.DataFrame, ranks: dict[str, int]) -> list[list[Any]]:
    """Compact rows for the page's table: id, status, score_max, p99, z, flagged, seconds, error, rank."""
    def num(v: Any) -> float | None:
        return None if pd.isna(v) else float(f"{float(v):.6g}")

    return [[r.image, r.status, num(r.score_max), num(r.score_p99), num(getattr(r, Z_VAR)),
             bool(getattr(r, FLAG_VAR)), num(r.seconds), r.error, ranks.get(r.image, 0)]
            for r in index.itertuples(index=False)]


def write_report(store: str | os.PathLike, out: str | os.PathLike, top: int = 24,
                 threshold: float | None = None, max_side: int = 384) -> dict[str, Any]:
    """Write ``out/index.html`` and the top images' pictures; returns what was written."""
    from pipeline.export import index_table
    from pipeline.report_page import render_page
    from pipeline.layout import store_attrs

    if top < 0:
        raise Refused("--top must not be negative")
    started = time.perf_counter()
    store, out = os.fspath(store), Path(out)
    index = index_table(store)
    attrs = store_attrs(store)
    rule, flags = stored_rule(attrs)
    if threshold is not None:
        # A threshold given here marks the histogram only; the stored flags stay as the scan left them.
        rule = Rule(rule.z_cut, threshold, rule.scale, rule.centre, rule.spread)
    (out / IMG_DIR).mkdir(parents=True, exist_ok=True)
    ok = index[index["status"] == "ok"]
    chosen = ok.head(top)
    images = StoreImages(store) if len(chosen) else None
    gallery = []
    for rank, row in enumerate(chosen.itertuples(index=False), start=1):
        entry = _pictures(images, pd.Series(row._asdict()), out, max_side)
        gallery.append({"rank": rank, "id": row.image, "score_max": row.score_max, "score_p99": row.score_p99,
                        "score_mean": row.score_mean, "texture_share": _finite(row.texture_share),
                        "z": _finite(getattr(row, Z_VAR)),
                        "flagged": bool(getattr(row, FLAG_VAR)), "height": int(row.height),
                        "width": int(row.width), **entry})
    ranks = {g["id"]: g["rank"] for g in gallery}
    summary = run_summary(index, attrs, rule, flags)
    failed = index[index["status"] == "failed"].sort_values("image")
    html = render_page(store, summary, gallery, failed, table_rows(index, ranks), ok["score_max"].to_numpy(),
                       rule, above=threshold is not None)
    page = out / "index.html"
    tmp = page.with_name("index.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, page)
    return {"report": str(page), "images": summary["images"], "pictured": len(gallery),
            "flagged": summary["flagged"], "seconds": round(time.perf_counter() - started, 2)}
