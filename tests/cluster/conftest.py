"""Real clusters for the cluster tests: SLURM on this machine, dask processes, TLS certificates."""
from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _slurm_problem() -> str | None:
    for tool in ("sbatch", "squeue", "scontrol"):
        if not shutil.which(tool):
            return f"{tool} not installed (run .ci/slurm-up.sh)"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "UP" not in ping.stdout:
        return f"slurmctld not reachable: {ping.stdout.strip() or ping.stderr.strip()} (run .ci/slurm-up.sh)"
    state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    if not any(s.strip() in ("idle", "mix", "alloc", "comp") for s in state.stdout.split()):
        return f"no SLURM node accepts jobs (sinfo states: {state.stdout.split()})"
    return None


@pytest.fixture(scope="session")
def slurm() -> None:
    """A working SLURM, or a skip; under CI=true a missing SLURM fails (CI must have one)."""
    problem = _slurm_problem()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but SLURM is unusable: {problem}")
        pytest.skip(problem)


def squeue_ids() -> set[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> dict[str, str]:
    """A CA and one certificate it signed for 127.0.0.1 / localhost, plus a stranger CA's pair."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    root = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write_key(key, path: Path) -> None:
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    def make_ca(cn: str):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(name(cn))
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert

    def make_leaf(ca_key, ca_cert, stem: str) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                           x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        cert = (x509.CertificateBuilder().subject_name(name("ssdnet-node")).issuer_name(ca_cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(san, critical=False)
                .sign(ca_key, hashes.SHA256()))
        (root / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        write_key(key, root / f"{stem}.key")

    ca_key, ca_cert = make_ca("ssdnet test CA")
    (root / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    make_leaf(ca_key, ca_cert, "node")
    other_key, other_cert = make_ca("some other CA")
    (root / "other-ca.pem").write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    make_leaf(other_key, other_cert, "stranger")
    return {k: str(root / f) for k, f in {
        "ca": "ca.pem", "cert": "node.pem", "key": "node.key",
        "other_ca": "other-ca.pem", "stranger_cert": "stranger.pem", "stranger_key": "stranger.key"}.items()}


def tls_args(certs: dict[str, str] | None) -> list[str]:
    if not certs:
        return []
    return ["--tls-ca-file", certs["ca"], "--tls-cert", certs["cert"], "--tls-key", certs["key"]]


@contextlib.contextmanager
def dask_processes(tmp_path: Path, workers: int = 2, certs: dict[str, str] | None = None):
    """``dask scheduler --scheduler-file`` and ``dask worker`` processes on 127.0.0.1, as a
    site would start them; yields the scheduler file and the scheduler's address."""
    sched_file = tmp_path / "scheduler.json"
    protocol = ["--protocol", "tls"] if certs else []
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD": "spawn"}
    procs = []
    logs = []
    try:
        log = open(tmp_path / "scheduler.log", "w")
        logs.append(log)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--scheduler-file", str(sched_file),
             "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
             *protocol, *tls_args(certs)], stdout=log, stderr=subprocess.STDOUT, env=env))
        for i in range(workers):
            log = open(tmp_path / f"worker-{i}.log", "w")
            logs.append(log)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                 "--host", "127.0.0.1", "--nthreads", "1", "--name", f"w{i}", "--no-dashboard",
                 "--memory-limit", "2GiB", *tls_args(certs)], stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                raise RuntimeError(f"scheduler did not start: {(tmp_path / 'scheduler.log').read_text()}")
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written in one go, but give the writer a moment to close it
        yield sched_file, json.loads(sched_file.read_text())["address"]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()


@pytest.fixture()
def start_dask():
    """The ``dask_processes`` context manager (a fixture, since test modules cannot import conftest)."""
    return dask_processes


@pytest.fixture()
def slurm_jobs():
    """A function listing the ids of the jobs SLURM has queued or running."""
    return squeue_ids
