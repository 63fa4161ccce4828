"""The review table's rows in paged script files next to the page, not embedded in it: the
files on disk, and a real browser reading rows from a later file (skipped without chromium)."""
from __future__ import annotations

import json

from bench.big_index import synthesize
from pipeline.review import write_report

from browser import chromium, visit_page  # noqa: F401
from review_fixtures import BROKEN, CLEAN, ODD, read_rows, scanned  # noqa: F401
from scan_fixtures import client  # noqa: F401


def test_rows_are_paged_into_files_and_a_new_report_replaces_them(scanned, tmp_path):
    _, store, _ = scanned
    out = tmp_path / "report"
    result = write_report(store, out, top=0, rows_per_file=3)
    assert result["rows_files"] == 4 and result["pictured"] == 0
    folder = next(out.glob("rows-*"))
    assert sorted(p.name for p in folder.iterdir()) == [f"r-{k:05d}.js" for k in range(4)]
    rows = read_rows(out)
    assert rows["image"][:2] == [ODD, BROKEN] and sorted(rows["image"][2:]) == CLEAN
    text = (out / "index.html").read_text(encoding="utf-8")
    # The page says where the rows are; it does not carry them.
    meta = json.loads(text.split('id="table-meta">')[1].split("</script>")[0])
    assert meta == {"dir": folder.name, "per": 3, "files": 4, "sections": {"flagged": 1, "failed": 1, "ok": 8, "pending": 0}}
    # (the "new since last scan" section lists the scan's images; the table section none)
    table = text.split('<section id="index">')[1].split("</section>")[0]
    assert not any(image_id in table for image_id in CLEAN)
    write_report(store, out, top=0)
    assert [p.name for p in out.glob("rows-*")] != [folder.name] and len(list(out.glob("rows-*"))) == 1
    assert read_rows(out)["image"] == rows["image"]


# Page 111 of 50 rows starts at row 5,500: in the second file. Then a search for the last id.
LATER = """(async () => {
  const ids = () => Array.from(document.querySelectorAll('#rows tr td:first-child')).map(td => td.textContent);
  const first = ids();
  page = 110; await draw();
  const later = ids(), info = document.getElementById('pageinfo').textContent;
  const q = document.getElementById('q'); q.value = %s; q.dispatchEvent(new Event('input'));
  for (let i = 0; i < 400 && !document.getElementById('pageinfo').textContent.startsWith('1 rows'); i++)
    await new Promise(r => setTimeout(r, 50));
  return {first, later, info, found: ids(), scripts: Array.from(document.scripts).filter(s => s.src)
          .map(s => s.src.split('/').pop())};
})()"""


def test_browser_reads_rows_from_later_files_on_demand(chromium, tmp_path):
    store = tmp_path / "big.zarr"
    synthesize(store, 12000, top=2)
    out = tmp_path / "report"
    assert write_report(store, out, top=2)["rows_files"] == 3
    rows = read_rows(out)
    visit = visit_page(chromium, out / "index.html", LATER % json.dumps(rows["image"][-1]))
    assert visit.failed_requests == [] and visit.bad_responses == [] and visit.errors == []
    got = visit.evaluated
    assert got["first"] == rows["image"][:50], got["first"][:3]
    assert got["later"] == rows["image"][5500:5550] and got["info"] == f"{len(rows['image'])} rows, page 111 of 241"
    assert got["found"] == [rows["image"][-1]]
    assert sorted(set(got["scripts"])) == ["r-00000.js", "r-00001.js", "r-00002.js"]
