"""Sources that hold more than plain images: repeated and escaping member names, damaged
archives, paths that are not images, images too small to fit. Nothing may vanish silently."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import logging
import os
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pipeline
from pipeline.archive import (Entry, Skipped, UniqueIds, describe_all, iter_entries, leaves_archive, numbered,
                              safe_relative)
from pipeline.progress import human_summary

from scan_fixtures import (FAST, client, make_tar, png_bytes, reference_map, run_cli,  # noqa: F401
                           scheduler_args, write_images)


def tar_of(path: Path, members: list[tuple[str, bytes]], links: dict[str, str] | None = None) -> Path:
    """A tar holding ``members`` in order (a name may repeat), then symlinks ``name -> target``;
    compressed as its suffix says."""
    ext = path.name.rsplit(".", 1)[1]
    with tarfile.open(path, f"w:{ext}" if ext in ("gz", "bz2", "xz") else "w") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tf.addfile(info)
    return path


def zip_of(path: Path, members: list[tuple[str, bytes]]) -> Path:
    """A zip holding ``members`` in order; a repeated name is written again, as some tools do."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as zf:
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name": wanted here
        for name, data in members:
            zf.writestr(name, data)
    return path


def damaged(path: Path, how: str) -> Path:
    """``path`` hurt in place: 200 zero bytes over the middle of its bytes, or cut in half."""
    data = path.read_bytes()
    mid = len(data) // 2
    path.write_bytes(data[:mid] + bytes(200) + data[mid + 200:] if how == "zeros" else data[:mid])
    return path


# Images of ~7 KB: the damage in the middle lies well past the first chunk a decompressor reads.
MEMBERS = [(f"part_{i}.png", png_bytes(100 + i, 64, 64, rgb=True)) for i in range(6)]
FAST_FLAGS = ["--preset", FAST["preset"], "--steps", str(FAST["steps"])]


def assert_rows_up_to_damage(summary: dict, source: str, archive: Path) -> list[str]:
    """The archive's members fitted up to the damage, in order, and one failed row that names the
    archive and where it stopped; returns the ids fitted."""
    reason = summary["errors"][archive.name]
    assert reason.startswith("damaged tar source: stopped ") and str(archive) in reason
    index = pipeline.open_index(summary["store"])
    ids = [f"{source}/{m}" for m, _ in MEMBERS]
    rows = [i for i in ids if i in set(index.image.values)]
    ok = [i for i in rows if index.sel(image=i).status == "ok"]
    assert 0 < len(ok) < len(ids) and ok == ids[: len(ok)]  # the ones before the damage, in order
    # Past them at most the member the damage garbled, failed as an image that does not decode.
    assert rows == ids[: len(rows)] and len(rows) <= len(ok) + 1
    last, nxt = MEMBERS[len(rows) - 1][0], MEMBERS[len(rows)][0]
    assert f"after {archive}:{last} " in reason or f"while reading {archive}:{nxt}," in reason, reason
    for image_id, (_, data) in zip(ok, MEMBERS):
        np.testing.assert_array_equal(pipeline.open_map(summary["store"], image_id).values, reference_map(data))
    return ok


def test_a_member_name_seen_twice_gets_a_numbered_id_with_a_warning(client, tmp_path, caplog):
    first, second, third = png_bytes(1), png_bytes(2), png_bytes(3)
    zipped = zip_of(tmp_path / "dup.zip", [("a.png", first), ("a.png", second), ("b/./c.png", third),
                                           ("b/c.png", png_bytes(4))])
    store = tmp_path / "scan.zarr"

    with caplog.at_level(logging.WARNING, logger="ssdnet.scan"):
        summary = pipeline.scan(zipped, store, client=client, **FAST)

    assert (summary["ok"], summary["failed"]) == (4, 0)
    index = pipeline.open_index(store)
    assert list(index.image.values) == ["dup/a.png", "dup/a~2.png", "dup/b/c.png", "dup/b/c~2.png"]
    np.testing.assert_array_equal(pipeline.open_map(store, "dup/a.png").values, reference_map(first))
    np.testing.assert_array_equal(pipeline.open_map(store, "dup/a~2.png").values, reference_map(second))
    assert "its id is dup/a~2.png" in caplog.text and "its id is dup/b/c~2.png" in caplog.text
    # The same ids on a rerun: the copies resume as done, not as new images.
    again = pipeline.scan(zipped, store, client=client, **FAST)
    assert (again["ok"], again["failed"], again["skipped"]) == (0, 0, 4)


