"""The local kind: tasks run in spawned worker processes bound, with the dashboard, to loopback."""
from __future__ import annotations

import os
from urllib.parse import urlparse

import dask

import cluster



def test_local_binds_loopback_and_closes_what_it_started():
    spec = cluster.ClusterSpec(kind="local", workers=2)
    with cluster.connect(spec) as client:
        assert urlparse(client.scheduler.address).hostname == "127.0.0.1"
        assert urlparse(client.dashboard_link).hostname == "127.0.0.1"
        workers = client.scheduler_info(n_workers=-1)["workers"]
        assert len(workers) == 2
        assert all(urlparse(a).hostname == "127.0.0.1" for a in workers)
        pids = set(client.run(os.getpid).values())
        assert len(pids) == 2 and os.getpid() not in pids  # separate processes, not threads
        assert dask.config.get("distributed.worker.multiprocessing-method") == "spawn"
        assert client.submit(sum, [1, 2, 3]).result() == 6
        cluster_obj = client.cluster
    assert cluster_obj.status.name == "closed"
    for pid in pids:  # the worker processes are gone, not orphaned
        try:
            os.kill(pid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, f"worker process {pid} outlived connect()"
