"""The one options path: flags, keyword arguments, environment and TOML into a Config and the
scan's options, each value checked once (:func:`ssdnet.config.coerce`, then the validators),
every bad one an :class:`OptionsError` saying ``<source>: <why>``."""
from __future__ import annotations

import dataclasses
import inspect
import json
import tomllib
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Callable, Mapping

from ssdnet.config import Config, ConfigError, coerce, finite_problems, resolve_sourced, unknown_option

from pipeline.exitcodes import Refused
from pipeline.progress import PROGRESS_EVERY


class OptionsError(Refused, ConfigError):
    """A bad option (exit 2): an unknown name, a wrong type or a value that cannot run.

    Both a :class:`pipeline.exitcodes.Refused` and a :class:`ssdnet.ConfigError` (a ValueError),
    so whoever catches either catches it."""


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class ScanOptions:
    workers: int = _opt(0, "Embedded cluster: worker processes (0: cores / threads, or one per GPU).")
    scheduler: str = _opt("", "Address of a running scheduler to scan on instead.")
    scheduler_file: str = _opt("", "Or the file a running scheduler wrote.")
    include: tuple[str, ...] = _opt((), "Only paths (relative to their source) matching these globs.")
    exclude: tuple[str, ...] = _opt((), "Skip paths matching these globs.")
    timeout: float = _opt(0.0, "Seconds one fit may take; longer is a failed row (0: no limit).")
    pack: int = _opt(0, "Images per task, fitted together (0: what a GPU worker's memory takes; 1 on CPU).")
    map_dtype: str = _opt("float32", "Storage type of the maps: float32 or float16.")
    write_every: float = _opt(10.0, "Seconds finished results may wait to be written together (0: at once).")
    log_file: str = _opt("", "Append a log of the scan to this file.")
    json: bool = _opt(False, "ssdnet scan: print the summary as one JSON object.")
    anomaly_z: float = _opt(3.5, "Flag ok images whose robust z of score_p99 reaches this.")
    threshold: float = _opt(0.0, "Or, when > 0, whose score_p99 reaches this.")
    fail_on_anomaly: bool = _opt(False, "ssdnet scan: exit 4 when any image is flagged.")
    progress_every: float = _opt(PROGRESS_EVERY, "ssdnet scan off a terminal: seconds between progress "
                                 "lines (0: none).")
    verify: bool = _opt(False, "Read and hash every image, not only those whose size or mtime changed.")
    prune: bool = _opt(False, "Drop the rows of images no longer in the sources.")
    map_writes: str = _opt("auto", "auto: workers write their map chunks where they reach the store; "
                           "client: the client writes every chunk.")

    def __post_init__(self) -> None:
        problems = validate_scan(self)
        if problems:
            raise OptionsError("; ".join(problems))


def validate_scan(opts: Any) -> list[str]:
    """The problems of scan options ``opts`` (a ScanOptions, or any object with its fields), each
    starting with the option it is about, as :func:`ssdnet.config.validate`'s do."""
    floats = [f.name for f in dataclasses.fields(ScanOptions) if f.type == "float"]
    problems, bad = finite_problems(opts, floats)  # refused once: the range checks below skip those
    if opts.map_dtype not in ("float32", "float16"):
        problems.append(f"map_dtype must be float32 or float16 (got {opts.map_dtype!r})")
    if opts.map_writes not in ("auto", "client"):
        problems.append(f"map_writes must be auto or client (got {opts.map_writes!r})")
    for name in ("timeout", "workers", "pack", "write_every", "progress_every", "threshold"):
        if name not in bad and getattr(opts, name) < 0:
            problems.append(f"{name} must not be negative (got {getattr(opts, name)})")
    if "anomaly_z" not in bad and opts.anomaly_z <= 0:
        problems.append(f"anomaly_z must be positive (got {opts.anomaly_z})")
    if opts.scheduler and opts.scheduler_file:
        problems.append("give --scheduler or --scheduler-file, not both")
    return problems


SCAN_FIELDS = {f.name: f for f in dataclasses.fields(ScanOptions)}
CONFIG_FIELDS = {f.name: f for f in dataclasses.fields(Config)}


def _where(label: str, name: str) -> str:
    return label.format(name=name, flag="--" + name.replace("_", "-"))


def split_options(options: Mapping[str, Any], where: str = "options",
                  scan: bool = True) -> tuple[dict[str, Any], dict[str, Any]]:
    """(method/config fields, scan option fields) of ``options`` as given, each checked for its
    type; ``None`` means not given. An unknown key or a wrong type is an OptionsError."""
    cfg, opts = {}, {}
    known = [*CONFIG_FIELDS, *(SCAN_FIELDS if scan else ())]
    for key, value in options.items():
        name = key.replace("-", "_")
        if value is None:
            continue
        try:
            if name in CONFIG_FIELDS:
                cfg[name] = coerce(name, value, CONFIG_FIELDS[name].type)
            elif scan and name in SCAN_FIELDS:
                opts[name] = coerce(name, value, SCAN_FIELDS[name].type)
            else:
                raise ConfigError(unknown_option(key, known))
        except ConfigError as exc:
            raise OptionsError(f"{_where(where, name)}: {exc}") from None
    return cfg, opts


