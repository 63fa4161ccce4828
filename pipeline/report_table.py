"""The review page's table of every image: markup and the script that pages it.

Rows are not in the page: they are in ``rows-<stamp>/r-NNNNN.js`` files (pipeline/review_rows.py)
that the script adds as ``<script src>`` when a page of the table needs one; the page holds only
where they are and how many rows each section has. The first file is asked for while the page
loads, so the table is filled by the load event; the rest only when paged to or searched.
"""
from __future__ import annotations

import json
from typing import Any

JS = """
const T = JSON.parse(document.getElementById('table-meta').textContent);
const COLS = ['image','status','score_max','score_p99','anomaly_z','is_anomalous','seconds','error'];
const PAGE = 50, CHUNKS = {}, WAITING = {};
const $ = id => document.getElementById(id);
window.ssdnetRows = (k, cols) => { CHUNKS[k] = cols; (WAITING[k] || []).forEach(w => w[0](cols)); delete WAITING[k]; };
function chunk(k){
  if (CHUNKS[k]) return Promise.resolve(CHUNKS[k]);
  return new Promise((ok, bad) => {
    if (!WAITING[k]) { WAITING[k] = [];
      const s = document.createElement('script'); s.src = T.dir + '/r-' + String(k).padStart(5, '0') + '.js';
      s.onerror = () => { (WAITING[k] || []).forEach(w => w[1](new Error('cannot read ' + s.src))); delete WAITING[k]; };
      document.head.appendChild(s); }
    WAITING[k].push([ok, bad]); });
}
// Sections are consecutive rows: flagged, failed, ok (unflagged), pending.
const S = T.sections, A = S.flagged, B = A + S.failed, C = B + S.ok, D = C + S.pending;
const VIEWS = {all: [[0, D]], flagged: [[0, A]], failed: [[A, B]], ok: [[0, A], [B, C]]};
let ranges = VIEWS.all, matches = null, page = 0, drawing = 0;
function count(){ return matches ? matches.length : ranges.reduce((n, r) => n + r[1] - r[0], 0); }
function position(i){
  if (matches) return matches[i];
  for (const [a, b] of ranges) { if (i < b - a) return a + i; i -= b - a; }
  return -1;
}
function cell(p, c){ const t = CHUNKS[Math.floor(p / T.per)]; return t[c][p % T.per]; }
function fmt(v){ if (v === null || v === undefined) return ''; if (typeof v === 'number') return Math.abs(v) >= 1e4 ||
  (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(4)); return String(v); }
async function search(q, token){
  // Every file of the view, in order; found rows are drawn as they come.
  matches = []; const found = [];
  for (const [a, b] of ranges) for (let k = Math.floor(a / T.per); k * T.per < b; k++) {
    const t = await chunk(k); if (token !== drawing) return;
    for (let j = 0; j < t.image.length; j++) { const p = k * T.per + j;
      if (p >= a && p < b && t.image[j].toLowerCase().includes(q)) found.push(p); }
    $('pageinfo').textContent = `searching: ${found.length} rows so far`;
  }
  matches = found;
}
async function draw(){
  const token = ++drawing;
  const pages = Math.max(1, Math.ceil(count() / PAGE)); page = Math.max(0, Math.min(page, pages - 1));
  const ps = []; for (let i = page * PAGE; i < Math.min(count(), page * PAGE + PAGE); i++) ps.push(position(i));
  await Promise.all([...new Set(ps.map(p => Math.floor(p / T.per)))].map(chunk));
  if (token !== drawing) return;
  const body = $('rows'); body.textContent = '';
  for (const p of ps) {
    const tr = document.createElement('tr'); if (cell(p, 'is_anomalous')) tr.className = 'flag';
    COLS.forEach((c, i) => { const v = cell(p, c), td = document.createElement('td'), rank = cell(p, 'rank');
      if (i === 0 && rank) { const a = document.createElement('a'); a.href = '#detail-' + rank;
        a.textContent = v; td.appendChild(a); } else td.textContent = c === 'is_anomalous' ? (v ? 'yes' : '') : fmt(v);
      if (typeof v === 'number' && c !== 'is_anomalous') td.className = 'num'; tr.appendChild(td); });
    body.appendChild(tr);
  }
  $('pageinfo').textContent = `${count()} rows, page ${page + 1} of ${pages}`;
  $('prev').disabled = page === 0; $('next').disabled = page >= pages - 1;
}
async function apply(){
  const q = $('q').value.toLowerCase(); ranges = VIEWS[$('status').value]; matches = null; page = 0;
  if (q) { const token = ++drawing; await search(q, token); if (token !== drawing) return; }
  await draw();
}
function fail(e){ $('pageinfo').textContent = String(e.message || e); }
let typing; $('q').addEventListener('input', () => { clearTimeout(typing); typing = setTimeout(() => apply().catch(fail), 250); });
$('status').addEventListener('change', () => apply().catch(fail));
$('prev').addEventListener('click', () => { page--; draw().catch(fail); });
$('next').addEventListener('click', () => { page++; draw().catch(fail); });
apply().catch(fail);
"""

HEADS = ("image", "status", "score_max", "score_p99", "anomaly_z", "flagged", "seconds", "error")


def table_html(meta: dict[str, Any]) -> str:
    """The controls, an empty table and where its rows are (``meta``: dir, per, files, sections)."""
    data = json.dumps(meta, separators=(",", ":")).replace("</", "<\\/")
    heads = "".join(f"<th>{h}</th>" for h in HEADS)
    return (f'<div class="controls"><input id="q" type="search" placeholder="filter by id" size="30">'
            f'<select id="status"><option value="all">all</option><option value="ok">ok</option>'
            f'<option value="failed">failed</option><option value="flagged">flagged</option></select>'
            f'<button id="prev" type="button">&larr; previous</button><button id="next" type="button">next &rarr;'
            f'</button><span id="pageinfo" class="muted">loading rows&hellip;</span></div><table><thead><tr>{heads}'
            f'</tr></thead><tbody id="rows"></tbody></table>'
            f'<script type="application/json" id="table-meta">{data}</script>')
