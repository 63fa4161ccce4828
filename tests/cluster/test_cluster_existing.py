"""Existing clusters: scheduler and workers started as separate processes, plain and TLS-only."""
from __future__ import annotations

import pytest

import cluster


def test_scheduler_file_runs_tasks_on_both_workers(tmp_path, start_dask):
    with start_dask(tmp_path, workers=2) as (sched_file, address):
        spec = cluster.load_spec(None, kind="scheduler-file", scheduler_file=str(sched_file))
        with cluster.connect(spec) as client:
            client.wait_for_workers(2, timeout=60)
            futures = client.map(lambda x: x * x, range(20), pure=False)
            assert sum(client.gather(futures)) == sum(x * x for x in range(20))
            where = {client.who_has(f)[f.key][0] for f in futures}
            assert len(where) == 2  # the work spread over both worker processes
        # The client leaves a cluster it did not start running: connect again.
        with cluster.connect(cluster.ClusterSpec(kind="address", address=address)) as client:
            assert len(client.scheduler_info(n_workers=-1)["workers"]) == 2


def test_missing_scheduler_file_is_a_cluster_error(tmp_path):
    with pytest.raises(cluster.ClusterError, match="no such file"):
        with cluster.connect(cluster.ClusterSpec(kind="scheduler-file", scheduler_file=str(tmp_path / "x"))):
            pass


def test_tls_only_scheduler_admits_only_certified_clients(tmp_path, start_dask, certs):
    with start_dask(tmp_path, workers=1, certs=certs) as (sched_file, address):
        assert address.startswith("tls://")
        spec = cluster.ClusterSpec(kind="scheduler-file", scheduler_file=str(sched_file),
                                   tls_ca_file=certs["ca"], tls_cert=certs["cert"], tls_key=certs["key"])
        with cluster.connect(spec) as client:
            client.wait_for_workers(1, timeout=60)
            assert client.submit(lambda: "over tls").result() == "over tls"
            assert all(a.startswith("tls://") for a in client.scheduler_info(n_workers=-1)["workers"])

        # No certificates: refused before any task can be sent.
        with pytest.raises(cluster.ClusterError, match="needs tls_ca_file and tls_cert"):
            with cluster.connect(cluster.ClusterSpec(kind="address", address=address), timeout="5s"):
                pass
        # Plain TCP to the TLS port: the handshake fails.
        with pytest.raises(cluster.ClusterError):
            with cluster.connect(cluster.ClusterSpec(kind="address", address=address.replace("tls", "tcp")),
                                 timeout="5s"):
                pass
        # A certificate from another CA: the scheduler does not trust it.
        stranger = cluster.ClusterSpec(kind="address", address=address, tls_ca_file=certs["other_ca"],
                                       tls_cert=certs["stranger_cert"], tls_key=certs["stranger_key"])
        with pytest.raises(cluster.ClusterError):
            with cluster.connect(stranger, timeout="5s"):
                pass


def test_tls_local_cluster_encrypts_every_link(certs):
    spec = cluster.ClusterSpec(kind="local", workers=1, tls_ca_file=certs["ca"], tls_cert=certs["cert"],
                               tls_key=certs["key"])
    with cluster.connect(spec) as client:
        assert client.scheduler.address.startswith("tls://127.0.0.1:")
        assert all(a.startswith("tls://") for a in client.scheduler_info(n_workers=-1)["workers"])
        assert client.submit(pow, 2, 10).result() == 1024


def test_missing_certificate_file_is_named(tmp_path, certs):
    spec = cluster.ClusterSpec(kind="local", workers=1, tls_ca_file=certs["ca"],
                               tls_cert=str(tmp_path / "absent.pem"))
    with pytest.raises(cluster.ConfigError, match="tls_cert .*absent.pem: no such file"):
        with cluster.connect(spec):
            pass
