"""The ``ssdnet`` command. Commands are thin: the work lives in functions of this package.

Exit codes (every command): 0 all done, 1 unexpected internal error (a bug), 2 usage error or
refused operation, 3 finished but some inputs failed (or, for verify, damage found), 4 anomalies
flagged (--fail-on-anomaly), 5 the machine refused a file operation (disk full, no permission,
read-only file system, I/O error), 130 interrupted (Ctrl-C).
"""
from __future__ import annotations

import sys

import click

import cluster
import ssdnet

from pipeline import exitcodes
from pipeline.commands.cluster_info import cluster_group
from pipeline.commands.detect import detect_cmd
from pipeline.commands.eval import eval_cmd
from pipeline.commands.review import index_cmd, review_cmd, show_cmd
from pipeline.commands.scan import scan_cmd
from pipeline.commands.submit import submit_cmd
from pipeline.commands.verify import verify_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ssdnet")
def cli() -> None:
    """Zero-shot anomaly localization: one fresh network fitted per image."""


cli.add_command(detect_cmd)
cli.add_command(eval_cmd)
cli.add_command(scan_cmd)
cli.add_command(cluster_group)
cli.add_command(submit_cmd)
cli.add_command(review_cmd)
cli.add_command(show_cmd)
cli.add_command(index_cmd)
cli.add_command(verify_cmd)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every outcome to an exit code and a one-line message."""
    try:
        rc = cli.main(args=argv, prog_name="ssdnet", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: interrupted", err=True)
        rc = exitcodes.INTERRUPTED
    except click.ClickException as exc:
        # UsageError (bad flags, bad values) and refusals raised as exitcodes.Refused.
        click.echo(f"error: {exc.format_message()}", err=True)
        rc = exitcodes.USAGE
    except (exitcodes.Refused, ssdnet.ConfigError, cluster.ClusterError) as exc:
        click.echo(f"error: {exc}", err=True)
        rc = exitcodes.USAGE
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        rc = exitcodes.INTERRUPTED
    except OSError as exc:
        if exc.errno not in exitcodes.OPERATIONAL_ERRNOS:
            click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
            rc = exitcodes.INTERNAL
        else:
            # Not a bug: the disk is full, a file cannot be written or read. Name the file.
            click.echo(f"error: {exc.filename or 'file operation'}: {exc.strerror or exc}", err=True)
            rc = exitcodes.OPERATIONAL
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into exit 1
        click.echo(f"error: internal: {type(exc).__name__}: {exc}", err=True)
        rc = exitcodes.INTERNAL
    if isinstance(rc, int):
        sys.exit(rc)
    sys.exit(exitcodes.OK)


if __name__ == "__main__":
    main()
