"""TLS for client, scheduler and workers from a spec (None: plain TCP)."""
from __future__ import annotations

import os

from distributed.security import Security

from .spec import ClusterSpec, ConfigError


def make_security(spec: ClusterSpec) -> Security | None:
    if not spec.tls:
        return None
    paths = {"tls_ca_file": spec.tls_ca_file, "tls_cert": spec.tls_cert, "tls_key": spec.tls_key}
    for name, path in paths.items():
        if path and not os.path.isfile(os.path.expanduser(path)):
            raise ConfigError(f"{name} {path}: no such file")
    ca, cert = os.path.expanduser(spec.tls_ca_file), os.path.expanduser(spec.tls_cert)
    key = os.path.expanduser(spec.tls_key) if spec.tls_key else None
    # One identity for every role: the spec describes one deployment, and the CA is what
    # every party checks. require_encryption makes a tcp:// address an error, not a downgrade.
    return Security(
        require_encryption=True,
        tls_ca_file=ca,
        tls_client_cert=cert, tls_client_key=key,
        tls_scheduler_cert=cert, tls_scheduler_key=key,
        tls_worker_cert=cert, tls_worker_key=key,
    )


def protocol(spec: ClusterSpec) -> str:
    return "tls://" if spec.tls else "tcp://"
