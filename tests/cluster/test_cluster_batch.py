"""cluster.batch: one sbatch job holds scheduler, workers and the command, on the real SLURM."""
from __future__ import annotations

import sys

import cluster
from cluster.batch import SCHEDULER_FILE, batch_script, submit

PROBE = ("import sys, distributed; c = distributed.Client(scheduler_file=sys.argv[1], timeout='60s'); "
         "c.wait_for_workers(2, timeout=60); "
         "jobs = set(c.run(lambda: __import__('os').environ.get('SLURM_JOB_ID')).values()); "
         "print('RESULT', sum(c.gather(c.map(lambda x: x * x, range(10)))), len(jobs))")


def test_batch_job_runs_the_command_on_its_own_cluster(tmp_path, slurm):
    spec = cluster.ClusterSpec(kind="slurm", cores=2, processes=2, memory="2GiB", walltime="00:05:00",
                               job_name="ssdnet-batch-test")
    script = batch_script(spec, [sys.executable, "-c", PROBE, SCHEDULER_FILE], str(tmp_path))
    path = tmp_path / "job.sh"
    path.write_text(script)
    job_id, status = submit(str(path), "slurm", wait=True)
    out = (tmp_path / f"job-{job_id}.out").read_text()
    assert status == 0, out
    # 285 = sum of squares below 10, computed by 2 workers that all ran in this one job.
    assert "RESULT 285 1" in out, out
    assert not (tmp_path / f"scheduler-{job_id}.json").exists()  # cleaned up after the command


def test_failing_command_fails_the_job(tmp_path, slurm):
    spec = cluster.ClusterSpec(kind="slurm", cores=1, memory="1GiB", walltime="00:05:00")
    path = tmp_path / "job.sh"
    path.write_text(batch_script(spec, [sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path)))
    job_id, status = submit(str(path), "slurm", wait=True)
    assert status == 3, (tmp_path / f"job-{job_id}.out").read_text()
