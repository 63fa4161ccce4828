"""Refusals before anything starts, and TLS on a local cluster (separate processes: test_cluster_scans)."""
from __future__ import annotations

import pytest

import cluster


def test_missing_scheduler_file_is_a_cluster_error(tmp_path):
    with pytest.raises(cluster.ClusterError, match="no such file"):
        with cluster.connect(cluster.ClusterSpec(kind="scheduler-file", scheduler_file=str(tmp_path / "x"))):
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
