"""Whole scans on real clusters: SLURM worker jobs, an sbatch job that holds everything, a
scheduler file and a TLS-only scheduler. Each ends with every image in the store."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import cluster
import pipeline
from ssdnet.synthetic import write_dataset

SCAN = ["--preset", "fast", "--steps", "10", "--size", "48"]
COUNT = 2


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("archive")
    write_dataset(root, COUNT, size=48)
    return str(root / "images")


def ssdnet(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=240)


def assert_complete(store, workers: set[str] | None = None) -> None:
    index = pipeline.open_index(store)
    assert index.sizes["image"] == COUNT
    assert list(index["status"].values) == ["ok"] * COUNT
    for image_id in index["image"].values:
        assert pipeline.open_map(store, str(image_id)).shape == (48, 48)
    if workers is not None:
        assert set(index["worker"].values) <= workers


def test_scan_on_slurm_worker_jobs(tmp_path, images, slurm, slurm_jobs):
    cfg = tmp_path / "slurm.toml"
    cfg.write_text(f'kind = "slurm"\nhost = "127.0.0.1"\ncores = 1\nmemory = "2GiB"\njobs = 2\n'
                   f'walltime = "00:10:00"\nlog_directory = "{tmp_path / "logs"}"\n')
    store = tmp_path / "scan.zarr"
    with cluster.connect(cluster.load_spec(str(cfg))) as client:
        client.wait_for_workers(2, timeout=120)
        in_jobs = client.run(lambda: os.environ.get("SLURM_JOB_ID", ""))
        assert all(in_jobs.values()) and set(in_jobs.values()) <= slurm_jobs()
        result = pipeline.scan(images, store, client=client, preset="fast", steps=10, size=48)
    assert result["ok"] == COUNT and result["failed"] == 0
    assert_complete(store, workers=set(in_jobs))  # every map was fitted inside a SLURM job


def test_ssdnet_submit_runs_the_scan_in_one_batch_job(tmp_path, images, slurm):
    cfg = tmp_path / "cluster.toml"
    cfg.write_text('kind = "slurm"\ncores = 1\nmemory = "2GiB"\nwalltime = "00:10:00"\n'
                   'job_name = "ssdnet-submit-test"\n')
    store = tmp_path / "scan.zarr"
    run = ssdnet("submit", images, "--out", store, "--wait", "--scan-args", " ".join(SCAN + ["--json"]),
                 cwd=tmp_path, env={"SSDNET_CLUSTER_CONFIG": str(cfg)})
    assert run.returncode == 0, run.stdout + run.stderr
    job_id = run.stdout.split("submitted slurm job ")[1].split(":")[0]
    out = (tmp_path / "scan.zarr.jobs" / f"job-{job_id}.out").read_text()
    summary = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    assert summary["ok"] == COUNT and summary["failed"] == 0, out
    assert_complete(store)


def test_scan_through_scheduler_file_processes(tmp_path, images, start_dask):
    with start_dask(tmp_path, workers=2) as (sched_file, _address):
        spec = cluster.ClusterSpec(kind="scheduler-file", scheduler_file=str(sched_file))
        with cluster.connect(spec) as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info(n_workers=-1)["workers"])
            result = pipeline.scan(images, tmp_path / "scan.zarr", client=client, preset="fast",
                                   steps=10, size=48)
    assert result["ok"] == COUNT
    assert_complete(tmp_path / "scan.zarr", workers=workers)


def test_ssdnet_scan_through_a_tls_only_scheduler(tmp_path, images, start_dask, certs):
    with start_dask(tmp_path, workers=1, certs=certs) as (sched_file, _address):
        refused = ssdnet("scan", images, "--out", tmp_path / "plain.zarr", "--scheduler-file", sched_file,
                         *SCAN)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith("error: scheduler file ") and "tls" in refused.stderr
        run = ssdnet("scan", images, "--out", tmp_path / "scan.zarr", "--scheduler-file", sched_file,
                     "--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"],
                     *SCAN, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ok"] == COUNT
    assert_complete(tmp_path / "scan.zarr")
