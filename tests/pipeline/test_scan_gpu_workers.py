"""GPU workers are found by asking the workers, whoever started the cluster (issue 27).

This machine has no GPU: a worker plugin makes the workers of the session cluster report a
CUDA device with ample free memory and a measured pack of 8, which is what a GPU worker of a
dask-cuda or batch cluster reports. The fits themselves still run on the CPU.
"""
from __future__ import annotations

import json
import logging
import time

import pytest
from distributed.diagnostics.plugin import WorkerPlugin

import pipeline
from pipeline.exitcodes import Refused
from pipeline.scanner import Scanner, Tally
from pipeline.scanoptions import ScanOptions
from pipeline.reading import Descriptor
from pipeline.worker import fit_images, gpu_index

from scan_fixtures import CFG, FAST, client, png_bytes, run_cli, scheduler_args, write_images  # noqa: F401

MEASURED_PACK = 8


def _cuda_report(device: str = "auto") -> dict:
    return {"device": "cuda:0", "type": "cuda", "name": "a GPU said to be here", "free_bytes": 80 << 30,
            "total_bytes": 96 << 30, "error": ""}


def _measured_pack(cfg, *args, **kwargs) -> int:
    return MEASURED_PACK


class ReportsCuda(WorkerPlugin):
    """Makes a worker's ssdnet.describe_device and ssdnet.pack_size answer as a GPU worker's."""

    name = "test-reports-cuda"

    def setup(self, worker) -> None:
        from ssdnet import packing

        self.saved = packing.describe_device, packing.pack_size
        packing.describe_device, packing.pack_size = _cuda_report, _measured_pack

    def teardown(self, worker) -> None:
        from ssdnet import packing

        packing.describe_device, packing.pack_size = self.saved


@pytest.fixture
def gpu_client(client):
    client.register_plugin(ReportsCuda())
    try:
        yield client
    finally:
        client.unregister_worker_plugin(ReportsCuda.name)


def test_a_cluster_the_scan_did_not_start_packs_when_its_workers_have_gpus(gpu_client, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ssdnet.scan")
    write_images(tmp_path / "src", 6)
    summary = pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=gpu_client, **FAST)
    assert (summary["ok"], summary["failed"]) == (6, 0)
    assert f"packing {MEASURED_PACK} fits per task" in caplog.text
    assert "2 worker(s), 2 with a GPU" in caplog.text


def test_the_same_cluster_without_gpus_does_not_pack(client, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ssdnet.scan")
    write_images(tmp_path / "src", 2)
    summary = pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=client, **FAST)
    assert summary["ok"] == 2
    assert "packing" not in caplog.text and "2 worker(s), 0 with a GPU" in caplog.text


def test_near_the_end_packs_shrink_so_no_gpu_worker_idles(gpu_client, tmp_path):
    from pipeline.store import StoreWriter

    writer = StoreWriter(str(tmp_path / "s.zarr"), CFG, "float32")
    try:
        scanner = Scanner(gpu_client, writer, CFG, ScanOptions(), gpu_workers=sorted(gpu_client.nthreads()))
        assert scanner.pack == MEASURED_PACK
        assert scanner.pack_now() == MEASURED_PACK  # entries not counted yet
        scanner.tally.total, scanner.tally.seen = 100, 10
        assert scanner.pack_now() == MEASURED_PACK
        scanner.tally.seen = 94  # 6 left for 2 workers
        assert scanner.pack_now() == 3
        scanner.tally.seen = 100
        assert scanner.pack_now() == 1
    finally:
        writer.close()


def test_a_device_a_worker_lacks_is_refused_naming_the_worker(client, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine's workers have CUDA")
    write_images(tmp_path / "src", 1)
    with pytest.raises(Refused, match=r"worker tcp://127\.0\.0\.1:\d+ \(and 1 more workers\): .*CUDA is not available"):
        pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=client, device="cuda", **FAST)


def test_a_packed_task_reports_each_map_as_it_is_made(client):
    events = []
    topic = "test-pack-progress"
    client.subscribe_topic(topic, lambda event: events.append(event[1]))
    try:
        items = [(f"img{i}.png", Descriptor("bytes", f"img{i}.png", data=png_bytes(i, 32, 32)), "") for i in range(3)]
        rows = client.submit(fit_images, "tok", topic, items, CFG, "float32", pure=False).result()
        assert [r["status"] for r in rows] == ["ok"] * 3
        deadline = time.monotonic() + 10
        while len(events) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.unsubscribe_topic(topic)
    assert [e["kind"] for e in events] == ["start", "map", "map", "map"]
    assert [e["done"] for e in events[1:]] == [1, 2, 3]
    assert all(e["token"] == "tok" for e in events)


def test_each_worker_keeps_its_own_gpu():
    assert [gpu_index(i, 4, spread=True) for i in range(6)] == [0, 1, 2, 3, 0, 1]  # the scan's own cluster
    assert gpu_index("tcp://a:1", 1, spread=False) == 0
    assert gpu_index("dask-cuda-worker-3", 1, spread=False) == 0  # dask-cuda: its own GPU is device 0


def test_a_jobs_workers_that_see_all_its_gpus_pick_theirs_by_name(monkeypatch):
    monkeypatch.setenv("SSDNET_WORKERS_PER_JOB", "4")
    assert [gpu_index(f"SLURMCluster-3-{i}", 4, spread=False) for i in range(4)] == [0, 1, 2, 3]


def test_progress_lines_off_a_terminal():
    import io

    from pipeline.progress import ProgressLog

    out = io.StringIO()
    log = ProgressLog(every=3600, stream=out)
    tally = Tally(ok=3, seen=10, total=10)
    tally.in_flight, tally.mapped = 7, 2
    log(tally, exhausted=False)
    assert out.getvalue() == ""  # not due yet
    log.every = 0
    log(tally, exhausted=False)
    line = out.getvalue()
    assert line.startswith("progress: 3/10 fitted  ok 3  failed 0  skipped 0  in flight 7 (2 mapped)")
    tally.in_flight = 0
    log.every = 3600
    log(tally, exhausted=True)  # the last one is always written
    assert out.getvalue().count("\n") == 2


def test_a_scan_off_a_terminal_writes_progress_lines(client, tmp_path, capsys):
    write_images(tmp_path / "src", 2)
    args = ["scan", tmp_path / "src", "--out", tmp_path / "s.zarr", "--preset", "fast", "--steps", "10",
            *scheduler_args(client)]
    assert run_cli([*args, "--progress-every", "0.001", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["ok"] == 2  # stdout stays one JSON object
    assert "progress: 2/2 fitted  ok 2  failed 0  skipped 0" in out.err
    assert run_cli([*args, "--progress-every", "0"]) == 0
    assert "progress:" not in capsys.readouterr().err
