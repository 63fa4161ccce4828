""""New since last scan": each scan records its start in the store; ``ssdnet index --since``
lists what the last scan (or the scans since a time) added, changed, flagged or failed."""
from __future__ import annotations

import json
import re

import pipeline
from pipeline.review import write_report
from pipeline.scans import scan_log

from scan_fixtures import FAST, client, png_bytes, run_cli, write_images  # noqa: F401


def since(store, capsys, *args) -> list[dict]:
    capsys.readouterr()
    assert run_cli(["index", store, "--format", "json", "--since", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_rescan_lists_the_added_and_changed_images_since_last_scan(client, tmp_path, capsys):
    src, store = tmp_path / "src", tmp_path / "s.zarr"
    write_images(src, 3)
    pipeline.scan(src, store, client=client, **FAST)
    first = scan_log(store)
    assert [s["scan"] for s in first] == [1] and first[0]["images_before"] == 0
    assert sorted(r["image"] for r in since(store, capsys, "LAST")) == ["src/img_000.png", "src/img_001.png",
                                                                       "src/img_002.png"]

    write_images(src, 1, first_seed=7)                          # src/img_007.png: new
    (src / "img_001.png").write_bytes(png_bytes(42))            # new bytes: refitted
    (src / "img_002.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")  # now fails to decode
    pipeline.scan(src, store, client=client, **FAST)
    log = scan_log(store)
    assert [s["scan"] for s in log] == [1, 2] and log[1]["images_before"] == 3
    assert log[1]["started_at"] > log[0]["started_at"]

    rows = {r["image"]: r for r in since(store, capsys, "LAST")}
    assert set(rows) == {"src/img_007.png", "src/img_001.png", "src/img_002.png"}  # not the unchanged 000
    assert rows["src/img_007.png"]["change"] == "added" and rows["src/img_001.png"]["change"] == "changed"
    assert rows["src/img_002.png"]["status"] == "failed"
    # Since the first scan's start: every image; the change is told against that scan.
    rows = {r["image"]: r["change"] for r in since(store, capsys, first[0]["started_at"])}
    assert set(rows) == {"src/img_000.png", "src/img_001.png", "src/img_002.png", "src/img_007.png"}
    assert set(rows.values()) == {"added"}
    # A time after the last scan: nothing.
    assert since(store, capsys, "2999-01-01T00:00") == []

    # The review page's section says the same.
    write_report(store, tmp_path / "report", top=1)
    text = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    section = text.split('<section id="since">')[1].split("</section>")[0]
    assert "New since last scan (scan 2," in section
    cards = dict((k, int(v)) for v, k in re.findall(r'<b>(\d+)</b>(\w+)</div>', section))
    assert cards == {"added": 1, "changed": 2, "flagged": 0, "failed": 1}, cards
    shown = re.findall(r"<tr[^>]*><td>([^<]+)</td><td>(\w+)</td><td>(\w+)</td>", section)
    assert shown[0] == ("src/img_002.png", "changed", "failed")  # failed first
    assert sorted(shown[1:]) == [("src/img_001.png", "changed", "ok"), ("src/img_007.png", "added", "ok")]


def test_since_refuses_what_is_not_a_time(client, tmp_path, capsys):
    src, store = tmp_path / "src", tmp_path / "s.zarr"
    write_images(src, 1)
    pipeline.scan(src, store, client=client, **FAST)
    capsys.readouterr()
    assert run_cli(["index", store, "--since", "yesterday"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --since 'yesterday': not LAST or an ISO 8601 time (2026-12-01T06:00)", err


def test_a_store_without_recorded_scans_refuses_since_last_and_says_so_in_review(tmp_path, capsys):
    from bench.big_index import synthesize

    store = tmp_path / "old.zarr"
    synthesize(store, 50, top=1)  # written by the store's own writer, never by scan(): no scan log
    assert scan_log(store) == []
    capsys.readouterr()
    assert run_cli(["index", store, "--since", "LAST"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --since LAST: ") and "has no recorded scan" in err and "\n" not in err
    rows = since(store, capsys, "2000-01-01")  # a time still works; added or changed is unknown
    assert len(rows) == 50 + 2 and {r["change"] for r in rows} == {""}  # 50, the top one and a failed one
    write_report(store, tmp_path / "report", top=0)
    assert "No scan recorded in this store" in (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
