"""The local kind: tasks run in spawned worker processes bound, with the dashboard, to loopback.
And no scheduler this process starts (local or jobqueue) reaches for a fixed port."""
from __future__ import annotations

import os
import socket
import warnings
from urllib.parse import urlparse

import dask
import pytest

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


@pytest.fixture
def port_8787_held():
    """distributed's scheduler serves HTTP (health, metrics) even without a dashboard, on 8787 unless
    given an address: with 8787 held here, a scheduler that reached for it would warn and move."""
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 8787))
        blocker.listen()
    except OSError:
        pass  # held by someone else already: as good for the check
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    blocker.close()


def _moved(caught) -> list[str]:
    return [str(w.message) for w in caught if "already in use" in str(w.message)]


def test_local_without_dashboard_reaches_for_no_fixed_port(port_8787_held):
    with cluster.connect(cluster.ClusterSpec(kind="local", workers=1, dashboard=False)) as client:
        port = client.cluster.scheduler.http_server.port
        assert client.submit(sum, [1, 2]).result() == 3
    assert port != 8787 and not _moved(port_8787_held), _moved(port_8787_held)


def test_jobqueue_scheduler_without_dashboard_reaches_for_no_fixed_port(slurm, port_8787_held):
    # dask-jobqueue looks for sbatch when it starts: a machine without SLURM skips (CI has one).
    from cluster.jobqueue import jobqueue_cluster
    made = jobqueue_cluster(cluster.ClusterSpec(kind="slurm", dashboard=False, host="127.0.0.1"))  # no jobs yet
    try:
        port = made.scheduler.http_server.port
    finally:
        made.close()
    assert port != 8787 and not _moved(port_8787_held), _moved(port_8787_held)
