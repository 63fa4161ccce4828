"""The store lock: an O_EXCL lock file with owner and heartbeat, for filesystems where flock is
not honoured. Real processes, real files."""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from pipeline.exitcodes import Refused
from pipeline.lock import LOCK_NAME, holder_of, store_lock

HOLD = ("import sys, time; from pipeline.lock import store_lock\n"
        "from pipeline.exitcodes import Refused\n"
        "try:\n"
        "    with store_lock(sys.argv[1], beat_s=0.2):\n"
        "        print('locked', flush=True); time.sleep(float(sys.argv[2]))\n"
        "except Refused as exc:\n"
        "    print('refused', exc, flush=True)\n")


def _holder(store, seconds: float = 60) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLD, str(store), str(seconds)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


def test_a_live_lock_is_refused_and_names_its_holder(tmp_path):
    holder = _holder(tmp_path / "s")
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Refused, match=f"pid {holder.pid} on {socket.gethostname()}, heartbeat") as exc:
            with store_lock(tmp_path / "s"):
                pass
        assert "\n" not in str(exc.value)
        # Its heartbeat goes on while it holds the lock.
        first = holder_of(tmp_path / "s")["heartbeat"]
        time.sleep(0.6)
        assert holder_of(tmp_path / "s")["heartbeat"] > first
    finally:
        holder.kill()
        holder.wait()


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path, caplog):
    holder = _holder(tmp_path / "s")
    assert holder.stdout.readline().strip() == "locked"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert holder_of(tmp_path / "s")["pid"] == holder.pid  # left behind by kill -9
    with caplog.at_level(logging.WARNING, logger="ssdnet.scan"):
        with store_lock(tmp_path / "s"):
            assert holder_of(tmp_path / "s")["pid"] == os.getpid()
    assert f"taking over the store lock" in caplog.text and f"its process {holder.pid} on this host is gone" in caplog.text
    assert holder_of(tmp_path / "s") is None  # released


def test_a_lock_whose_heartbeat_stopped_is_stale(tmp_path, caplog):
    store = tmp_path / "s"
    store.mkdir()
    # A holder on another node (its pid cannot be checked from here), silent for 10 minutes.
    (store / LOCK_NAME).write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "token": "x",
                                               "heartbeat": time.time() - 600}))
    with caplog.at_level(logging.WARNING, logger="ssdnet.scan"):
        with store_lock(store, stale_s=120):
            pass
    assert "of pid 1 on node-elsewhere" in caplog.text and "heartbeat was 600 s ago" in caplog.text
    # Recent: refused.
    (store / LOCK_NAME).write_text(json.dumps({"host": "node-elsewhere", "pid": 1, "token": "x",
                                               "heartbeat": time.time() - 5}))
    with pytest.raises(Refused, match="pid 1 on node-elsewhere"):
        with store_lock(store, stale_s=120):
            pass


def test_an_earlier_versions_lock_file_nobody_holds_is_taken(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    (store / LOCK_NAME).write_text("12345")  # what the flock lock left in every store it wrote
    with store_lock(store):
        assert holder_of(store)["pid"] == os.getpid()


def test_two_processes_racing_for_a_stale_lock_one_wins(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    (store / LOCK_NAME).write_text(json.dumps({"host": "gone", "pid": 1, "token": "x", "heartbeat": 0}))
    racers = [_holder(store, 3) for _ in range(2)]
    try:
        said = sorted(r.stdout.readline().split(" ", 1)[0].strip() for r in racers)
    finally:
        for r in racers:
            r.kill()
            r.wait()
    assert said == ["locked", "refused"]


def test_a_scan_refused_by_a_live_lock_exits_2_in_one_line(tmp_path, capsys):
    from scan_fixtures import run_cli, write_images

    write_images(tmp_path / "src", 1)
    holder = _holder(tmp_path / "s.zarr")
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert run_cli(["scan", tmp_path / "src", "--out", tmp_path / "s.zarr"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: store ") and f"pid {holder.pid}" in err and len(err.splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()
