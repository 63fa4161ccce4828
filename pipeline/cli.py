"""The ``ssdnet`` command. Commands are thin: the work lives in functions of this package.

Exit codes (every command): 0 all done, 1 unexpected internal error (a bug), 2 usage error or
refused operation, 3 finished but some inputs failed (or, for verify, damage found), 4 anomalies
flagged (--fail-on-anomaly), 5 the machine refused a file operation (disk full, no permission,
read-only file system, I/O error), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM: what a
scan finished is kept).
"""
from __future__ import annotations

import importlib
import sys

import click

import cluster
import ssdnet

from pipeline import exitcodes

# Command -> "module:function": a command's module (and what it needs: torch, Dask) loads only
# when that command runs, so `ssdnet index` or `review` on an analytics machine needs neither.
COMMANDS = {
    "detect": "pipeline.commands.detect:detect_cmd",
    "eval": "pipeline.commands.eval:eval_cmd",
    "scan": "pipeline.commands.scan:scan_cmd",
    "cluster": "pipeline.commands.cluster_info:cluster_group",
    "submit": "pipeline.commands.submit:submit_cmd",
    "review": "pipeline.commands.review:review_cmd",
    "show": "pipeline.commands.review:show_cmd",
    "export": "pipeline.commands.review:export_cmd",
    "index": "pipeline.commands.review:index_cmd",
    "verify": "pipeline.commands.verify:verify_cmd",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        from pipeline.options import add_common_options

        module, attr = COMMANDS[name].split(":")
        return add_common_options(getattr(importlib.import_module(module), attr))


def one_line(exc: click.ClickException) -> str:
    """``<what>: <why>`` of a Click error, on one line: ``--steps: 'x' is not a valid integer``."""
    if isinstance(exc, click.NoSuchOption):
        close = f" (did you mean {', '.join(sorted(exc.possibilities))}?)" if exc.possibilities else ""
        return f"{exc.option_name}: no such option{close}"
    if isinstance(exc, click.BadOptionUsage):
        why = exc.message.replace(f"Option '{exc.option_name}' ", "").rstrip(".")
        return f"{exc.option_name}: {why}"
    if isinstance(exc, click.BadParameter) and exc.param is not None and exc.ctx is not None:
        what = str(exc.param_hint or exc.param.get_error_hint(exc.ctx)).replace("'", "")
        return f"{what}: missing" if isinstance(exc, click.MissingParameter) else f"{what}: {exc.message}"
    return exc.format_message()


def say(message: str) -> None:
    """The one error line on stderr."""
    click.echo("error: " + " ".join(str(message).split()), err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ssdnet")
def cli() -> None:
    """Zero-shot anomaly localization: one fresh network fitted per image."""


def stopped(exc: BaseException | None) -> int:
    """The error line and exit code of a command stopped by Ctrl-C or SIGTERM."""
    rc, words = exitcodes.STOPPED[exitcodes.stopping_signal(exc)]
    say(words)
    return rc


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to an exit code and a one-line message."""
    restore = exitcodes.stop_on_sigterm()
    try:
        rc = cli.main(args=argv, prog_name="ssdnet", standalone_mode=False)
    except click.exceptions.Abort as exc:
        # Click turns a KeyboardInterrupt (Ctrl-C, and SIGTERM as exitcodes.Terminated) into Abort.
        rc = stopped(exc.__cause__)
    except click.ClickException as exc:
        # Bad flags and values Click itself finds (no such option, not an integer, missing).
        say(one_line(exc))
        rc = exitcodes.USAGE
    except (exitcodes.Refused, ssdnet.ConfigError, cluster.ClusterError) as exc:
        # Every bad option (pipeline.scanoptions.OptionsError is both a Refused and an
        # ssdnet.ConfigError; cluster.ConfigError is a ClusterError) and every refused operation.
        say(str(exc))
        rc = exitcodes.USAGE
    except KeyboardInterrupt as exc:
        rc = stopped(exc)
    except OSError as exc:
        if exc.errno in exitcodes.PATH_ERRNOS and exc.filename:
            click.echo(f"error: {exc.filename}: {exc.strerror or exc}", err=True)
            rc = exitcodes.USAGE
        elif exc.errno not in exitcodes.OPERATIONAL_ERRNOS:
            click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
            rc = exitcodes.INTERNAL
        else:
            # Not a bug: the disk is full, a file cannot be written or read. Name the file.
            click.echo(f"error: {exc.filename or 'file operation'}: {exc.strerror or exc}", err=True)
            rc = exitcodes.OPERATIONAL
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into exit 1
        click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
        rc = exitcodes.INTERNAL
    finally:
        restore()
    if isinstance(rc, int):
        sys.exit(rc)
    sys.exit(exitcodes.OK)


if __name__ == "__main__":
    main()
