"""cluster.batch on the real SLURM: the job's exit status is the command's (the scan itself: test_cluster_scans)."""
from __future__ import annotations

import sys

import cluster
from cluster.batch import SCHEDULER_FILE, batch_script
from cluster.submitjob import submit

# Uses the job's cluster, then fails as a scan with failed images does (exit 3).
PROBE = ("import sys, distributed; c = distributed.Client(scheduler_file=sys.argv[1], timeout='60s'); "
         "c.wait_for_workers(1, timeout=60); print('RESULT', c.submit(sum, [1, 2]).result()); "
         "raise SystemExit(3)")


def test_job_status_is_the_commands(tmp_path, slurm, slurm_jobs):
    spec = cluster.ClusterSpec(kind="slurm", cores=1, memory="1GiB", walltime="00:05:00")
    path = tmp_path / "job.sh"
    path.write_text(batch_script(spec, [sys.executable, "-c", PROBE, SCHEDULER_FILE], str(tmp_path)))
    job_id, status = submit(str(path), "slurm", wait=True, timeout=150)
    out = (tmp_path / f"job-{job_id}.out").read_text()
    assert status == 3, out
    assert "RESULT 3" in out
    assert job_id not in slurm_jobs()  # the workers ended with the job
    assert not (tmp_path / f"scheduler-{job_id}.json").exists()
