"""A scan's options besides the method's: from keyword arguments, flags or a TOML file."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from typing import Any

import ssdnet

from pipeline.exitcodes import Refused
from pipeline.progress import PROGRESS_EVERY


@dataclass(frozen=True)
class ScanOptions:
    workers: int = 0                   # embedded cluster: worker processes (0: cores / threads, or GPUs)
    scheduler: str = ""                # address of a running scheduler
    scheduler_file: str = ""           # or the file it wrote
    include: tuple[str, ...] = ()      # globs on the path relative to the source
    exclude: tuple[str, ...] = ()
    timeout: float = 0.0               # seconds per fit; 0: none
    pack: int = 0                      # images per task, fitted together (0: what a GPU worker's memory takes; 1 on CPU)
    map_dtype: str = "float32"
    write_every: float = 10.0          # seconds finished results may wait to be written together (0: at once)
    log_file: str = ""
    json: bool = False
    anomaly_z: float = 3.5             # flag ok images whose robust z of score_p99 reaches this (flags.py)
    threshold: float = 0.0             # or, when > 0, whose score_p99 reaches this
    fail_on_anomaly: bool = False      # ssdnet scan: exit 4 when any image is flagged
    progress_every: float = PROGRESS_EVERY  # ssdnet scan off a terminal: seconds between progress lines (0: none)
    verify: bool = False               # read and hash every image, not only those whose (size, mtime) changed
    prune: bool = False                # drop the rows of images no longer in the sources
    map_writes: str = "auto"           # auto: workers write their chunks where they reach the store; client

    def __post_init__(self) -> None:
        if self.map_dtype not in ("float32", "float16"):
            raise Refused(f"map_dtype must be float32 or float16 (got {self.map_dtype!r})")
        if self.map_writes not in ("auto", "client"):
            raise Refused(f"map_writes must be auto or client (got {self.map_writes!r})")
        if min(self.timeout, self.workers, self.pack, self.write_every, self.progress_every) < 0:
            raise Refused("timeout, workers, pack, write_every and progress_every must not be negative")
        if self.anomaly_z <= 0 or self.threshold < 0:
            raise Refused("anomaly_z must be positive and threshold not negative")
        if self.scheduler and self.scheduler_file:
            raise Refused("give --scheduler or --scheduler-file, not both")


_SCAN_FIELDS = {f.name: f for f in dataclasses.fields(ScanOptions)}
_CONFIG_TYPES = {f.name: f.type for f in dataclasses.fields(ssdnet.Config)}
_PY = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,),
       "tuple[str, ...]": (list, tuple)}


def _check_type(name: str, value: Any, kind: str, where: str) -> Any:
    ok = _PY[kind]
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, ok):
        raise Refused(f"{where}: {name} must be {kind.replace('tuple[str, ...]', 'a list of strings')} "
                      f"(got {value!r})")
    if kind == "tuple[str, ...]":
        if not all(isinstance(v, str) for v in value):
            raise Refused(f"{where}: {name} must be a list of strings (got {value!r})")
        return tuple(value)
    return float(value) if kind == "float" else value


def split_options(options: dict[str, Any], where: str = "options") -> tuple[dict[str, Any], dict[str, Any]]:
    """(method/config fields, scan option fields); an unknown key or a wrong type is refused."""
    cfg, scan = {}, {}
    for key, value in options.items():
        name = key.replace("-", "_")
        if value is None:
            continue
        if name in _CONFIG_TYPES:
            cfg[name] = _check_type(name, value, _CONFIG_TYPES[name], where)
        elif name in _SCAN_FIELDS:
            scan[name] = _check_type(name, value, _SCAN_FIELDS[name].type, where)
        else:
            raise Refused(f"{where}: unknown option {key!r}")
    return cfg, scan


def read_toml(path: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise Refused(f"config file {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"config file {path}: not valid TOML ({exc})") from None
    return split_options(data, where=f"config file {path}")


def resolve_all(cfg_values: dict[str, Any], scan_values: dict[str, Any]) -> tuple[ssdnet.Config, ScanOptions]:
    """The scan's Config (threads default 1: one fit per task slot) and its ScanOptions."""
    values = dict(cfg_values)
    if "threads" not in values and "SSDNET_THREADS" not in os.environ:
        values["threads"] = 1
    try:
        cfg = ssdnet.resolve(values)
    except ssdnet.ConfigError as exc:
        raise Refused(str(exc)) from None
    return cfg, ScanOptions(**scan_values)

