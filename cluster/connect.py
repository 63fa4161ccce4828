"""``connect(spec)``: a context manager yielding a ``distributed.Client``; closes what it started."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator

from distributed import Client, LocalCluster

from .spec import ClusterSpec


class ClusterError(RuntimeError):
    """A cluster that cannot be reached or started; the message says which and why."""


@contextlib.contextmanager
def connect(spec: ClusterSpec | None = None) -> Iterator[Client]:
    spec = spec or ClusterSpec()
    if spec.kind == "local":
        n = spec.workers or (os.cpu_count() or 1)
        # Bound to loopback; worker processes die with us; spawn (not fork) so CUDA works in them.
        with LocalCluster(n_workers=n, threads_per_worker=spec.threads_per_worker, processes=True,
                          host="127.0.0.1", dashboard_address="127.0.0.1:0" if spec.dashboard else None,
                          memory_limit=spec.memory_limit) as lc, Client(lc) as client:
            yield client
    elif spec.kind == "address":
        try:
            client = Client(spec.address, timeout="30s")
        except OSError as exc:
            raise ClusterError(f"scheduler {spec.address}: cannot connect ({exc})") from None
        with client:
            yield client
    elif spec.kind == "scheduler-file":
        if not os.path.isfile(spec.scheduler_file):
            raise ClusterError(f"scheduler file {spec.scheduler_file}: no such file")
        try:
            client = Client(scheduler_file=spec.scheduler_file, timeout="30s")
        except OSError as exc:
            raise ClusterError(f"scheduler file {spec.scheduler_file}: cannot connect ({exc})") from None
        with client:
            yield client
    else:
        raise ClusterError(f"unknown cluster kind {spec.kind!r}")
