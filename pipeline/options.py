"""Click options generated from the Config dataclass: one flag per field, same name and help."""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import click

from ssdnet.config import DEFAULT_PRESET, Config, ConfigError, field_names, resolve

_TYPES = {"int": int, "float": float, "str": str}


def config_options(func: Callable) -> Callable:
    """Decorate a command with ``--<field>`` for every Config field (default: not given)."""
    for f in reversed(dataclasses.fields(Config)):
        flag = "--" + f.name.replace("_", "-")
        choices = f.metadata.get("choices")
        kind = click.Choice(choices) if choices else _TYPES[f.type]
        func = click.option(flag, f.name, type=kind, default=None, show_default=False,
                            help=f"{f.metadata['help']} [{DEFAULT_PRESET}: {f.default}]")(func)
    return func


def config_from(kwargs: dict[str, Any], base: dict[str, Any] | None = None) -> Config:
    """Resolve a Config from a command's kwargs (consumed), over ``base`` (e.g. a TOML file).

    A bad value is a usage error (exit 2).
    """
    given = {n: kwargs.pop(n) for n in field_names() if n in kwargs}
    given = {k: v for k, v in given.items() if v is not None}
    try:
        return resolve({**(base or {}), **given})
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
