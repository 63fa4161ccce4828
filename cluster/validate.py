"""Checks of a ClusterSpec: each problem is one short sentence naming the key."""
from __future__ import annotations

import dataclasses
import re
from typing import Any

from .spec import JOBQUEUE_KINDS, KINDS

_TYPE_NAMES = {"str": "a string", "int": "an integer", "bool": "true or false",
               "tuple[str, ...]": "a list of strings"}


def type_problem(name: str, annotation: str, value: Any) -> str | None:
    """Why ``value`` cannot be the value of field ``name`` (None: it can)."""
    ok = {
        "str": isinstance(value, str),
        # bool is an int to Python, never to a config file.
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "tuple[str, ...]": isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
    }[annotation]
    if ok:
        return None
    return f"{name} must be {_TYPE_NAMES[annotation]}, not {type(value).__name__} {value!r}"


def walltime_seconds(text: str) -> float | None:
    """Seconds of a batch walltime ([D-]HH:MM[:SS]); None when the format is not one of those."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+)(?::(\d+))?", text.strip())
    if not m:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in m.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def problems(spec: Any) -> list[str]:
    # Dask's parsers, imported here: reading a spec must not load Dask (an analytics machine has none).
    from dask.utils import parse_bytes

    out: list[str] = []
    for f in dataclasses.fields(spec):
        bad = type_problem(f.name, f.type, getattr(spec, f.name))
        if bad:
            out.append(bad)
    if out:  # the value checks below assume the right types
        return out
    if spec.kind not in KINDS:
        out.append(f"kind must be one of {', '.join(KINDS)}, not {spec.kind!r}")
    for name in ("workers", "processes", "gpus_per_job", "jobs", "adapt_min", "adapt_max", "death_timeout"):
        if getattr(spec, name) < 0:
            out.append(f"{name} must be >= 0, not {getattr(spec, name)}")
    for name in ("threads_per_worker", "cores"):
        if getattr(spec, name) < 1:
            out.append(f"{name} must be >= 1, not {getattr(spec, name)}")
    if spec.kind == "address" and not spec.address:
        out.append("kind 'address' needs address (e.g. tcp://host:8786)")
    if spec.kind == "scheduler-file" and not spec.scheduler_file:
        out.append("kind 'scheduler-file' needs scheduler_file")
    if spec.adapt_max and spec.adapt_min > spec.adapt_max:
        out.append(f"adapt_min ({spec.adapt_min}) must not exceed adapt_max ({spec.adapt_max})")
    if (spec.tls_cert or spec.tls_key) and not spec.tls_ca_file:
        out.append("tls_cert and tls_key need tls_ca_file (the CA that signed them)")
    if spec.tls_ca_file and not spec.tls_cert:
        # Dask's TLS is mutual: the scheduler refuses a client (or worker) without a certificate.
        out.append("tls_ca_file needs tls_cert: dask's TLS is mutual, every party presents one")
    for name in ("memory",) + (("memory_limit",) if spec.memory_limit != "auto" else ()):
        try:
            parse_bytes(getattr(spec, name))
        except (ValueError, TypeError):
            out.append(f"{name} must be a size like 4GiB, not {getattr(spec, name)!r}")
    out += _lifetime_problems(spec)
    if spec.kind in JOBQUEUE_KINDS and spec.worker_processes > spec.cores:
        out.append(f"cores ({spec.cores}) must be at least the worker processes per job "
                   f"({spec.worker_processes}): each worker needs a core")
    if spec.kind in JOBQUEUE_KINDS and spec.gpus_per_job and spec.processes not in (0, spec.gpus_per_job):
        out.append(f"processes ({spec.processes}) must equal gpus_per_job ({spec.gpus_per_job}): "
                   "one GPU per worker")
    return out


def _lifetime_problems(spec: Any) -> list[str]:
    if not spec.lifetime:
        return []
    from dask.utils import parse_timedelta  # as in problems(): only when a spec is checked

    try:
        life = parse_timedelta(spec.lifetime)
        stagger = parse_timedelta(spec.lifetime_stagger or "0s")
    except (ValueError, KeyError, TypeError):
        return [f"lifetime and lifetime_stagger must be durations like 55m, not "
                f"{spec.lifetime!r} / {spec.lifetime_stagger!r}"]
    wall = walltime_seconds(spec.walltime) if spec.kind in JOBQUEUE_KINDS else None
    if wall is not None and life + stagger >= wall:
        return [f"lifetime + lifetime_stagger ({spec.lifetime} + {spec.lifetime_stagger}) must be shorter "
                f"than walltime ({spec.walltime}): workers must retire before the batch system kills them"]
    return []
