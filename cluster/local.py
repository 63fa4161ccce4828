"""Clusters on this machine: ``local`` (LocalCluster) and ``cuda`` (dask-cuda, one worker per GPU)."""
from __future__ import annotations

import os
from typing import Any

from distributed import LocalCluster

from .gpu import count_gpus
from .security import make_security, protocol
from .spec import ClusterError, ClusterSpec


def _common(spec: ClusterSpec) -> dict[str, Any]:
    # Loopback unless told otherwise: a scan's scheduler accepts work from anyone who reaches it.
    return dict(
        threads_per_worker=spec.threads_per_worker,
        host=spec.host or "127.0.0.1",
        scheduler_kwargs=spec.scheduler_http,  # over LocalCluster's own dashboard_address (8787)
        memory_limit=spec.memory_limit,
        security=make_security(spec),
        protocol=protocol(spec),
    )


def local_cluster(spec: ClusterSpec) -> LocalCluster:
    n = spec.workers or (os.cpu_count() or 1)
    return LocalCluster(n_workers=n, processes=True, **_common(spec))


def cuda_cluster(spec: ClusterSpec) -> LocalCluster:
    try:
        from dask_cuda import LocalCUDACluster
    except ImportError:
        raise ClusterError("kind 'cuda' needs dask-cuda: pip install 'ssdnet[cuda]'") from None
    gpus = count_gpus()
    if gpus == 0:
        raise ClusterError("kind 'cuda': no NVIDIA GPU visible (nvidia-smi -L lists none, "
                           "or CUDA_VISIBLE_DEVICES is empty)")
    if spec.workers > gpus:
        raise ClusterError(f"kind 'cuda': workers = {spec.workers} but only {gpus} GPU(s) visible")
    # LocalCUDACluster pins one device per worker through CUDA_VISIBLE_DEVICES.
    return LocalCUDACluster(n_workers=spec.workers or gpus, **_common(spec))
