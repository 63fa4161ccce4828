"""Damaged stores beyond a deleted map chunk (issue 28, continued): truncated or garbled chunks,
damaged or missing metadata. ``verify`` names every kind (exit 3), ``verify --repair`` mends what
it can so that the next scan refits it, and the reading commands and ``scan`` refuse (exit 2, one
line naming ``verify --repair``), never a traceback. One real store, scanned once, copied per case."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr

import pipeline
from pipeline.integrity import verify

from scan_fixtures import FAST, client, run_cli, scheduler_args, write_images  # noqa: F401

GROUP = "48x48"


@pytest.fixture(scope="module")
def scanned_once(client, tmp_path_factory):
    root = tmp_path_factory.mktemp("damage")
    write_images(root / "src", 3)
    store = root / "s.zarr"
    assert pipeline.scan(root / "src", store, client=client, **FAST)["ok"] == 3
    return root / "src", store


@pytest.fixture
def store(scanned_once, tmp_path):
    """A fresh copy of the scanned store, to damage."""
    copy = tmp_path / "s.zarr"
    shutil.copytree(scanned_once[1], copy)
    return copy


def first_id(store: Path) -> str:
    return str(zarr.open_group(str(store), mode="r")[GROUP]["image"][0])


def garble(path: Path) -> None:
    """Flip 4 bytes in the middle: zstd (without its checksum) still decompresses it."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4] = bytes(255 - b for b in data[mid:mid + 4])
    path.write_bytes(bytes(data))


def refused(capsys, args: list, *words: str) -> str:
    """Run a command that must refuse: exit 2, one error line naming verify --repair and ``words``
    (a scan's last line: its progress lines come first)."""
    rc = run_cli(args)
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    lines = err.splitlines()
    assert "Traceback" not in err and (len(lines) == 1 or args[0] == "scan"), err
    err = lines[-1]
    assert err.startswith("error: ") and "ssdnet verify --repair" in err, err
    for w in words:
        assert w in err, err
    return err


def readers(store: Path, image_id: str) -> list[list]:
    return [["index", store], ["show", store, image_id, "--out", store.parent / "o.png"],
            ["review", store, "--out", store.parent / "report"],
            ["export", store, image_id, "--out", store.parent / "exp"]]


def test_a_truncated_map_chunk_is_named_refused_and_refitted_after_repair(client, scanned_once, store, capsys):
    src = scanned_once[0]
    lost = first_id(store)
    os.truncate(store / GROUP / "anomaly_map" / "c" / "0" / "0" / "0", 1000)
    for args in readers(store, lost)[1:]:  # index reads no map
        refused(capsys, args, "anomaly_map", "cannot be decoded")
    with pytest.raises(KeyError, match="cannot be decoded.*verify --repair"):  # the API's refusal of a lost map
        pipeline.open_map(store, lost)
    report = verify(store)
    assert [r["id"] for r in report.rows] == [lost] and "cannot be decoded" in report.rows[0]["why"]
    assert run_cli(["verify", store]) == 3
    assert run_cli(["verify", store, "--repair"]) == 0
    capsys.readouterr()
    again = pipeline.scan(src, store, client=client, **FAST)  # refitted, not kept as it was
    assert (again["ok"], again["skipped"]) == (1, 2)
    assert np.isfinite(pipeline.open_map(store, lost).values).all() and verify(store).clean


