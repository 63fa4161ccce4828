"""``load_spec(path, **flags)``: a ClusterSpec from a TOML file and flag overrides.

Precedence: flags (those not None) over the file over the defaults. Keys are the field
names of ClusterSpec (``-`` may stand for ``_``); anything else is an error, since a
misspelt key silently ignored would run a scan on the wrong cluster.
"""
from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from typing import Any

from .spec import ClusterSpec, ConfigError, field_names
from .validate import type_problem

# Paths a config file names are relative to the file, so a file works from any cwd (cron).
_FILE_RELATIVE = ("scheduler_file", "tls_ca_file", "tls_cert", "tls_key")


def read_config(path: str) -> dict[str, Any]:
    """The keys of a cluster config file, checked for names and types (not yet for values)."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"cluster config {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"cluster config {path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # the latter: not text at all
        raise ConfigError(f"cluster config {path}: not valid TOML ({exc})") from None
    # A [cluster] table lets the same file carry other tools' sections.
    if set(raw) == {"cluster"} and isinstance(raw["cluster"], dict):
        raw = raw["cluster"]
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        values[name] = value
    _check_names_and_types(values, f"cluster config {path}")
    base = os.path.dirname(os.path.abspath(path))
    for name in _FILE_RELATIVE:
        if values.get(name) and not os.path.isabs(os.path.expanduser(values[name])):
            values[name] = os.path.join(base, values[name])
    return values


def load_spec(path: str | None = None, **flags: Any) -> ClusterSpec:
    """Resolve a ClusterSpec: ``flags`` (None = not given) over the file at ``path`` over defaults."""
    values = read_config(path) if path else {}
    given = {k: v for k, v in flags.items() if v is not None}
    _check_names_and_types(given, "cluster option")
    values.update(given)
    for name in ("job_extra_directives", "job_script_prologue"):
        if name in values:
            values[name] = tuple(values[name])
    where = f"cluster config {path}" if path else "cluster options"
    try:
        return ClusterSpec(**values)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_names_and_types(values: dict[str, Any], where: str) -> None:
    names = field_names()
    types = {f.name: f.type for f in dataclasses.fields(ClusterSpec)}
    found = []
    for name, value in values.items():
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"unknown key {name!r}{hint}")
            continue
        bad = type_problem(name, types[name], value)
        if bad:
            found.append(bad)
    if found:
        raise ConfigError(f"{where}: {'; '.join(found)}")
