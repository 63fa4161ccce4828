"""Descriptors and change detection: workers read the sources (a directory, a tar, a zip, a
file:// URL); a rescan skips an image whose (size, mtime) are unchanged without reading it;
--verify reads and hashes everything; gone sources are reported and --prune drops their rows."""
from __future__ import annotations

import io
import os

import numpy as np
from PIL import Image

import pipeline
from pipeline.archive import describe_all, iter_entries
from scan_fixtures import FAST, client, make_tar, make_zip, png_bytes, reference_map, run_cli, scheduler_args, write_images  # noqa: F401


def _replace_keeping_stat(path, data: bytes) -> None:
    """New bytes of the same size, with the old mtime put back: only reading shows the change."""
    st = os.stat(path)
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _bmp(seed: int) -> bytes:
    # Uncompressed: another image of the same shape is a file of the same size.
    img = Image.open(io.BytesIO(png_bytes(seed)))
    buf = io.BytesIO()
    img.convert("L").save(buf, format="BMP")
    return buf.getvalue()


def test_entries_carry_descriptors_not_bytes(tmp_path):
    write_images(tmp_path / "d", 2)
    entries = list(iter_entries(describe_all([str(tmp_path / "d")])))
    assert [e.desc.kind for e in entries] == ["file", "file"] and all(e.data is None for e in entries)
    st = os.stat(tmp_path / "d" / "img_000.png")
    assert (entries[0].desc.size, entries[0].desc.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_stat_skip_reads_nothing_and_verify_finds_the_change(client, tmp_path):
    src = tmp_path / "arch"
    src.mkdir()
    paths = [src / f"img_{i}.bmp" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_bytes(_bmp(i))
    store = tmp_path / "s.zarr"
    first = pipeline.scan(src, store, client=client, **FAST)
    assert first["ok"] == 3
    index = pipeline.open_index(store)
    st = os.stat(paths[0])
    row = index.sel(image="arch/img_0.bmp")
    assert int(row.size_bytes) == st.st_size and int(row.mtime_ns) == st.st_mtime_ns
    assert index.size_bytes.attrs["units"] == "bytes" and "long_name" in index.mtime_ns.attrs
    old_sha = str(row.sha256.values)

    # Same size and mtime, other bytes: a rescan that read them would refit; it reads nothing.
    _replace_keeping_stat(paths[0], _bmp(7))
    again = pipeline.scan(src, store, client=client, **FAST)
    assert (again["ok"], again["skipped"]) == (0, 3)
    assert str(pipeline.open_index(store).sel(image="arch/img_0.bmp").sha256.values) == old_sha

    # --verify reads and hashes all three: the changed one is refitted, the others not.
    verified = pipeline.scan(src, store, client=client, verify=True, **FAST)
    assert (verified["ok"], verified["skipped"], verified["failed"]) == (1, 2, 0)
    assert str(pipeline.open_index(store).sel(image="arch/img_0.bmp").sha256.values) != old_sha
    np.testing.assert_allclose(pipeline.open_map(store, "arch/img_0.bmp").values, reference_map(_bmp(7)),
                               rtol=1e-5, atol=1e-5)


def test_a_touched_file_is_read_and_hashed_but_not_refitted(client, tmp_path):
    src = tmp_path / "arch"
    paths = write_images(src, 2)
    store = tmp_path / "s.zarr"
    pipeline.scan(src, store, client=client, **FAST)
    before = pipeline.open_index(store).sel(image="arch/img_001.png")
    os.utime(paths[1], ns=(1_000_000_000, 2_000_000_000))
    again = pipeline.scan(src, store, client=client, **FAST)
    assert (again["ok"], again["skipped"]) == (0, 2)
    after = pipeline.open_index(store).sel(image="arch/img_001.png")
    assert int(after.mtime_ns) == 2_000_000_000  # the new mtime is recorded: next time it is not read
    assert after.finished_at.values == before.finished_at.values  # the row itself was not rewritten


def test_gone_images_are_reported_and_prune_drops_their_rows(client, tmp_path, capsys):
    src = tmp_path / "arch"
    paths = write_images(src, 3)
    store = tmp_path / "s.zarr"
    pipeline.scan(src, store, client=client, **FAST)
    paths[2].unlink()
    kept = pipeline.scan(src, store, client=client, **FAST)
    assert kept["gone"] == 1 and kept["gone_examples"] == ["arch/img_002.png"] and kept["pruned"] == 0
    assert len(pipeline.open_index(store).image) == 3
    # Another source's rows, and rows --include leaves out, are not gone.
    other = tmp_path / "other"
    write_images(other, 1)
    assert pipeline.scan(other, store, client=client, **FAST)["gone"] == 0
    assert pipeline.scan(src, store, client=client, include=["img_000*"], **FAST)["gone"] == 0
    code = run_cli(["scan", src, "--out", store, "--prune", *scheduler_args(client), "--preset", "fast",
                    "--steps", "10"])
    assert code == 0
    out = capsys.readouterr().out
    assert "gone: 1 rows" in out and "pruned" in out
    assert sorted(pipeline.open_index(store).image.values.tolist()) == [
        "arch/img_000.png", "arch/img_001.png", "other/img_000.png"]
    # A source that holds no image now (an archive mount that failed) is no order to empty the store.
    for path in paths[:2]:
        path.unlink()
    code = run_cli(["scan", src, "--out", store, "--prune", *scheduler_args(client), "--preset", "fast",
                    "--steps", "10"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2 and err.startswith("error: --prune: the sources hold no image now; their 2 row(s) are kept")
    assert len(pipeline.open_index(store).image) == 3


def test_a_tar_and_a_zip_are_read_by_the_workers_and_skipped_unread_on_rescan(client, tmp_path):
    members = {f"m/img_{i}.png": png_bytes(i) for i in range(2)}
    tar = make_tar(tmp_path / "shots.tar", members)
    zipped = make_zip(tmp_path / "zipped.zip", members)
    gz = make_tar(tmp_path / "packed.tar.gz", members)
    entries = [e for e in iter_entries(describe_all([str(tar), str(zipped), str(gz)])) if hasattr(e, "desc")]
    assert [e.desc.kind for e in entries] == ["tar", "tar", "zip", "zip", "bytes", "bytes"]
    store = tmp_path / "s.zarr"
    first = pipeline.scan([tar, zipped, gz], store, client=client, **FAST)
    assert first["ok"] == 6 and first["failed"] == 0
    for name, data in members.items():
        for source in ("shots", "zipped", "packed"):
            np.testing.assert_allclose(pipeline.open_map(store, f"{source}/{name}").values, reference_map(data),
                                       rtol=1e-5, atol=1e-5)
    again = pipeline.scan([tar, zipped, gz], store, client=client, **FAST)
    assert (again["ok"], again["skipped"]) == (0, 6)


def test_a_file_url_is_scanned_by_the_workers(client, tmp_path):
    src = tmp_path / "byurl"
    write_images(src, 2)
    (src / "notes.txt").write_text("x")
    store = tmp_path / "s.zarr"
    url = "file://" + str(src)
    result = pipeline.scan(url, store, client=client, **FAST)
    assert result["ok"] == 2 and result["skipped_paths"] == {"not an image extension": 1}
    index = pipeline.open_index(store)
    assert sorted(index.image.values.tolist()) == ["byurl/img_000.png", "byurl/img_001.png"]
    assert all(p.startswith("file://") for p in index.path.values)
    np.testing.assert_allclose(pipeline.open_map(store, "byurl/img_001.png").values,
                               reference_map((src / "img_001.png").read_bytes()), rtol=1e-5, atol=1e-5)
    assert pipeline.scan(url, store, client=client, **FAST)["skipped"] == 2


def test_a_missing_url_is_refused_in_one_line(tmp_path, capsys):
    code = run_cli(["scan", f"file://{tmp_path}/nowhere", "--out", tmp_path / "s.zarr"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: source file://") and len(err.strip().splitlines()) == 1


def test_a_file_name_that_is_not_utf8_is_scanned_and_found_again(client, tmp_path):
    # Its bytes reach Python as lone surrogates, which no store string can hold: one such name
    # made the whole scan exit 1 with nothing written. Its id escapes the byte; a rescan finds it.
    src = tmp_path / "arch"
    write_images(src, 1)
    bad = os.fsdecode(os.fsencode(src) + b"/bad\xff.png")
    with open(bad, "wb") as f:
        f.write(png_bytes(5))
    with open(os.fsdecode(os.fsencode(src) + b"/cut\xfe.png"), "wb") as f:
        f.write(png_bytes(6)[:60])  # fails: its error text quotes the name too
    store = tmp_path / "s.zarr"
    first = pipeline.scan(src, store, client=client, **FAST)
    assert (first["ok"], first["failed"]) == (2, 1)
    assert list(first["errors"]) == ["arch/cut\\xfe.png"]
    index = pipeline.open_index(store)
    assert sorted(index.image.values) == ["arch/bad\\xff.png", "arch/cut\\xfe.png", "arch/img_000.png"]
    np.testing.assert_allclose(pipeline.open_map(store, "arch/bad\\xff.png").values, reference_map(png_bytes(5)),
                               rtol=1e-5, atol=1e-5)
    again = pipeline.scan(src, store, client=client, **FAST)
    assert (again["ok"], again["skipped"], again["failed"]) == (0, 2, 1)
    from pipeline.full_size import export_images
    (done,) = export_images(store, ["arch/bad\\xff.png"], tmp_path / "exp")
    assert done.source == "source"  # the file is read again at full size (its index path is escaped)