def test_a_member_path_leaving_its_archive_is_a_failed_row(client, tmp_path):
    evil, inside = png_bytes(5), png_bytes(6)
    tarred = tar_of(tmp_path / "evil.tar", [("evil.png", inside), ("../../evil.png", evil),
                                            ("/etc/evil.png", evil), ("./evil.png", png_bytes(7))])
    store = tmp_path / "scan.zarr"

    summary = pipeline.scan(tarred, store, client=client, **FAST)

    assert (summary["ok"], summary["failed"]) == (2, 2)
    index = pipeline.open_index(store)
    assert list(index.image.values) == ["evil/(outside)/etc/evil.png", "evil/(outside)/evil.png",
                                        "evil/evil.png", "evil/evil~2.png"]
    assert "'../../evil.png' leaves the archive" in summary["errors"]["evil/(outside)/evil.png"]
    assert "'/etc/evil.png' leaves the archive" in summary["errors"]["evil/(outside)/etc/evil.png"]
    np.testing.assert_array_equal(pipeline.open_map(store, "evil/evil.png").values, reference_map(inside))


def test_zero_bytes_mid_stream_keep_the_members_before_and_fail_the_archive(client, tmp_path):
    archive = damaged(make_tar(tmp_path / "shots.tar.gz", dict(MEMBERS)), "zeros")
    summary = pipeline.scan(archive, tmp_path / "scan.zarr", client=client, **FAST)
    ok = assert_rows_up_to_damage(summary, "shots", archive)
    assert summary["ok"] == len(ok) and "shots.tar.gz" in summary["failed_ids"]


def test_a_truncated_archive_beside_good_sources_is_one_failed_row_and_exit_3(client, tmp_path, capsys):
    before, after = tmp_path / "before", tmp_path / "after"
    write_images(before, 3)
    write_images(after, 3, first_seed=10)
    archive = damaged(make_tar(tmp_path / "cut.tar.gz", dict(MEMBERS)), "cut")
    store = tmp_path / "scan.zarr"

    rc = run_cli(["scan", before, archive, after, "--out", store, "--json", *FAST_FLAGS, *scheduler_args(client)])

    assert rc == 3
    summary = json.loads(capsys.readouterr().out)
    ok = assert_rows_up_to_damage(summary, "cut", archive)
    assert summary["failed_ids"] == ["cut.tar.gz"] and summary["ok"] == 6 + len(ok)
    index = pipeline.open_index(store)
    for i in range(3):
        assert index.sel(image=f"before/img_{i:03d}.png").status == "ok"
        assert index.sel(image=f"after/img_{10 + i:03d}.png").status == "ok"


def cut_at_header(tar: Path, member: int, inside: int, to: Path | None = None) -> Path:
    """A plain ``tar`` cut ``inside`` bytes into the header of its ``member``-th member (0: at its
    start, where tarfile sees the end of an archive), written to ``to`` (default: in place),
    compressed as that name says."""
    with tarfile.open(tar) as tf:
        at = tf.getmembers()[member].offset + inside
    to = to or tar
    compress = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}.get(to.name.rsplit(".", 1)[1])
    cut = tar.read_bytes()[:at]
    to.write_bytes(compress(cut) if compress else cut)
    return to


def test_a_tar_cut_at_or_inside_a_member_header_is_one_failed_row_and_exit_3(client, tmp_path, capsys):
    # tarfile ends its iteration there without an error, as at a whole archive's end.
    inside = cut_at_header(tar_of(tmp_path / "inside.tar", MEMBERS[:3]), 1, 300)
    boundary = cut_at_header(tar_of(tmp_path / "boundary.tar", MEMBERS[:3]), 2, 0)
    store = tmp_path / "scan.zarr"

    rc = run_cli(["scan", inside, boundary, "--out", store, "--json", *FAST_FLAGS, *scheduler_args(client)])

    assert rc == 3
    summary = json.loads(capsys.readouterr().out)
    assert assert_rows_up_to_damage(summary, "inside", inside) == ["inside/part_0.png"]
    assert assert_rows_up_to_damage(summary, "boundary", boundary) == ["boundary/part_0.png", "boundary/part_1.png"]
    assert sorted(summary["failed_ids"]) == ["boundary.tar", "inside.tar"] and summary["ok"] == 3
    assert "cut short inside a member header (300 of 512 bytes)" in summary["errors"]["inside.tar"]
    assert "cut short after a member, with no end-of-archive marker" in summary["errors"]["boundary.tar"]


