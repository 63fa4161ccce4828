"""cluster.batch on the real SLURM: the job's exit status is the command's (the scan itself: test_cluster_scans)."""
from __future__ import annotations

import sys

import cluster
from cluster.batch import batch_script, submit

def test_failing_command_fails_the_job(tmp_path, slurm):
    spec = cluster.ClusterSpec(kind="slurm", cores=1, memory="1GiB", walltime="00:05:00")
    path = tmp_path / "job.sh"
    path.write_text(batch_script(spec, [sys.executable, "-c", "raise SystemExit(3)"], str(tmp_path)))
    job_id, status = submit(str(path), "slurm", wait=True)
    assert status == 3, (tmp_path / f"job-{job_id}.out").read_text()
