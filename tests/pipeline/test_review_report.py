"""``ssdnet review`` and ``ssdnet show`` on a scanned store."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from PIL import Image

import pipeline
from pipeline.flags import FLAG_SCORE
from pipeline.review import write_report

from review_fixtures import BROKEN, ODD, read_rows, scanned  # noqa: F401
from scan_fixtures import FAST, client, run_cli  # noqa: F401


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)
            if tag in ("script", "link") and name in ("src", "href") and value and not value.startswith("data:"):
                self.external.append(value)


def local_targets(page: Path) -> list[str]:
    """Every src/href of the page; asserts each resolves offline (a file, an anchor or data:)."""
    links = Links()
    text = page.read_text(encoding="utf-8")
    links.feed(text)
    assert not links.external, "scripts and styles must be inline"
    for url in links.urls:
        assert not re.match(r"^[a-z]+://", url), f"{url}: not offline"
        if url.startswith("#"):
            assert f'id="{url[1:]}"' in text, f"{url}: no such anchor"
        elif not url.startswith("data:"):
            assert (page.parent / url).is_file(), f"{url}: missing"
    return links.urls


def test_report_lists_top_k_in_score_order_with_pictures_written_once(scanned, tmp_path):
    _, store, _ = scanned
    out = tmp_path / "report"
    result = write_report(store, out, top=3)
    assert result["pictured"] == 3 and result["images"] == 10 and result["flagged"] == 1
    page = out / "index.html"
    text = page.read_text(encoding="utf-8")

    index = pipeline.open_index(store).to_dataframe()
    expected = list(index[index.status == "ok"].sort_values(FLAG_SCORE, ascending=False, kind="stable").index[:3])
    shown = re.findall(r'<div class="detail" id="detail-(\d+)"><h3>#\d+ ([^<]+)', text)
    assert [int(rank) for rank, _ in shown] == [1, 2, 3]
    assert [image_id.strip() for _, image_id in shown] == expected and expected[0] == ODD
    # Each card says which map the image got (the gate's texture share, as stored in the index).
    shares = re.findall(r'>texture_share</th><td class="num">([^<]+)</td>', text)
    assert shares == [f"{index.loc[i, 'texture_share']:.4g}" for i in expected]
    # The flagged image is marked; the failed one is listed with its error.
    assert re.search(r'class="tile flag">.*?' + re.escape(ODD), text)
    assert re.search(re.escape(BROKEN) + r"</td><td>cannot decode", text)
    # The histogram marks the scan's cut-off; every image is a row of the table's row files:
    # the flagged image first, then the failed one, then the rest by FLAG_SCORE.
    assert 'class="cut"' in text and "flag cut-off" in text and f"Top 3 by {FLAG_SCORE}" in text
    rows = read_rows(out)
    assert sorted(rows["image"]) == sorted(index.index) and rows["image"][:2] == [ODD, BROKEN]
    assert rows["rank"][0] == 1 and rows["is_anomalous"][:2] == [1, 0] and rows["error"][1].startswith("cannot decode")
    rest = [index.loc[i, FLAG_SCORE] for i in rows["image"][2:]]
    assert rest == sorted(rest, reverse=True) and rows["score_p99"][2] == float(f"{rest[0]:.6g}")

    urls = local_targets(page)
    pictures = sorted(p for p in (out / "img").iterdir() if p.suffix == ".png")
    assert len(pictures) == 9 and {f"img/{p.name}" for p in pictures} <= set(urls)
    with Image.open(next(p for p in pictures if p.name.endswith(".overlay.png"))) as im:
        overlay = np.asarray(im.convert("RGB"))
    assert (overlay == (0, 255, 255)).all(axis=2).any(), "no outline drawn"

    stamps = {p: p.stat().st_mtime_ns for p in pictures}
    write_report(store, out, top=3)
    assert {p: p.stat().st_mtime_ns for p in pictures} == stamps


def test_review_command_threshold_marks_the_histogram(scanned, tmp_path, capsys):
    _, store, _ = scanned
    assert run_cli(["review", store, "--out", tmp_path / "r", "--top", "1", "--threshold", "1e9"]) == 0
    assert json.loads(capsys.readouterr().out)["pictured"] == 1
    text = (tmp_path / "r" / "index.html").read_text(encoding="utf-8")
    assert "Review threshold 1e+09: 0 ok images" in text and "above every score" in text
    assert run_cli(["review", store, "--out", tmp_path / "r", "--top", "-1"]) == 2


def test_show_writes_an_overlay_at_map_size_and_refuses_unknown_ids(scanned, tmp_path, capsys):
    _, store, _ = scanned
    out = tmp_path / "odd.png"
    assert run_cli(["show", store, ODD, "--out", out]) == 0
    with Image.open(out) as im:
        assert im.size == pipeline.open_map(store, ODD).shape[::-1] and im.mode == "RGB"
        assert np.asarray(im).std() > 10
    capsys.readouterr()
    assert run_cli(["show", store, "arch/nothing.png", "--out", tmp_path / "x.png"]) == 2
    assert run_cli(["show", store, BROKEN, "--out", tmp_path / "x.png"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no image id with a map 'arch/nothing.png' in this store") and not (tmp_path / "x.png").exists()
    # The tail of an id's path is enough when one id ends with it (ODD is arch/odd.png).
    assert run_cli(["show", store, "odd.png", "--out", tmp_path / "tail.png"]) == 0
    assert (tmp_path / "tail.png").read_bytes() == out.read_bytes()
    heat = pipeline.open_map(store, "odd.png")
    assert (heat == pipeline.open_map(store, ODD)).all()
    # The map says what it is and which settings made it, as data (not a JSON string).
    assert heat.attrs["image_id"] == ODD and heat.attrs["long_name"] == "anomaly score"
    assert heat.attrs["config"]["steps"] == FAST["steps"] and heat.attrs["config"]["preset"] == FAST["preset"]


def test_export_writes_map_overlay_and_source_at_full_size(scanned, tmp_path, capsys):
    import tarfile

    from review_fixtures import copy_of
    arch, store = copy_of(scanned, tmp_path)
    out = tmp_path / "export"
    assert run_cli(["export", store, "odd.png", "--out", out]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 4 and {f.rsplit("-", 1)[1] for f in files} == {"map.tif", "heat.png", "overlay.png", "source.png"}
    heat = pipeline.open_map(store, ODD)
    with Image.open(next(out.glob("*-map.tif"))) as im:
        assert im.mode == "F" and np.array_equal(np.asarray(im), heat.values)
    with Image.open(next(out.glob("*-source.png"))) as im, Image.open(arch.parent / ODD) as src:
        assert np.array_equal(np.asarray(im), np.asarray(src.convert("RGB")))
    with Image.open(next(out.glob("*-overlay.png"))) as im:
        assert im.size == heat.shape[::-1]
    # A changed source is not drawn on: the thumbnail stands in, and the output says why. (The
    # copied store's row is pointed at the copied archive, which this test may change.)
    import zarr
    group = zarr.open_group(str(store / "48x48"), mode="a")
    row = list(group["image"][:]).index(ODD)
    group["path"][row] = str(arch / "odd.png")
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(arch / "odd.png")
    capsys.readouterr()
    assert run_cli(["export", store, ODD, "--out", tmp_path / "changed"]) == 0
    assert "source changed since the scan" in capsys.readouterr().out
    assert not list((tmp_path / "changed").glob("*-source.png"))
    # Unknown ids refuse with one line, exit 2.
    assert run_cli(["export", store, "nothing.png", "--out", tmp_path / "none"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # A known id beside unknown ones: nothing is written, and each unknown one is named.
    assert run_cli(["export", store, ODD, "nothing.png", "naught.png", "--out", tmp_path / "some"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nothing.png'" in err and "'naught.png'" in err
    assert not (tmp_path / "some").exists()
    # A member of a tar archive is read back from the archive.
    from pipeline.full_size import read_source
    with tarfile.open(tmp_path / "a.tar", "w") as tf:
        tf.add(arch.parent / ODD, arcname="x/odd.png")
    assert read_source(f"{tmp_path / 'a.tar'}:x/odd.png") == (arch.parent / ODD).read_bytes()
