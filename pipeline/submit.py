"""``ssdnet submit``: one batch job that runs ``ssdnet scan`` on a Dask cluster inside its allocation.

The job script (cluster.batch) starts a scheduler and workers in the allocation; the scan
connects through the scheduler file, and reads TLS settings from the same config file.
"""
from __future__ import annotations

import os
import shlex
import sys
from typing import Any

import cluster
from cluster.batch import SCHEDULER_FILE, batch_script
from cluster.submitjob import submit


def scan_command(sources: list[str], store: str, config_path: str | None,
                 scan_args: str = "", python: str = "") -> list[str]:
    """The ``ssdnet scan`` command line the job runs, with absolute paths (jobs start elsewhere)."""
    cmd = [python or sys.executable, "-m", "pipeline.cli", "scan",
           *(os.path.abspath(s) for s in sources), "--out", os.path.abspath(store)]
    cmd += shlex.split(scan_args)
    if config_path:
        cmd += ["--cluster-config", os.path.abspath(config_path)]
    return cmd + ["--scheduler-file", SCHEDULER_FILE]


def default_job_dir(store: str) -> str:
    store = os.path.abspath(store).rstrip("/")
    return store + ".jobs"


def submit_scan(sources: list[str], store: str, spec: cluster.ClusterSpec, config_path: str | None,
                job_dir: str | None = None, scan_args: str = "", dry_run: bool = False,
                wait: bool = False) -> dict[str, Any]:
    """Write the job script (and submit it unless ``dry_run``); returns what happened."""
    job_dir = os.path.abspath(job_dir or default_job_dir(store))
    command = scan_command(sources, store, config_path, scan_args, spec.python)
    script = batch_script(spec, command, job_dir)
    if dry_run:
        return {"script": script}
    os.makedirs(job_dir, exist_ok=True)
    path = os.path.join(job_dir, "ssdnet-scan.sh")
    with open(path, "w") as fh:
        fh.write(script)
    job_id, status = submit(path, spec.kind, wait=wait)
    return {"script": script, "path": path, "job_id": job_id, "status": status, "job_dir": job_dir}
