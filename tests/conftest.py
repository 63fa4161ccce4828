"""Fixtures shared across test packages: one real Dask cluster per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of 2 worker processes with 1 thread each, on 127.0.0.1, for the session.

    Starting a cluster costs seconds on 2 cores: every test that needs one shares this one.
    """
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster) as client:
        yield client
