"""One batch job that holds a whole Dask cluster and runs a command against it.

Inside the allocation the script starts ``dask scheduler --scheduler-file``, then the
workers (slurm: one ``srun`` task per worker, across nodes; pbs: ``dask worker --nworkers``
on the one node), then runs the command, whose ``{scheduler_file}`` placeholder becomes
the scheduler file, and exits with its status. No batch system on compute nodes needed,
no mpirun. Knows nothing about what the command does.
"""
from __future__ import annotations

import os
import shlex
import sys

from dask.utils import format_bytes, parse_bytes

from .gpu import GPU_INDEX_ENV, WORKERS_PER_JOB_ENV
from .spec import ClusterError, ClusterSpec

SCHEDULER_FILE = "{scheduler_file}"
_SHUTDOWN = ("import sys; from distributed import Client; from distributed.security import Security; "
             "a = sys.argv[2:]; s = Security(require_encryption=True, tls_ca_file=a[0], tls_client_cert=a[1], "
             "tls_client_key=a[2] if len(a) > 2 else None) if a else None; "
             "Client(scheduler_file=sys.argv[1], timeout='20s', security=s).shutdown()")
SUBMIT_KINDS = ("slurm", "pbs")


def _mem(spec: ClusterSpec, suffix: str) -> str:
    # SLURM and PBS count in binary units but write them M / G (slurm) or mb / gb (pbs).
    mib = max(1, parse_bytes(spec.memory) // 2**20)
    return f"{mib}M" if suffix == "slurm" else f"{mib}mb"


def threads_per(spec: ClusterSpec) -> int:
    """Threads of each worker: the job's cores split over its workers, as dask-jobqueue does."""
    return max(1, spec.cores // spec.worker_processes)


def _header(spec: ClusterSpec, job_dir: str) -> list[str]:
    per_node = spec.worker_processes
    if spec.kind == "slurm":
        lines = [f"-J {spec.job_name}", f"-o {job_dir}/job-%j.out",
                 f"-N {spec.jobs}", f"--ntasks-per-node={per_node}",
                 f"--cpus-per-task={threads_per(spec)}", f"--mem={_mem(spec, 'slurm')}"]
        lines += [f"-p {spec.queue}"] if spec.queue else []
        lines += [f"-A {spec.account}"] if spec.account else []
        lines += [f"-t {spec.walltime}"] if spec.walltime else []
        lines += [f"--gres=gpu:{spec.gpus_per_job}"] if spec.gpus_per_job else []
        prefix = "#SBATCH"
    else:
        select = f"select=1:ncpus={spec.cores}:mem={_mem(spec, 'pbs')}"
        select += f":ngpus={spec.gpus_per_job}" if spec.gpus_per_job else ""
        lines = [f"-N {spec.job_name}", "-j oe", f"-o {job_dir}/", f"-l {select}"]
        lines += [f"-q {spec.queue}"] if spec.queue else []
        lines += [f"-A {spec.account}"] if spec.account else []
        lines += [f"-l walltime={spec.walltime}"] if spec.walltime else []
        prefix = "#PBS"
    lines += list(spec.job_extra_directives)
    return [f"{prefix} {line}" for line in lines]


def _tls_args(spec: ClusterSpec) -> str:
    if not spec.tls:
        return ""
    args = ["--tls-ca-file", spec.tls_ca_file, "--tls-cert", spec.tls_cert]
    args += ["--tls-key", spec.tls_key] if spec.tls_key else []
    return " " + shlex.join(a if a.startswith("--") else os.path.abspath(os.path.expanduser(a))
                            for a in args)


def _scheduler_bind(spec: ClusterSpec) -> str:
    if spec.interface:
        return f"--interface {shlex.quote(spec.interface)}"
    if spec.host:
        return f"--host {shlex.quote(spec.host)}"
    # Loopback unless workers on other nodes must reach it.
    return "--host 127.0.0.1" if spec.jobs == 1 else "--host \"$(hostname)\""


def batch_script(spec: ClusterSpec, command: list[str], job_dir: str) -> str:
    """The job script for ``spec.kind`` (slurm or pbs) that runs ``command`` on its own cluster."""
    if spec.kind not in SUBMIT_KINDS:
        raise ClusterError(f"submit needs kind slurm or pbs, not {spec.kind!r} "
                           "(lsf and sge: run the scan with that kind from a login node)")
    if spec.kind == "pbs" and spec.jobs != 1:
        raise ClusterError("a pbs batch job holds one node (jobs = 1); for more nodes run the scan "
                           "with kind 'pbs' from a login node, which submits one job per node")
    job_dir = os.path.abspath(job_dir)
    py = shlex.quote(spec.python or sys.executable)
    per_node = spec.worker_processes
    threads = threads_per(spec)
    worker_mem = format_bytes(parse_bytes(spec.memory) // per_node).replace(" ", "")
    tls = _tls_args(spec)
    tls_paths = "".join(" " + a for a in tls.split() if not a.startswith("--"))
    worker = (f"{py} -m distributed.cli.dask_worker --scheduler-file \"$SCHED\" --nthreads {threads} "
              f"--memory-limit {worker_mem} --death-timeout {spec.death_timeout}{tls}")
    if spec.local_directory:
        worker += f" --local-directory {spec.local_directory}"  # unquoted: may name $TMPDIR
    if spec.interface:
        worker += f" --interface {shlex.quote(spec.interface)}"
    if spec.gpus_per_job:
        worker += " --preload cluster.gpu"
    if spec.kind == "slurm":
        job_id, workdir = "$SLURM_JOB_ID", "${SLURM_SUBMIT_DIR:-$PWD}"
        # One srun task per worker; each keeps the GPU of its local rank.
        start_workers = (f"srun --kill-on-bad-exit=0 --ntasks=$SLURM_NTASKS --cpus-per-task="
                         f"{threads} bash -c "
                         + shlex.quote(f"{GPU_INDEX_ENV}=$SLURM_LOCALID exec {worker} --name "
                                       f"\"$SLURM_JOB_ID-$SLURM_PROCID\""))
        per_job_env = per_node
    else:
        job_id, workdir = "$PBS_JOBID", "${PBS_O_WORKDIR:-$PWD}"
        start_workers = f"{worker} --nworkers {per_node} --name \"pbs-$PBS_JOBID\""
        per_job_env = per_node
    cmd = " ".join('"$SCHED"' if a == SCHEDULER_FILE else shlex.quote(a) for a in command)
    prologue = "\n".join(spec.job_script_prologue)
    return f"""#!/usr/bin/env bash
{chr(10).join(_header(spec, job_dir))}
# Written by ssdnet submit: a Dask scheduler and workers inside this allocation, then the command.
set -uo pipefail
cd "{workdir}"
{prologue}
export DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD=spawn
export {WORKERS_PER_JOB_ENV}={per_job_env}
JOB_DIR={shlex.quote(job_dir)}
export SCHED="$JOB_DIR/scheduler-{job_id}.json"
{py} -m distributed.cli.dask_scheduler --scheduler-file "$SCHED" {_scheduler_bind(spec)} \\
    --port 0 --dashboard-address 127.0.0.1:0{tls} >"$JOB_DIR/scheduler-{job_id}.log" 2>&1 &
SCHED_PID=$!
{start_workers} >"$JOB_DIR/workers-{job_id}.log" 2>&1 &
WORKERS_PID=$!
{cmd}
rc=$?
# A graceful end: the scheduler closes its workers, which exit by themselves
# rather than being killed after the batch system's kill delay.
timeout 60 {py} -c {shlex.quote(_SHUTDOWN)} "$SCHED"{tls_paths} >/dev/null 2>&1
# Workers that had not registered yet never hear of the shutdown: a grace period, then kill.
for _ in $(seq 15); do kill -0 "$WORKERS_PID" 2>/dev/null || break; sleep 1; done
kill "$WORKERS_PID" "$SCHED_PID" 2>/dev/null
wait
rm -f "$SCHED"
exit $rc
"""