@pytest.mark.parametrize("array", ["status", "image", "score_p99"])
def test_a_truncated_index_chunk_is_named_refused_and_its_rows_refitted_after_repair(
        client, scanned_once, store, capsys, array):
    src = scanned_once[0]
    some = first_id(store)
    os.truncate(store / GROUP / array / "c" / "0", 5)
    refused(capsys, ["index", store], f"{GROUP}/{array}/c/0")
    refused(capsys, ["review", store, "--out", store.parent / "report"], f"{GROUP}/{array}")
    if array != "score_p99":  # show and export read no score: the map they serve is whole
        for args in readers(store, some)[1::2]:
            refused(capsys, args, f"{GROUP}/{array}")
    refused(capsys, ["scan", src, "--out", store, "--preset", "fast", "--steps", "10", *scheduler_args(client)],
            f"{GROUP}/{array}/c/0")
    assert run_cli(["verify", store, "--json"]) == 3
    out = json.loads(capsys.readouterr().out)
    assert [c["array"] for c in out["damaged_chunks"]] == [f"{GROUP}/{array}"]
    assert run_cli(["verify", store, "--repair", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["clean"] and out["damaged_chunks"][0]["marked"] == 3
    assert run_cli(["index", store]) == 0  # readable again: the rows wait for their refit
    capsys.readouterr()
    again = pipeline.scan(src, store, client=client, **FAST)
    assert again["ok"] == 3 and again["skipped"] == 0
    index = pipeline.open_index(store)
    assert list(index.status.values) == ["ok"] * 3 and verify(store).clean


def test_a_truncated_thumbnail_is_named_and_refused(store, capsys):
    some = first_id(store)
    os.truncate(store / GROUP / "thumbnail" / "c" / "0" / "0" / "0" / "0", 100)
    refused(capsys, ["show", store, some, "--out", store.parent / "o.png"], "thumbnail")
    refused(capsys, ["review", store, "--out", store.parent / "report"], "thumbnail")
    report = verify(store)
    assert [r["id"] for r in report.rows] == [some] and "thumbnail" in report.rows[0]["why"]
    assert verify(store, repair=True).clean and verify(store).clean


def test_a_damaged_root_metadata_is_refused_by_every_reader(store, capsys):
    some = first_id(store)
    os.truncate(store / "zarr.json", 500)
    for args in readers(store, some):
        refused(capsys, args, "zarr.json")
    assert run_cli(["verify", store, "--repair"]) == 3  # nothing to rebuild a root from: said so


@pytest.mark.parametrize("node", [GROUP, f"{GROUP}/status"])
def test_missing_metadata_is_named_refused_by_scan_and_rebuilt(client, scanned_once, store, capsys, node):
    src = scanned_once[0]
    (store / node / "zarr.json").unlink()
    report = verify(store)
    assert report.metadata == [(str(store / node / "zarr.json"), "missing")] and not report.clean
    assert run_cli(["verify", store]) == 3
    refused(capsys, ["scan", src, "--out", store, "--preset", "fast", "--steps", "10", *scheduler_args(client)],
            f"{node}/zarr.json")
    assert run_cli(["verify", store, "--repair"]) == 0
    assert "rebuilt:" in capsys.readouterr().out
    report = verify(store)
    assert report.clean and report.rows_checked == 3  # the rebuilt group lists its arrays again


def test_a_deleted_id_chunk_is_named_and_a_deleted_status_chunk_leaves_rows_to_refit(store, capsys):
    # Done rows without ids cannot come of a kill (ids are written first): damage, named.
    (store / GROUP / "image" / "c" / "0").unlink()
    assert run_cli(["verify", store]) == 3
    assert "image/c/0" in capsys.readouterr().out
    report = verify(store, repair=True)
    assert report.clean and report.chunks[0]["marked"] == 3
    assert pipeline.open_index(store).sizes["image"] == 0 and verify(store).clean  # fitted anew by a scan


def test_a_deleted_status_chunk_reads_as_rows_not_done(store, capsys):
    # As a scan killed between writing ids and statuses leaves them: not damage, not served as
    # ok, and the next scan fits them (nothing is lost).
    (store / GROUP / "status" / "c" / "0").unlink()
    assert verify(store).clean
    assert set(pipeline.open_index(store).status.values) <= {""}


def test_a_map_whose_bytes_changed_is_not_served(store, capsys):
    some = first_id(store)
    garble(store / GROUP / "anomaly_map" / "c" / "0" / "0" / "0")
    for args in readers(store, some)[1:]:
        refused(capsys, args, some, "checksum")
    with pytest.raises(KeyError, match="checksum"):
        pipeline.open_map(store, some)
    assert run_cli(["verify", store]) == 3


def test_a_repair_refuses_while_a_scan_holds_the_store(store):
    # A repair rewrites index chunks: beside a writing scan it could overwrite the rows it wrote.
    from pipeline.exitcodes import Refused
    from pipeline.lock import store_lock

    with store_lock(store):
        with pytest.raises(Refused, match="being written by another scan"):
            verify(store, repair=True)
        assert verify(store).clean  # a check alone writes nothing: no lock needed
    assert verify(store, repair=True).clean
