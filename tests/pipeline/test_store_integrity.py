"""Damaged stores (issue 28): a lost map is never served as ok, never skipped by a rescan, and a
rescan never leaves a store less readable than it found it. Real stores, damaged on disk."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import zarr

import pipeline
from pipeline.exitcodes import Refused
from pipeline.integrity import verify

from scan_fixtures import FAST, client, run_cli, scheduler_args, write_images  # noqa: F401


@pytest.fixture
def scanned(client, tmp_path):
    write_images(tmp_path / "src", 3)
    store = tmp_path / "s.zarr"
    summary = pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    assert summary["ok"] == 3
    return tmp_path / "src", store


def test_every_ok_row_carries_its_maps_checksum(scanned):
    _, store = scanned
    index = pipeline.open_index(store)
    assert (index.map_crc32 >= 0).all()
    report = verify(store)
    assert report.clean and report.rows_checked == 3 and not report.rows


def test_a_deleted_map_chunk_is_refused_reported_and_refitted(client, scanned, capsys):
    src, store = scanned
    lost = str(zarr.open_group(str(store), mode="r")["48x48"]["image"][1])  # the image of row 1
    shutil.rmtree(store / "48x48" / "anomaly_map" / "c" / "1")
    with pytest.raises(KeyError, match="says ok but its map is missing"):
        pipeline.open_map(store, lost)
    assert run_cli(["show", store, lost, "--out", store.parent / "o.png"]) == 2
    assert "map is missing" in capsys.readouterr().err
    assert run_cli(["review", store, "--out", store.parent / "report"]) == 2  # no NaN map on the page
    assert "map is missing" in capsys.readouterr().err
    report = verify(store)
    assert [r["id"] for r in report.rows] == [lost] and not report.clean
    assert run_cli(["verify", store]) == 3
    again = pipeline.scan(src, store, client=client, **FAST)  # the lost map is refitted, not skipped
    assert (again["ok"], again["skipped"]) == (1, 2)
    assert np.isfinite(pipeline.open_map(store, lost).values).all()
    assert verify(store).clean


def test_a_map_whose_bytes_changed_fails_its_checksum_and_repair_marks_it_for_refit(client, scanned, capsys):
    src, store = scanned
    maps = store / "48x48" / "anomaly_map" / "c"
    (maps / "0" / "0" / "0").write_bytes((maps / "2" / "0" / "0").read_bytes())  # another image's map
    report = verify(store)
    assert len(report.rows) == 1 and "checksum" in report.rows[0]["why"]
    assert run_cli(["verify", store, "--repair", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["marked_for_refit"] == 1 and out["clean"]
    index = pipeline.open_index(store)
    damaged = index.where(index.status == "failed", drop=True)
    assert damaged.sizes["image"] == 1 and "marked for refit" in str(damaged.error.values[0])
    again = pipeline.scan(src, store, client=client, **FAST)
    assert (again["ok"], again["skipped"]) == (1, 2) and verify(store).clean


def test_a_rescan_refuses_damaged_metadata_and_leaves_the_store_readable(client, scanned, capsys):
    src, store = scanned
    meta = store / "48x48" / "status" / "zarr.json"
    meta.write_bytes(meta.read_bytes()[: meta.stat().st_size // 2])
    before = pipeline.open_index(store)  # still readable: the consolidated copy serves
    rc = run_cli(["scan", src, "--out", store, "--preset", "fast", "--steps", "10", *scheduler_args(client)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert str(meta) in err and "ssdnet verify --repair" in err
    after = pipeline.open_index(store)  # the refusal wrote nothing: as readable as before
    assert list(after.image.values) == list(before.image.values)
    with pytest.raises(Refused):
        pipeline.scan(src, store, client=client, **FAST)
    assert run_cli(["verify", store]) == 3
    assert run_cli(["verify", store, "--repair"]) == 0
    assert "rebuilt:" in capsys.readouterr().out
    again = pipeline.scan(src, store, client=client, **FAST)
    assert again["skipped"] == 3 and verify(store).clean


def test_verify_refuses_what_is_not_a_store(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    assert run_cli(["verify", tmp_path / "plain"]) == 2
    assert "not a Zarr store" in capsys.readouterr().err


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KB tmpfs, where the machine lets this process mount one."""
    mount = tmp_path / "disk"
    mount.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip() or res.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_a_named_operational_error_not_a_crash(client, tmp_path, small_disk, capsys):
    write_images(tmp_path / "src", 24, shapes={i: (96, 96) for i in range(24)})
    store = small_disk / "s.zarr"
    rc = run_cli(["scan", tmp_path / "src", "--out", store, "--preset", "fast", "--steps", "3",
                  "--write-every", "0", *scheduler_args(client)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 5
    assert err[-1].startswith(f"error: {small_disk}") and "No space left on device" in err[-1]


def stopped_scan(tmp_path: Path, signum: int, group: bool) -> tuple[int, dict, str, Path]:
    """Start a real ``ssdnet scan`` of 40 images in its own session, send ``signum`` to the scan
    (``group``: to the scan and its workers) once some rows are written; its exit code, JSON
    summary, stderr and store."""
    import os
    import signal
    import sys
    import time

    write_images(tmp_path / "src", 40)
    store = tmp_path / "s.zarr"
    # A shell starts a background job (`pytest ... &`) with SIGINT ignored, and a child inherits
    # that: the scan would rightly ignore Ctrl-C, as a background job should. With a handler of
    # our own while it starts, the scan starts as a terminal's foreground command does.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "scan", str(tmp_path / "src"), "--out",
                                 str(store), "--preset", "fast", "--steps", "40", "--workers", "1", "--json",
                                 "--write-every", "0", "--progress-every", "0.2"],
                                cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # stop it once some rows are written
            line = proc.stderr.readline()
            if "progress:" in line and " ok 0 " not in line:
                break
        if group:
            os.killpg(proc.pid, signum)
        else:
            os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.strip(), err[-2000:]
    return proc.returncode, json.loads(out.strip().splitlines()[-1]), err, store


def test_ctrl_c_exits_130_and_json_still_says_what_was_written(tmp_path):
    import signal

    # As a terminal's Ctrl-C: the scan and its workers.
    rc, summary, err, store = stopped_scan(tmp_path, signal.SIGINT, group=True)
    assert rc == 130, err[-2000:]
    assert summary["interrupted"] and summary["signal"] == "SIGINT" and summary["ok"] >= 1
    assert "Traceback" not in err  # neither the scan's nor its workers'
    assert err.strip().splitlines()[-1].startswith("error: interrupted:")
    index = pipeline.open_index(store)  # what it wrote is there, and the same command resumes
    assert int((index.status == "ok").sum()) >= summary["ok"]
    assert (store / "zarr.json").exists()


@pytest.mark.parametrize("group", [True, False], ids=["scan-and-workers", "scan-only"])
def test_sigterm_exits_143_and_keeps_what_was_written(tmp_path, group):
    import signal

    # A batch system's time limit (SLURM signals every process of the job: group) or `kill PID`.
    rc, summary, err, store = stopped_scan(tmp_path, signal.SIGTERM, group=group)
    assert rc == 143, err[-2000:]
    assert summary["interrupted"] and summary["signal"] == "SIGTERM" and summary["ok"] >= 1
    assert summary["failed"] == 0  # workers killed with the scan fail no image
    assert "Traceback" not in err and "leaked" not in err
    assert err.strip().splitlines()[-1].startswith("error: terminated (SIGTERM):")
    index = pipeline.open_index(store)
    assert int((index.status == "ok").sum()) >= summary["ok"]
    assert set(index.status.values) == {"ok"}
