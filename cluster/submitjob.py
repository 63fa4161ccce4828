"""Hand a job script to the batch system (sbatch / qsub) and, if asked, wait for its end."""
from __future__ import annotations

import subprocess
import time

from .spec import ClusterError


def submit(script_path: str, kind: str, wait: bool = False,
           timeout: float | None = None) -> tuple[str, int]:
    """Submit a job script; returns (job id, exit status of the job when ``wait``, else 0).

    ``timeout`` (slurm): seconds to wait at most; then ClusterError, the job left running."""
    if kind == "slurm":
        cmd = ["sbatch", "--parsable", script_path]
    else:
        cmd = ["qsub"] + (["-W", "block=true"] if wait else []) + [script_path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ClusterError(f"{cmd[0]} not found: is this a {kind} login node?") from None
    job_id = proc.stdout.strip().splitlines()[0].split(";")[0] if proc.stdout.strip() else ""
    if not job_id:
        raise ClusterError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {proc.stderr.strip()}")
    if not wait:
        return job_id, 0
    if kind == "slurm":
        # Not sbatch --wait: it polls at growing intervals (up to 32 s) after the job ends.
        return job_id, wait_slurm(job_id, timeout=timeout)
    return job_id, proc.returncode


_SLURM_DONE = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
               "PREEMPTED", "BOOT_FAIL", "DEADLINE")


def wait_slurm(job_id: str, poll: float = 1.0, timeout: float | None = None) -> int:
    """Block until a SLURM job ends; its exit status (128 + signal when killed, 1 when unknown)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        out = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True,
                             text=True, check=False).stdout
        fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
        state = fields.get("JobState", "")
        if state in _SLURM_DONE or not out:
            code, _, signal = fields.get("ExitCode", "1:0").partition(":")
            if state == "COMPLETED":
                return 0
            return int(code) or (128 + int(signal) if signal.isdigit() and int(signal) else 1)
        if deadline is not None and time.monotonic() > deadline:
            raise ClusterError(f"job {job_id} still {state or 'queued'} after {timeout:.0f}s")
        time.sleep(poll)
