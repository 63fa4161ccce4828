"""The review report in a real headless Chromium, opened from disk: nothing fails to load, the
table's script runs, every picture decodes, and the screenshot is not blank."""
from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image

from pipeline.review import write_report

from browser import chromium, visit_page  # noqa: F401
from review_fixtures import ODD, scanned  # noqa: F401
from scan_fixtures import client  # noqa: F401

# Lazy images load only near the viewport: make them eager, then wait for every one to settle.
CHECK = """(async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {images: imgs.length, broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
          rows: document.querySelectorAll('#rows tr').length, pageinfo: document.getElementById('pageinfo').textContent,
          firstRow: document.querySelector('#rows tr td').textContent};
})()"""


def test_report_opens_offline_in_chromium_without_failed_requests(chromium, scanned, tmp_path):
    _, store, _ = scanned
    out = tmp_path / "report"
    write_report(store, out, top=4)
    visit = visit_page(chromium, out / "index.html", CHECK)

    assert visit.failed_requests == [] and visit.bad_responses == []
    assert visit.errors == []
    state = visit.evaluated
    assert state["images"] == 4 * 2 + 4 * 3 and state["broken"] == [], json.dumps(state)
    assert state["rows"] == 10 and state["pageinfo"].startswith("10 rows") and state["firstRow"] == ODD

    shot = np.asarray(Image.open(io.BytesIO(visit.screenshot)).convert("L"), dtype=np.float64)
    assert shot.shape[0] > 500 and shot.std() > 20, "screenshot looks blank"
    (tmp_path / "screenshot.png").write_bytes(visit.screenshot)
