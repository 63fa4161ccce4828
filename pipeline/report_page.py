"""The review report's one HTML page: inline CSS and JS, pictures as relative PNG paths.

Nothing is fetched (a browser refuses ``fetch`` of a neighbouring file opened from disk): the
table's rows are script files next to the page (pipeline/report_table.py, review_rows.py).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from pipeline.flags import FLAG_SCORE, Rule
from pipeline.histogram import histogram_svg
from pipeline.report_table import JS, table_html
from ssdnet.overlay import colormap

FAILED_SHOWN = 200

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
header{background:#1d2430;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#b9c2d0;word-break:break-all}
main{padding:8px 24px 40px;max-width:1400px}section{margin:22px 0}h2{font-size:17px;margin:0 0 10px}
.cards{display:flex;gap:10px;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;border-radius:6px;
padding:8px 14px;min-width:90px}.card b{display:block;font-size:22px}.card.bad b{color:#b3261e}
.card.warn b{color:#c25e00}table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#eceae4;cursor:default}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#777}.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.tile{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px}
.tile.flag{border-color:#b3261e;box-shadow:0 0 0 1px #b3261e}.pair{display:flex;gap:4px}
.pair img{width:50%;image-rendering:pixelated;background:#000}.id{font-weight:600;word-break:break-all}
.badge{display:inline-block;background:#b3261e;color:#fff;border-radius:3px;padding:0 5px;font-size:12px}
.detail{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px;margin:12px 0}
.detail .row{display:flex;gap:12px;flex-wrap:wrap;align-items:flex-start}.detail figure{margin:0}
.detail img{width:300px;image-rendering:pixelated;background:#000}figcaption{font-size:12px;color:#555}
.cbar{width:300px;height:12px;border:1px solid #999}.cbar-l{display:flex;justify-content:space-between;
width:302px;font-size:12px}svg.hist text{font-size:11px;fill:#333}svg.hist .bar{fill:#5b7aa6}
svg.hist .bar.hot{fill:#b3261e}svg.hist .axis{stroke:#333}svg.hist .cut{stroke:#b3261e;stroke-width:2;
stroke-dasharray:4 3}svg.hist .cutlabel{fill:#b3261e}.controls{display:flex;gap:8px;align-items:center;
margin-bottom:8px;flex-wrap:wrap}tr.flag td:first-child{border-left:4px solid #b3261e}
details pre{background:#fff;border:1px solid #ddd;padding:8px;max-height:300px;overflow:auto}
a{color:#1a56a8}
"""

def _num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "&ndash;"
    return f"{v:.4g}" if isinstance(v, float) else escape(str(v))


def _cards(s: dict[str, Any]) -> str:
    cards = [("images", s["images"], ""), ("ok", s["ok"], ""), ("failed", s["failed"], "bad" if s["failed"] else ""),
             ("flagged", s["flagged"], "warn" if s["flagged"] else ""), ("pending", s["pending"], "")]
    return '<div class="cards">' + "".join(f'<div class="card {c}"><b>{v}</b>{k}</div>' for k, v, c in cards) + "</div>"


def _facts(s: dict[str, Any]) -> str:
    facts = [("feature extractor", s["feature_extractor"]), ("ssdnet version", s["ssdnet_version"]),
             ("seed", s["seed"]), ("map dtype", s["map_dtype"]), ("flag rule", s["flag_rule"]),
             (f"flag cut-off ({s['flag_score']})", s["flag_cut"]), ("fit time, total (s)", s["fit_seconds_total"]),
             ("fit time, median per image (s)", s["fit_seconds_median"]),
             ("first / last finished (UTC)", f"{s['first_finished']} / {s['last_finished']}")]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{_num(v)}</td></tr>" for k, v in facts)
    config = escape(json.dumps(s["config"], indent=1, sort_keys=True))
    return f"<table>{rows}</table><details><summary>configuration</summary><pre>{config}</pre></details>"


def _gallery(gallery: list[dict[str, Any]]) -> str:
    tiles = []
    for g in gallery:
        badge = ' <span class="badge">flagged</span>' if g["flagged"] else ""
        tiles.append(
            f'<div class="tile{" flag" if g["flagged"] else ""}"><div><a href="#detail-{g["rank"]}">#{g["rank"]}</a> '
            f'<span class="id">{escape(g["id"])}</span>{badge}</div><div class="pair">'
            f'<img src="{escape(g["src"]["thumb"])}" alt="thumbnail" loading="lazy">'
            f'<img src="{escape(g["src"]["overlay"])}" alt="overlay" loading="lazy"></div>'
            f'<div class="muted">{FLAG_SCORE} {_num(g[FLAG_SCORE])} &middot; z {_num(g["z"])}</div></div>')
    return f'<div class="gallery">{"".join(tiles)}</div>' if tiles else '<p class="muted">No ok images.</p>'