def test_a_corrupt_zip_fails_its_unreadable_member_or_itself_never_the_scan(client, tmp_path):
    good = zip_of(tmp_path / "crc.zip", MEMBERS[:3]).read_bytes()
    at = good.index(b"part_1.png") + len("part_1.png") + 300  # inside part_1's data
    (tmp_path / "crc.zip").write_bytes(good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:])
    directory = good.rindex(b"PK\x01\x02")
    (tmp_path / "nodir.zip").write_bytes(good[:directory] + b"garbage!" + good[directory + 8:])

    summary = pipeline.scan([tmp_path / "crc.zip", tmp_path / "nodir.zip"], tmp_path / "scan.zarr",
                            client=client, **FAST)

    assert summary["failed_ids"] == ["crc/part_1.png", "nodir.zip"] and summary["ok"] == 2
    assert "Bad CRC-32" in summary["errors"]["crc/part_1.png"]
    assert summary["errors"]["nodir.zip"].startswith("damaged zip source: stopped before its first entry, 0 entries")
    assert "zipfile.BadZipFile" in summary["errors"]["nodir.zip"]


def test_paths_not_scanned_are_counted_by_reason_listed_and_logged(client, tmp_path, caplog):
    src = tmp_path / "mixed"
    write_images(src, 1)
    (src / "anim.gif").write_bytes(b"GIF89a")
    write_images(src / "x.png", 1, first_seed=3)  # a directory named like an image: its images are scanned
    tarred = tar_of(tmp_path / "packed.tar", [("p.png", png_bytes(8)), ("readme.md", b"#")], {"link.png": "p.png"})
    store = tmp_path / "scan.zarr"

    with caplog.at_level(logging.INFO, logger="ssdnet.scan"):
        summary = pipeline.scan([src, tarred], store, client=client, **FAST)

    assert (summary["ok"], summary["failed"], summary["skipped"]) == (3, 0, 0)
    assert summary["skipped_paths"] == {"directory": 1, "not an image extension": 2, "symlink member": 1}
    assert summary["skipped_examples"] == [[str(src / "x.png"), "directory"],
                                           [str(src / "anim.gif"), "not an image extension"],
                                           [f"{tarred}:readme.md", "not an image extension"],
                                           [f"{tarred}:link.png", "symlink member"]]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO and "not scanned" in r.getMessage()]
    assert logged == [f"not scanned: {path}: {reason}" for path, reason in summary["skipped_examples"]]
    assert ("  not scanned: 1 directory, 2 not an image extension, 1 symlink member"
            in human_summary(summary).splitlines()[1])
    assert "not scanned" not in human_summary({**summary, "skipped_paths": {}})


def test_an_image_below_the_networks_minimum_fails_with_its_size(client, tmp_path):
    src = tmp_path / "tiny"
    write_images(src, 2, shapes={0: (3, 3), 1: (5, 5)})
    summary = pipeline.scan(src, tmp_path / "scan.zarr", client=client, preset="fast", steps=2)
    assert summary["failed_ids"] == ["tiny/img_000.png"] and summary["ok"] == 1
    assert summary["errors"]["tiny/img_000.png"] == "image 3x3 is smaller than the 5x5 the network needs"


# --- archive.py on its own


def entries(*sources: Path | str) -> list[Entry | Skipped]:
    return list(iter_entries(describe_all([str(s) for s in sources])))


@pytest.mark.parametrize("name,leaves", [("a.png", False), ("x/../a.png", False), ("./a.png", False),
                                         ("../a.png", True), ("x/../../a.png", True), ("/a.png", True),
                                         ("C:\\a.png", True), ("..a.png", False)])