def read_toml(path: str) -> dict[str, Any]:
    """The options of a TOML file (flat keys: Config fields and scan options)."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise OptionsError(f"config file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:  # the latter: not text at all
        raise OptionsError(f"config file {path}: not valid TOML ({exc})") from None


@dataclass(frozen=True)
class Resolved:
    """What the options resolve to: the Config, the scan options (None for a command that
    scans nothing), where each value came from, and the values given (for :func:`pipeline.scan`)."""
    config: Config
    scan: ScanOptions | None
    sources: dict[str, str]
    given_config: dict[str, Any]
    given_scan: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"config": self.config.to_dict()}
        if self.scan is not None:
            out["scan"] = {k: list(v) if isinstance(v, tuple) else v
                           for k, v in dataclasses.asdict(self.scan).items()}
        out["sources"] = self.sources
        return out

    def provenance(self) -> dict[str, str]:
        """The values not at their defaults and where each came from (``SSDNET_STEPS``,
        ``--steps``, ``config file F``, ``preset fast``, ``argument``)."""
        return {k: v for k, v in self.sources.items() if v != "default"}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_toml(self, command: str = "") -> str:
        """Flat TOML a scan reads back with ``--config``; each value's source as a comment."""
        head = f"ssdnet {command}: " if command else ""
        lines = [f"# {head}resolved options (preset < SSDNET_* < config file < flags / arguments)"]
        d = self.to_dict()
        for section, title in (("config", "method (ssdnet.Config)"), ("scan", "scan")):
            if section not in d:
                continue
            lines.append(f"\n# {title}")
            for key, value in d[section].items():
                lines.append(f"{key} = {json.dumps(value)}  # {self.sources.get(key, 'default')}")
        return "\n".join(lines) + "\n"


def resolve_options(*layers: tuple[str, Mapping[str, Any]], scan: bool = True) -> Resolved:
    """Resolve option layers (lowest precedence first), each ``(label, values)`` whose label
    names its source in errors and provenance (``"{flag}"``: each value's flag, ``--steps``;
    ``"config file F"``; ``""``: a Python argument). Below them: the preset, then the
    environment (``SSDNET_<FIELD>``, the method's fields only). A scan's ``threads`` defaults
    to 1 (one fit per task slot). Raises OptionsError."""
    cfg_layers, given_cfg, given_scan, sources = [], {}, {}, {}
    for label, values in layers:
        cfg, opts = split_options(values, label or "options", scan)
        cfg_layers.append((label, cfg))
        given_cfg.update(cfg)
        given_scan.update(opts)
        sources.update({k: _where(label, k) or "argument" for k in opts})
    try:
        config, cfg_sources = resolve_sourced(cfg_layers, under_env={"threads": 1} if scan else None)
    except ConfigError as exc:
        raise OptionsError(str(exc)) from None
    if scan:
        # Each problem starts with the option it is about: name that option's source, as
        # resolve_sourced does for the Config's (``--anomaly-z: ...``; none for an argument).
        defaults = {n: f.default for n, f in SCAN_FIELDS.items()}
        problems = validate_scan(SimpleNamespace(**{**defaults, **given_scan}))
        if problems:
            said = []
            for problem in problems:
                where = sources.get(problem.split(" ", 1)[0], "argument")
                said.append(problem if where == "argument" else f"{where}: {problem}")
            raise OptionsError("; ".join(said))
    options = ScanOptions(**given_scan) if scan else None
    if options is not None:
        sources = {**cfg_sources, **{k: sources.get(k, "default") for k in SCAN_FIELDS}}
    else:
        sources = cfg_sources
    return Resolved(config, options, sources, given_cfg, given_scan)


def resolve_cli(params: Mapping[str, Any], scan: bool) -> Resolved:
    """A command's parsed flags (Config fields, scan options, ``config_file``: a TOML file
    under them, ``json_out``: the scan's --json) resolved; other parameters are ignored."""
    known = set(CONFIG_FIELDS) | (set(SCAN_FIELDS) if scan else set())
    flags = {k: v for k, v in params.items() if k in known and v is not None and v != ()}
    if scan and params.get("json_out"):
        flags["json"] = True
    layers = []
    if scan and params.get("config_file"):
        layers.append((f"config file {params['config_file']}", read_toml(params["config_file"])))
    layers.append(("{flag}", flags))
    return resolve_options(*layers, scan=scan)


def resolve_all(cfg_values: dict[str, Any], scan_values: dict[str, Any]) -> tuple[Config, ScanOptions]:
    """The scan's Config (threads default 1: one fit per task slot) and its ScanOptions."""
    resolved = resolve_options(("", {**cfg_values, **scan_values}))
    assert resolved.scan is not None
    return resolved.config, resolved.scan


def options_signature(func: Callable) -> Callable:
    """Give ``func(..., **options)`` an explicit signature: one typed keyword parameter per
    Config field and scan option (default None: the preset's or the option's default), and a
    numpydoc ``Other Parameters`` section naming each with its type and help. ``inspect``,
    ``help()`` and notebooks' completion show them; an unknown keyword is still an OptionsError."""
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    doc = ["", "    Other Parameters", "    ----------------"]
    for name, f in [*CONFIG_FIELDS.items(), *SCAN_FIELDS.items()]:
        kind = {"tuple[str, ...]": "Sequence[str]"}.get(f.type, f.type)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=f"{kind} | None"))
        where = "method (ssdnet.Config)" if name in CONFIG_FIELDS else "scan option"
        doc += [f"    {name} : {kind}, optional", f"        {f.metadata['help']} [{where}; default {f.default!r}]"]
    func.__signature__ = sig.replace(parameters=params)
    func.__annotations__ = {**{p.name: p.annotation for p in params if p.annotation is not p.empty},
                            "return": sig.return_annotation}
    text = (func.__doc__ or "").rstrip() + "\n"
    at = text.find("\n    Raises\n")  # numpydoc's order: Other Parameters before Raises
    at = len(text) if at < 0 else at
    func.__doc__ = text[:at] + "\n".join(doc) + "\n" + text[at:]
    return func


__all__ = ["OptionsError", "Resolved", "ScanOptions", "options_signature", "read_toml", "resolve_all",
           "resolve_cli", "resolve_options", "split_options"]