def _colour_bar(lo: float, hi: float) -> str:
    stops = colormap(np.linspace(0, 1, 9)[None, :])[0]
    grad = ",".join(f"rgb({r},{g},{b})" for r, g, b in stops)
    return (f'<div class="cbar" style="background:linear-gradient(to right,{grad})"></div>'
            f'<div class="cbar-l"><span>{lo:.3g}</span><span>{(lo + hi) / 2:.3g}</span><span>{hi:.3g}</span></div>')


def _details(gallery: list[dict[str, Any]]) -> str:
    out = []
    for g in gallery:
        r = g["region"]
        src = {k: escape(v) for k, v in g["src"].items()}
        out.append(
            f'<div class="detail" id="detail-{g["rank"]}"><h3>#{g["rank"]} {escape(g["id"])}'
            f'{" <span class=badge>flagged</span>" if g["flagged"] else ""}</h3><div class="row">'
            f'<figure><img src="{src["thumb"]}" alt="thumbnail" loading="lazy"><figcaption>thumbnail '
            f'({g["width"]}&times;{g["height"]} px image)</figcaption></figure>'
            f'<figure><img src="{src["heat"]}" alt="heatmap" loading="lazy">{_colour_bar(g["lo"], g["hi"])}'
            f'<figcaption>heatmap, map median to max</figcaption></figure>'
            f'<figure><img src="{src["overlay"]}" alt="overlay" loading="lazy"><figcaption>overlay; cyan: '
            f'hottest region (x {r["x0"]}&ndash;{r["x1"]}, y {r["y0"]}&ndash;{r["y1"]}, {r["pixels"]} px, '
            f'map &ge; {r["level"]:.3g})</figcaption></figure>'
            f'<table><tr><th>score_max</th><td class="num">{_num(g["score_max"])}</td></tr>'
            f'<tr><th>score_p99</th><td class="num">{_num(g["score_p99"])}</td></tr>'
            f'<tr><th>score_mean</th><td class="num">{_num(g["score_mean"])}</td></tr>'
            f'<tr><th>anomaly_z</th><td class="num">{_num(g["z"])}</td></tr>'
            f'<tr><th title="share of the texture map in the heatmap: 1 texture, 0 surface">texture_share</th>'
            f'<td class="num">{_num(g["texture_share"])}</td></tr></table></div>'
            f'<p><a href="#gallery">back to the gallery</a></p></div>')
    return "".join(out)


def _failed(failed: pd.DataFrame) -> str:
    if failed.empty:
        return '<p class="muted">No failed images.</p>'
    rows = "".join(f"<tr><td>{escape(str(r.image))}</td><td>{escape(str(r.error))}</td></tr>"
                   for r in failed.head(FAILED_SHOWN).itertuples(index=False))
    more = (f'<p class="muted">{len(failed) - FAILED_SHOWN} more: choose "failed" in the table below.</p>'
            if len(failed) > FAILED_SHOWN else "")
    return f"<table><tr><th>image</th><th>error</th></tr>{rows}</table>{more}"


def render_page(store: str, summary: dict[str, Any], gallery: list[dict[str, Any]], failed: pd.DataFrame,
                table: dict[str, Any], scores: np.ndarray, rule: Rule, above: bool = False,
                score: str = FLAG_SCORE, since: str = "") -> str:
    """The page; ``table`` says where its rows are (report_table.table_html), ``scores`` are the
    ok images' ``score`` (the histogram's), ``since`` the "new since last scan" section's HTML."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cut = rule.cut_score()
    note = ""
    if above:
        n = int(np.sum(np.asarray(scores) >= cut))
        note = f'<p>Review threshold {cut:.4g}: {n} ok images at or above it (red bars).</p>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>ssdnet review: {escape(store)}</title><link rel="icon" href="data:,"><style>{CSS}</style></head>
<body><header><h1>ssdnet review</h1><p>{escape(store)} &middot; generated {stamp}</p></header><main>
<section id="summary"><h2>Run</h2>{_cards(summary)}<p></p>{_facts(summary)}</section>
<section id="histogram"><h2>Image scores over the archive</h2>{note}
{histogram_svg(scores, cut, rule.scale == "log", score)}</section>
<section id="gallery"><h2>Top {len(gallery)} by {score}</h2>{_gallery(gallery)}</section>
<section id="failed"><h2>Failed images ({summary["failed"]})</h2>{_failed(failed)}</section>
{since}<section id="index"><h2>Every image</h2><p class="muted">Flagged first, then failed, then the
other images by {score}.</p>{table_html(table)}</section>
<section id="details"><h2>Details</h2>{_details(gallery)}</section>
</main><script>{JS}</script></body></html>
"""