def test_leaves_archive(name, leaves):
    assert leaves_archive(name) is leaves


def test_numbered_ids_skip_those_already_taken_in_the_same_order_each_time():
    assert numbered("x/a.png", 3) == "x/a~3.png" and numbered("noext", 2) == "noext~2"
    for _ in range(2):
        ids = UniqueIds("src")
        got = [ids.claim(safe_relative(n), n) for n in ("a.png", "a~2.png", "./a.png", "a.png")]
        assert got == ["src/a.png", "src/a~2.png", "src/a~3.png", "src/a~4.png"]


@pytest.mark.parametrize("suffix", [".tar.gz", ".tar.bz2", ".tar.xz"])
def test_a_cut_compressed_tar_ends_in_its_failed_row_after_the_members_before(tmp_path, suffix):
    archive = damaged(tar_of(tmp_path / f"cut{suffix}", MEMBERS), "cut")
    *images, last = entries(archive)
    assert last.id == archive.name and last.data is None and "damaged tar source: stopped" in last.error
    assert [e.id for e in images] == [f"cut/{m}" for m, _ in MEMBERS[: len(images)]]
    assert all(e.data == data for e, (_, data) in zip(images, MEMBERS))


@pytest.mark.parametrize("suffix", [".tar", ".tar.gz", ".tar.bz2", ".tar.xz"])
@pytest.mark.parametrize("inside", [0, 1, 511])
def test_a_tar_cut_at_a_member_header_ends_in_its_failed_row_whatever_the_compression(tmp_path, suffix, inside):
    # The compressed streams end whole: only the tar data inside them is cut.
    archive = cut_at_header(tar_of(tmp_path / "whole.tar", MEMBERS[:3]), 2, inside, tmp_path / f"cut{suffix}")
    *images, last = entries(archive)
    assert [e.id for e in images] == ["cut/part_0.png", "cut/part_1.png"]
    assert last.id == archive.name and last.desc is None and "damaged tar source: stopped after" in last.error
    assert "unexpected end of data" in last.error and "cut short" in last.error


def test_an_intact_compressed_tar_has_no_failed_row(tmp_path):
    archive = make_tar(tmp_path / "whole.tar.gz", dict(MEMBERS))
    assert [(e.id, e.error) for e in entries(archive)] == [(f"whole/{m}", "") for m, _ in MEMBERS]


def test_a_fifo_is_skipped_not_opened_and_a_list_names_a_path_once(tmp_path):
    src = tmp_path / "src"
    write_images(src, 1)
    os.mkfifo(src / "pipe.png")  # opening it would wait for a writer forever
    (tmp_path / "list.txt").write_text("src/img_000.png\nsrc/img_000.png\nsrc\n")
    got = entries(src, tmp_path / "list.txt")
    assert [(e.id, e.error) if isinstance(e, Entry) else (e.path, e.reason) for e in got] == [
        ("src/img_000.png", ""), (str(src / "pipe.png"), "not a regular file"),
        ("list/src/img_000.png", ""), (str(src / "img_000.png"), "listed again"), (str(src), "directory")]


def test_a_list_that_is_not_utf8_is_a_failed_row_after_its_lines_before(tmp_path):
    write_images(tmp_path / "src", 1)
    (tmp_path / "list.txt").write_bytes(b"src/img_000.png\n" + b"x" * 10000 + b"\xff\xfe.png\n")
    *images, last = entries(tmp_path / "list.txt")
    assert [e.id for e in images] == ["list/src/img_000.png"]
    assert last.id == "list.txt" and "UnicodeDecodeError" in last.error


def test_a_garbled_member_header_in_a_plain_tar_is_not_the_end_of_the_archive(tmp_path):
    archive = tar_of(tmp_path / "plain.tar", MEMBERS)
    data = bytearray(archive.read_bytes())
    header = data.index(b"part_3.png")  # tarfile would stop here without a word, as at the end marker
    data[header:header + 100] = b"x" * 100
    archive.write_bytes(bytes(data))
    *images, last = entries(archive)
    assert [e.id for e in images] == [f"plain/{m}" for m, _ in MEMBERS[:3]]
    assert f"unreadable tar data at byte {header}" in last.error and "after " in last.error
