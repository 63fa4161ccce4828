"""What cluster a scan runs on: one dataclass, from flags, a TOML file or defaults.

Every field is a key of the cluster config file (docs/CLUSTER.md) under the same name;
``metadata["help"]`` is the text the CLI and the docs show, ``metadata["kinds"]`` the kinds a
field applies to (absent: all).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

LOCAL_KINDS = ("local", "cuda")
EXISTING_KINDS = ("address", "scheduler-file")
JOBQUEUE_KINDS = ("slurm", "pbs", "lsf", "sge")
KINDS = LOCAL_KINDS + EXISTING_KINDS + JOBQUEUE_KINDS


class ClusterError(RuntimeError):
    """A cluster that cannot be described, reached or started; the message says which and why."""


class ConfigError(ClusterError, ValueError):
    """A cluster spec or config file that is invalid (unknown key, wrong type, bad value)."""


def _f(default: Any, help: str, kinds: tuple[str, ...] | None = None) -> Any:
    meta = {"help": help, **({"kinds": kinds} if kinds else {})}
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


_JQ = JOBQUEUE_KINDS
_LOCAL = LOCAL_KINDS


@dataclass(frozen=True)
class ClusterSpec:
    kind: str = _f("local", "local, cuda, address, scheduler-file, slurm, pbs, lsf or sge.")
    workers: int = _f(0, "local: worker processes (0: one per core); cuda: GPUs used (0: all).",
                      _LOCAL)
    threads_per_worker: int = _f(1, "Task slots per worker process (batch kinds: cores / processes).",
                                 _LOCAL)
    memory_limit: str = _f("auto", "Memory per local worker (e.g. 4GiB, auto).", _LOCAL)
    address: str = _f("", "Scheduler address, e.g. tls://host:8786.", ("address",))
    scheduler_file: str = _f("", "JSON file a running scheduler wrote (dask scheduler --scheduler-file).",
                             ("scheduler-file",))
    # --- where things listen
    host: str = _f("", "Address the scheduler (and local workers) bind to; empty: 127.0.0.1 for "
                   "local and cuda; batch kinds: interface, else every interface.")
    dashboard: bool = _f(True, "Serve the scheduler's dashboard.")
    dashboard_address: str = _f("127.0.0.1:0", "Where the dashboard listens (port 0: any free port); "
                                "with the dashboard off, the scheduler's health and metrics pages still do.")
    # --- TLS between client, scheduler and workers
    tls_ca_file: str = _f("", "CA certificate (PEM) that signed every certificate below; "
                          "setting it makes every connection TLS-only.")
    tls_cert: str = _f("", "Certificate (PEM) this client, the scheduler and the workers present.")
    tls_key: str = _f("", "Private key (PEM) of tls_cert; empty: the key is inside tls_cert.")
    # --- batch systems (dask-jobqueue); one job runs `processes` workers
    queue: str = _f("", "Queue / partition of the worker jobs.", _JQ)
    account: str = _f("", "Account (slurm -A, pbs -A) or project (lsf -P, sge -P) charged.", _JQ)
    walltime: str = _f("01:00:00", "Walltime of one job (HH:MM:SS; lsf: HH:MM).", _JQ)
    cores: int = _f(1, "Cores per job.", _JQ)
    memory: str = _f("4GiB", "Memory per job.", _JQ)
    processes: int = _f(0, "Worker processes per job (0: one per GPU, else one).", _JQ)
    gpus_per_job: int = _f(0, "GPUs per job (slurm --gres=gpu:N, pbs ngpus=N, lsf -gpu, sge -l gpu); "
                           "each worker gets one.", _JQ)
    job_extra_directives: tuple[str, ...] = _f((), "More scheduler directives, e.g. ['--constraint=a100'].",
                                               _JQ)
    job_script_prologue: tuple[str, ...] = _f((), "Shell lines run before the workers start "
                                              "(module load, source venv).", _JQ)
    jobs: int = _f(1, "Jobs to keep running (fixed size); ignored when adapt_max > 0.", _JQ)
    adapt_min: int = _f(0, "Adaptive: fewest jobs.", _JQ)
    adapt_max: int = _f(0, "Adaptive: most jobs (0: fixed size, see jobs).", _JQ)
    lifetime: str = _f("", "Workers retire gracefully after this long (e.g. 55m), before the walltime "
                       "kills them; new jobs replace them.", _JQ)
    lifetime_stagger: str = _f("5m", "Random spread of lifetime, so workers do not retire together.", _JQ)
    python: str = _f("", "Python executable on the compute nodes (empty: this one).", _JQ)
    local_directory: str = _f("", "Worker scratch directory on the compute nodes (e.g. $TMPDIR).", _JQ)
    interface: str = _f("", "Network interface of the scheduler and workers (e.g. ib0).", _JQ)
    log_directory: str = _f("", "Where the batch system writes the jobs' stdout and stderr.", _JQ)
    death_timeout: int = _f(120, "Seconds a worker waits for an unreachable scheduler before exiting.",
                            _JQ)
    job_name: str = _f("ssdnet", "Name of the jobs in the queue.", _JQ)

    def __post_init__(self) -> None:
        from .validate import problems  # here, not at import: validate imports this module

        found = problems(self)
        if found:
            raise ConfigError("; ".join(found))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "ClusterSpec":
        return dataclasses.replace(self, **changes)

    @property
    def tls(self) -> bool:
        return bool(self.tls_ca_file)

    @property
    def worker_processes(self) -> int:
        """Worker processes per batch job: one per GPU on GPU jobs, else ``processes`` or 1."""
        return self.processes or self.gpus_per_job or 1

    @property
    def scheduler_http(self) -> dict[str, Any]:
        """The scheduler's HTTP options, for every scheduler this process starts. Its HTTP server
        (health, metrics) listens even without a dashboard, on 8787 unless given an address: always
        give it ours (port 0 by default), so two schedulers on one node never reach for one port."""
        return {"dashboard_address": self.dashboard_address, "dashboard": self.dashboard}


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ClusterSpec)]


def field_help(name: str) -> str:
    return next(f.metadata["help"] for f in dataclasses.fields(ClusterSpec) if f.name == name)
