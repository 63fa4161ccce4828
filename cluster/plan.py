"""What a spec would get: worker and GPU counts, without starting anything (except a look at
an existing scheduler, which is asked rather than guessed)."""
from __future__ import annotations

import os
from typing import Any

from .gpu import count_gpus
from .spec import JOBQUEUE_KINDS, ClusterSpec


def plan(spec: ClusterSpec, probe_timeout: str = "10s") -> dict[str, Any]:
    """``{"workers": int | "min-max", "threads": ..., "gpus": ..., "note": str}``."""
    if spec.kind == "local":
        n = spec.workers or (os.cpu_count() or 1)
        return {"workers": n, "threads": n * spec.threads_per_worker, "gpus": 0,
                "note": f"{count_gpus()} GPU(s) visible here; kind 'cuda' gives one worker per GPU"}
    if spec.kind == "cuda":
        gpus = count_gpus()
        n = min(spec.workers, gpus) if spec.workers else gpus
        return {"workers": n, "threads": n * spec.threads_per_worker, "gpus": n,
                "note": "one worker per GPU" if gpus else "no NVIDIA GPU visible: connect would fail"}
    if spec.kind in JOBQUEUE_KINDS:
        per = spec.worker_processes
        lo, hi = (spec.adapt_min, spec.adapt_max) if spec.adapt_max else (spec.jobs, spec.jobs)
        span = (lambda k: k * lo if lo == hi else f"{k * lo}-{k * hi}")
        return {"workers": span(per), "threads": span(per * max(1, spec.cores // per)),
                "gpus": span(spec.gpus_per_job),
                "note": f"{'adaptive ' if spec.adapt_max else ''}{lo if lo == hi else f'{lo}-{hi}'} "
                        f"{spec.kind} job(s) x {per} worker(s)"}
    return _probe(spec, probe_timeout)


def _probe(spec: ClusterSpec, timeout: str) -> dict[str, Any]:
    from .client import connect

    with connect(spec, timeout=timeout) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        try:
            per_worker = client.run(count_gpus)
            gpus: Any = sum(1 for n in per_worker.values() if n)
        except Exception:  # noqa: BLE001 - workers without this package installed: say so
            gpus = "unknown"
        return {"workers": len(workers), "threads": sum(w["nthreads"] for w in workers.values()),
                "gpus": gpus, "note": f"running cluster at {client.scheduler.address}"}
