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
from pipeline.cli import main
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


def test_scheduler_file_processes_run_tasks_and_a_scan(tmp_path, images, start_dask):
    with start_dask(tmp_path, workers=2) as (sched_file, address):
        spec = cluster.load_spec(None, kind="scheduler-file", scheduler_file=str(sched_file))
        with cluster.connect(spec) as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info(n_workers=-1)["workers"])
            futures = client.map(lambda x: x * x, range(20), pure=False)
            assert sum(client.gather(futures)) == sum(x * x for x in range(20))
            assert len({client.who_has(f)[f.key][0] for f in futures}) == 2  # both processes worked
            result = pipeline.scan(images, tmp_path / "scan.zarr", client=client, preset="fast",
                                   steps=10, size=48)
        # A client leaves a cluster it did not start running: connect again, by address.
        with cluster.connect(cluster.ClusterSpec(kind="address", address=address)) as client:
            assert set(client.scheduler_info(n_workers=-1)["workers"]) == workers
    assert result["ok"] == COUNT
    assert_complete(tmp_path / "scan.zarr", workers=workers)


def test_tls_only_scheduler_admits_only_certified_clients(tmp_path, images, start_dask, certs, capsys):
    tls = {"tls_ca_file": certs["ca"], "tls_cert": certs["cert"], "tls_key": certs["key"]}
    with start_dask(tmp_path, workers=1, certs=certs) as (sched_file, address):
        assert address.startswith("tls://")
        spec = cluster.ClusterSpec(kind="scheduler-file", scheduler_file=str(sched_file), **tls)
        with cluster.connect(spec) as client:
            client.wait_for_workers(1, timeout=60)
            assert client.submit(lambda: "over tls").result() == "over tls"
            assert all(a.startswith("tls://") for a in client.scheduler_info(n_workers=-1)["workers"])

        # No certificates, plain TCP to the TLS port, a certificate from another CA: all refused.
        with pytest.raises(cluster.ClusterError, match="needs tls_ca_file and tls_cert"):
            with cluster.connect(cluster.ClusterSpec(kind="address", address=address), timeout="5s"):
                pass
        with pytest.raises(cluster.ClusterError):
            with cluster.connect(cluster.ClusterSpec(kind="address", address=address.replace("tls", "tcp")),
                                 timeout="5s"):
                pass
        stranger = cluster.ClusterSpec(kind="address", address=address, tls_ca_file=certs["other_ca"],
                                       tls_cert=certs["stranger_cert"], tls_key=certs["stranger_key"])
        with pytest.raises(cluster.ClusterError):
            with cluster.connect(stranger, timeout="5s"):
                pass

        # The command line: refused without the TLS flags (exit 2, one line), a full scan with them.
        with pytest.raises(SystemExit) as refused:
            main(["scan", images, "--out", str(tmp_path / "plain.zarr"), "--scheduler-file", str(sched_file),
                  *SCAN])
        err = capsys.readouterr().err
        assert refused.value.code == 2 and err.startswith("error: scheduler file ") and "tls" in err
        run = ssdnet("scan", images, "--out", tmp_path / "scan.zarr", "--scheduler-file", sched_file,
                     "--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"],
                     *SCAN, "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["ok"] == COUNT
    assert_complete(tmp_path / "scan.zarr")
