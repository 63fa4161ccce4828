"""The slurm kind against the real SLURM on this machine: worker jobs go through sbatch."""
from __future__ import annotations

import os
import time

import pytest

import cluster


def slurm_spec(tmp_path, **extra) -> cluster.ClusterSpec:
    lines = ['kind = "slurm"', 'host = "127.0.0.1"', "cores = 1", 'memory = "1GiB"',
             'walltime = "00:05:00"', f'log_directory = "{tmp_path / "logs"}"',
             'job_name = "ssdnet-test"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in extra.items()]
    path = tmp_path / "slurm.toml"
    path.write_text("\n".join(lines) + "\n")
    return cluster.load_spec(str(path))


def job_of_each_worker(client) -> dict[str, str]:
    # Workers retire while this asks (that is what the tests watch): one that leaves between the
    # scheduler's list and the call is left out of the answer, not a failure of the probe.
    return client.run(lambda: os.environ.get("SLURM_JOB_ID", ""), on_error="ignore")


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


def test_worker_runs_inside_a_slurm_job_and_the_job_ends_with_us(tmp_path, slurm, slurm_jobs):
    spec = slurm_spec(tmp_path, jobs=1)
    with cluster.connect(spec) as client:
        client.wait_for_workers(1, timeout=90)
        jobs = set(job_of_each_worker(client).values())
        assert len(jobs) == 1 and all(jobs), f"worker not inside a SLURM job: {jobs}"
        assert jobs <= slurm_jobs()  # SLURM itself lists the job
        assert client.submit(lambda: sum(range(10))).result() == 45
    # Closing the cluster cancels the worker job (scancel), it does not linger in the queue.
    wait_until(lambda: not (jobs & slurm_jobs()), 30, f"job {jobs} to leave squeue")


def test_retired_workers_are_replaced_so_a_scan_outlives_one_job(tmp_path, slurm, slurm_jobs):
    # lifetime stands in for "the walltime is near": the worker retires, its job ends and the
    # adaptive cluster submits a new one, with no task lost.
    spec = slurm_spec(tmp_path, jobs=1, lifetime="4s", lifetime_stagger="1s")
    with cluster.connect(spec) as client:
        client.wait_for_workers(1, timeout=90)
        first = set(job_of_each_worker(client).values())
        later = wait_until(lambda: set(job_of_each_worker(client).values()) - first - {""}, 90,
                           "a replacement worker job")
        assert later and not (later & first)
        assert client.submit(lambda x: x + 1, 41, pure=False).result(timeout=60) == 42
