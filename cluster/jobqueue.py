"""Batch-system kinds (slurm, pbs, lsf, sge) through dask-jobqueue: worker jobs from this process.

The scheduler runs here; each job runs ``worker_processes`` workers with one GPU each.
Workers with a lifetime retire before the walltime and the cluster adapts, so jobs that
end are replaced and a scan outlives any single allocation.
"""
from __future__ import annotations

import sys
from typing import Any

from dask.utils import parse_bytes

from .gpu import WORKERS_PER_JOB_ENV
from .security import make_security, protocol
from .spec import ClusterError, ClusterSpec

_CLASSES = {"slurm": "SLURM", "pbs": "PBS", "lsf": "LSF", "sge": "SGE"}


def _module():
    try:
        import dask_jobqueue
    except ImportError:
        raise ClusterError("batch kinds (slurm, pbs, lsf, sge) need dask-jobqueue: "
                           "pip install 'ssdnet[jobqueue]'") from None
    return dask_jobqueue


def gpu_directives(spec: ClusterSpec) -> list[str]:
    n = spec.gpus_per_job
    if not n:
        return []
    return {"slurm": [f"--gres=gpu:{n}"], "lsf": [f'-gpu "num={n}"'], "sge": [f"-l gpu={n}"],
            "pbs": []}[spec.kind]  # pbs: in the select statement (resource_spec)


def job_kwargs(spec: ClusterSpec) -> dict[str, Any]:
    """Keyword arguments of the Job / JobQueueCluster class for ``spec.kind``."""
    worker_args: list[str] = []
    prologue = [f"export {WORKERS_PER_JOB_ENV}={spec.worker_processes}",
                # Forked workers cannot use CUDA; dask's default is spawn, made explicit here
                # so a site-wide dask config cannot turn it off.
                "export DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD=spawn"]
    if spec.gpus_per_job:
        worker_args += ["--preload", "cluster.gpu"]
    if spec.lifetime:
        worker_args += ["--lifetime", spec.lifetime, "--lifetime-stagger", spec.lifetime_stagger or "0s"]
    kw: dict[str, Any] = dict(
        cores=spec.cores, memory=spec.memory, processes=spec.worker_processes,
        walltime=spec.walltime or None, job_name=spec.job_name,
        python=spec.python or sys.executable,
        local_directory=spec.local_directory or None,
        interface=spec.interface or None,
        log_directory=spec.log_directory or None,
        death_timeout=spec.death_timeout,
        queue=spec.queue or None,
        job_extra_directives=gpu_directives(spec) + list(spec.job_extra_directives),
        job_script_prologue=prologue + list(spec.job_script_prologue),
        worker_extra_args=worker_args,
        security=make_security(spec),
    )
    if spec.account:
        kw["account" if spec.kind in ("slurm", "pbs") else "project"] = spec.account
    if spec.kind == "pbs" and spec.gpus_per_job:
        from dask_jobqueue.pbs import pbs_format_bytes_ceil

        mem = pbs_format_bytes_ceil(parse_bytes(spec.memory))
        kw["resource_spec"] = f"select=1:ncpus={spec.cores}:ngpus={spec.gpus_per_job}:mem={mem}"
    return kw


def worker_job_script(spec: ClusterSpec) -> str:
    """The script each worker job runs, without starting a scheduler."""
    job_cls = getattr(_module(), f"{_CLASSES[spec.kind]}Cluster").job_cls
    kw = job_kwargs(spec)
    kw["protocol"] = protocol(spec) if spec.tls else None
    return job_cls(scheduler=f"{protocol(spec)}<scheduler>:<port>", name="<worker>", **kw).job_script()


def jobqueue_cluster(spec: ClusterSpec):
    cls = getattr(_module(), f"{_CLASSES[spec.kind]}Cluster")
    kw = job_kwargs(spec)
    scheduler_options = dict(spec.scheduler_http)
    if spec.host:
        scheduler_options["host"] = spec.host
    try:
        cluster = cls(scheduler_options=scheduler_options, **kw)
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"kind {spec.kind!r}: {exc}") from None
    if spec.adapt_max:
        cluster.adapt(minimum_jobs=spec.adapt_min, maximum_jobs=spec.adapt_max)
    elif spec.lifetime:
        # A fixed-size cluster does not replace retired workers; an adaptive one pinned to
        # the same size does.
        cluster.adapt(minimum_jobs=spec.jobs, maximum_jobs=spec.jobs)
    else:
        cluster.scale(jobs=spec.jobs)
    return cluster
