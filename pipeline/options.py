"""The commands' options: the method's generated from the Config dataclass (one flag per field,
same name and help), the ones every command has (-v/-q), and the help that fits a screen.

``ssdnet scan --help`` lists the command's own options and names the method's; ``--help-all``
lists every one under its heading. ``--print-config`` prints what the options resolve to
(:func:`pipeline.scanoptions.resolve_cli`, the same path the command takes) and exits 0.
"""
from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import click

from ssdnet.config import DEFAULT_PRESET, Config

_TYPES = {"int": int, "float": float, "str": str}
METHOD = "Method options (ssdnet.Config)"
# Shown in the short help as the method's usual entry points.
COMMON_METHOD = ("preset", "device", "threads", "size")
SHORT = {"preset": "Fills every field not given (docs/METHOD.md)."}


class GroupedOption(click.Option):
    """An option printed under its own heading (``group``); ``brief=False`` leaves it out of
    ``--help`` (``--help-all`` shows it)."""

    def __init__(self, *args: Any, group: str | None = None, brief: bool = True, short: str | None = None,
                 **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.group = group
        self.brief = brief
        self.short = short


def first_clause(text: str) -> str:
    """The help's first sentence, without its default (`` (default...``, `` [...]``): what the
    short help shows of an option (``--help-all`` shows the whole)."""
    cut = min((i for i in (text.find(s) for s in (". ", "; ", " (default", " [")) if i > 0), default=len(text))
    return text[:cut].rstrip(".") + "."


def help_record(param: click.Parameter, ctx: click.Context, full: bool) -> tuple[str, str] | None:
    """``param``'s line of help: whole with ``full``, else its short form (``short`` or the first
    clause of its help)."""
    if full or not isinstance(param, click.Option) or not param.help:
        return param.get_help_record(ctx)
    whole = param.help
    param.help = getattr(param, "short", None) or first_clause(whole)
    try:
        return param.get_help_record(ctx)
    finally:
        param.help = whole


def config_options(func: Callable) -> Callable:
    """Decorate a command with ``--<field>`` for every Config field (default: not given)."""
    for f in reversed(dataclasses.fields(Config)):
        flag = "--" + f.name.replace("_", "-")
        choices = f.metadata.get("choices")
        kind = click.Choice(choices) if choices else _TYPES[f.type]
        func = click.option(flag, f.name, type=kind, default=None, show_default=False, cls=GroupedOption,
                            group=METHOD, brief=f.name in COMMON_METHOD, short=SHORT.get(f.name),
                            help=f"{f.metadata['help']} [{DEFAULT_PRESET}: {f.default}]")(func)
    return func


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    from pipeline.verbosity import set_verbosity

    ctx.meta[f"ssdnet.{param.name}"] = value
    set_verbosity(-1 if ctx.meta.get("ssdnet.quiet") else ctx.meta.get("ssdnet.verbose") or 0)
    return value


def common_options() -> list[click.Option]:
    """``-v/--verbose`` (repeatable) and ``-q/--quiet``, for every command."""
    return [
        click.Option(["-v", "--verbose"], count=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity, help="Say more on stderr: -v info, -vv debug."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_set_verbosity, help="Errors only: no progress, no info."),
    ]


def add_common_options(cmd: click.Command) -> click.Command:
    """Give ``cmd`` (and a group's subcommands) -v/-q, once."""
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_common_options(sub)
        return cmd
    names = {p.name for p in cmd.params}
    cmd.params.extend(o for o in common_options() if o.name not in names)
    return cmd


def _show_help_all(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value and not ctx.resilient_parsing:
        ctx.meta["ssdnet.help_all"] = True
        click.echo(ctx.get_help(), color=ctx.color)
        ctx.exit()


class MethodCommand(click.Command):
    """A command that takes the method's options: grouped help (``--help-all``) and
    ``--print-config`` (TOML, or JSON with ``--json``)."""

    scan = False  # does it take the scan options (and --config FILE) too?

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.params.extend([
            GroupedOption(["--print-config"], short="Print the resolved options as TOML, and exit.", is_flag=True, default=False, expose_value=False,
                         callback=lambda ctx, p, v: ctx.meta.__setitem__("ssdnet.print_config", v),
                         help="Print the resolved options as TOML (with --json: JSON) and exit."),
            GroupedOption(["--help-all"], short="Show every option and all the text.", is_flag=True, expose_value=False, is_eager=True,
                         callback=_show_help_all, help="Show all the help, every option too, and exit."),
        ])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # --print-config does no work: the arguments it would work on are not required.
        head = args[:args.index("--")] if "--" in args else args
        relaxed = [p for p in self.params if p.required] if "--print-config" in head else []
        for p in relaxed:
            p.required = False
        try:
            return super().parse_args(ctx, args)
        finally:
            for p in relaxed:
                p.required = True

    def invoke(self, ctx: click.Context) -> Any:
        if not ctx.meta.get("ssdnet.print_config"):
            return super().invoke(ctx)
        from pipeline.scanoptions import resolve_cli

        resolved = resolve_cli(ctx.params, scan=self.scan)
        as_json = ctx.params.get("json_out") or ctx.params.get("as_json")
        click.echo(resolved.to_json() if as_json else resolved.to_toml(self.name or ""), nl=bool(as_json))
        return 0

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The short help keeps the text's first paragraph; --help-all the whole."""
        if ctx.meta.get("ssdnet.help_all") or not self.help:
            return super().format_help_text(ctx, formatter)
        text = inspect.cleandoc(self.help).split("\n\n")
        whole = self.help
        self.help = text[0] + (" More: --help-all." if len(text) > 1 else "")
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = whole

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        full = ctx.meta.get("ssdnet.help_all", False)
        groups: dict[str, tuple[list[tuple[str, str]], list[str]]] = {}
        for param in self.get_params(ctx):
            record = help_record(param, ctx, full) if isinstance(param, click.Option) else None
            if record is None:
                continue
            shown, hidden = groups.setdefault(getattr(param, "group", None) or "Options", ([], []))
            if full or getattr(param, "brief", True):
                shown.append(record)
            else:
                hidden.append(record[0].split()[0].rstrip(","))
        for group, (shown, hidden) in groups.items():
            with formatter.section(group):
                if shown:
                    formatter.write_dl(shown)
                if hidden:
                    named = ", ".join(hidden[:2]) + (", ..." if len(hidden) > 2 else "")
                    formatter.write_text(f"and {len(hidden)} more ({named}): see --help-all.")


class ScanCommand(MethodCommand):
    scan = True


def config_from(kwargs: dict[str, Any]) -> Config:
    """The Config of a command's parsed flags (its Config fields, consumed from ``kwargs``)."""
    from pipeline.scanoptions import resolve_cli

    given = {f.name: kwargs.pop(f.name) for f in dataclasses.fields(Config) if f.name in kwargs}
    return resolve_cli(given, scan=False).config
