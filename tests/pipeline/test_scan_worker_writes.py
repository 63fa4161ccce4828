"""Workers write their own map and thumbnail chunks; the client only places them and commits the
index. Checked on the session's LocalCluster of worker processes, with real stores and files."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np

import pipeline
from pipeline.chunks import INCOMING, sees_probe, unreachable_workers
from pipeline.integrity import chunk_file
from pipeline.layout import BROWSE, browse_factor, downsample, store_attrs
from scan_fixtures import FAST, client, reference_map, scheduler_args, write_images  # noqa: F401


def _chunk_times(store, index) -> list[tuple[int, int]]:
    """(chunk file mtime, row finished_at) in ns for every ok row."""
    out = []
    for group in {f"{int(h)}x{int(w)}" for h, w in zip(index.height.values, index.width.values)}:
        import zarr
        ids = [str(i) for i in zarr.open_group(str(store), mode="r")[group]["image"][:]]
        for row, image_id in enumerate(ids):
            if image_id:
                finished = int(index.sel(image=image_id).finished_at.values.astype("int64"))
                out.append((chunk_file(store, group, "anomaly_map", row, 3).stat().st_mtime_ns, finished))
    return out


def test_workers_write_the_chunks_and_the_client_places_them(client, tmp_path):
    src = tmp_path / "w"
    paths = write_images(src, 4)
    store = tmp_path / "s.zarr"
    result = pipeline.scan(src, store, client=client, **FAST)
    assert result["ok"] == 4 and result["map_writes"] == "workers"
    assert store_attrs(store)["map_writes"] == "workers"
    assert not (store / INCOMING).exists()
    index = pipeline.open_index(store)
    # Each chunk's file was written before its worker stamped the row finished: by the worker,
    # not by the client (which receives the row only after that).
    times = _chunk_times(store, index)
    assert len(times) == 4 and all(written <= finished for written, finished in times)
    assert {str(w) for w in index.worker.values} <= set(client.nthreads())
    for p in paths:
        np.testing.assert_allclose(pipeline.open_map(store, f"w/{p.name}").values, reference_map(p.read_bytes()),
                                   rtol=1e-5, atol=1e-5)
    # The workers stage the browse level too: the full maps' block means, row for row.
    import zarr
    for name, group in zarr.open_group(str(store), mode="r").groups():
        if "anomaly_map" in group:
            full, low = group["anomaly_map"][:], group[BROWSE][:]
            np.testing.assert_allclose(low, downsample(full, browse_factor(*full.shape[1:])), rtol=1e-6)
            assert np.isfinite(low[: len([i for i in group["image"][:] if i])]).all(), name
    assert pipeline.scan(src, store, client=client, verify=True, **FAST)["skipped"] == 4  # crc and maps agree


def test_map_writes_client_ships_the_maps_back(client, tmp_path):
    src = tmp_path / "c"
    paths = write_images(src, 2)
    store = tmp_path / "s.zarr"
    result = pipeline.scan(src, store, client=client, map_writes="client", **FAST)
    assert result["map_writes"] == "client" and store_attrs(store)["map_writes"] == "client"
    times = _chunk_times(store, pipeline.open_index(store))
    assert all(written > finished for written, finished in times)  # written by the client, afterwards
    np.testing.assert_allclose(pipeline.open_map(store, f"c/{paths[1].name}").values,
                               reference_map(paths[1].read_bytes()), rtol=1e-5, atol=1e-5)


def test_the_probe_needs_the_same_folder_not_one_of_the_same_name(client, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    assert unreachable_workers(client, str(folder)) == []
    assert not sees_probe(str(folder), "another token")  # a same-named folder on another disk
    assert not sees_probe(str(tmp_path / "nowhere"), "x")


def test_kill_9_of_the_client_leaves_a_store_that_resumes_without_refitting(client, tmp_path):
    src = tmp_path / "k"
    write_images(src, 10)
    store = tmp_path / "s.zarr"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "scan", str(src), "--out", str(store),
                             "--write-every", "0", "--progress-every", "0", *scheduler_args(client),
                             "--preset", "fast", "--steps", "10"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        done = 0
        while done < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            try:
                done = int((pipeline.open_index(store).status.values == "ok").sum())
            except Exception:  # noqa: BLE001 - not a store yet, or metadata being rewritten
                done = 0
        assert proc.poll() is None, "the scan ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    index = pipeline.open_index(store)  # opens, without consolidated metadata
    finished = {str(i): int(t) for i, t, s in zip(index.image.values, index.finished_at.values.astype("int64"),
                                                     index.status.values) if s == "ok"}
    assert 3 <= len(finished) < 10
    for image_id in finished:
        data = (src / image_id.split("/", 1)[1]).read_bytes()
        np.testing.assert_allclose(pipeline.open_map(store, image_id).values, reference_map(data),
                                   rtol=1e-5, atol=1e-5)
    resumed = pipeline.scan(src, store, client=client, **FAST)
    assert (resumed["ok"], resumed["skipped"], resumed["failed"]) == (10 - len(finished), len(finished), 0)
    after = pipeline.open_index(store)
    assert {i: int(after.sel(image=i).finished_at.values.astype("int64")) for i in finished} == finished
    assert not (store / INCOMING).exists()
