"""``connect(spec)``: a context manager yielding a ``distributed.Client``; closes what it started."""
from __future__ import annotations

import contextlib
import gc
import os
from typing import Iterator

import dask
from distributed import Client

from .security import make_security
from .spec import JOBQUEUE_KINDS, ClusterError, ClusterSpec


@contextlib.contextmanager
def connect(spec: ClusterSpec | None = None, timeout: str = "30s") -> Iterator[Client]:
    spec = spec or ClusterSpec()
    # A Client whose construction failed (a refused connection) is finalised by the garbage
    # collector; if that happens while a new Client starts its event-loop thread, its __del__
    # waits for a lock the starting Client holds and both hang (seen once in CI: a TLS refusal,
    # then a certified connect, stuck for minutes). Collect such leftovers now, at a safe point.
    gc.collect()
    # Worker processes are spawned, never forked: a forked child cannot use CUDA.
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
        if spec.kind in ("address", "scheduler-file"):
            with _existing(spec, timeout) as client:
                yield client
            return
        with _started(spec) as cluster:
            with Client(cluster, security=make_security(spec)) as client:
                yield client


def _started(spec: ClusterSpec):
    if spec.kind == "local":
        from .local import local_cluster
        return local_cluster(spec)
    if spec.kind == "cuda":
        from .local import cuda_cluster
        return cuda_cluster(spec)
    if spec.kind in JOBQUEUE_KINDS:
        from .jobqueue import jobqueue_cluster
        return jobqueue_cluster(spec)
    raise ClusterError(f"unknown cluster kind {spec.kind!r}")


@contextlib.contextmanager
def _existing(spec: ClusterSpec, timeout: str) -> Iterator[Client]:
    security = make_security(spec)
    if spec.kind == "address":
        where, kw = f"scheduler {spec.address}", {"address": spec.address}
    else:
        if not os.path.isfile(spec.scheduler_file):
            raise ClusterError(f"scheduler file {spec.scheduler_file}: no such file")
        where, kw = f"scheduler file {spec.scheduler_file}", {"scheduler_file": spec.scheduler_file}
    try:
        client = Client(timeout=timeout, security=security, **kw)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"{where}: cannot connect ({exc})") from None
    except (ValueError, TypeError, AssertionError) as exc:
        # distributed's words for a TLS mismatch (tls:// without certificates, or
        # require_encryption and a tcp:// address): a refusal, not a crash.
        hint = "" if spec.tls else "; a tls:// scheduler needs tls_ca_file and tls_cert"
        raise ClusterError(f"{where}: refused ({type(exc).__name__}: {exc}){hint}") from None
    with client:
        yield client
