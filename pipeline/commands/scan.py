"""``ssdnet scan SOURCE... --out STORE``."""
from __future__ import annotations

import json
import logging
import sys

import click

from pipeline import exitcodes
from pipeline.clusteropts import cluster_config_options, pop_cluster_flags, scan_cluster
from pipeline.options import ScanCommand, config_options
from pipeline.progress import PROGRESS_EVERY, ProgressLine, ProgressLog, human_summary
from pipeline.verbosity import quiet


def _setup_logging(log_file: str) -> None:
    log = logging.getLogger("ssdnet.scan")
    log.setLevel(logging.INFO)
    if log_file:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)


@click.command("scan", cls=ScanCommand)
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "store", required=True, type=click.Path(), help="The Zarr store (created or resumed).")
@click.option("--workers", type=int, default=None, help="Embedded cluster: worker processes "
              "(default: cores / --threads, or one per GPU).")
@click.option("--scheduler", default=None, help="Run on the scheduler at this address instead.")
@click.option("--scheduler-file", default=None, help="Run on the scheduler that wrote this file instead.")
@cluster_config_options
@click.option("--include", multiple=True, help="Only paths (relative to their source) matching this glob.")
@click.option("--exclude", multiple=True, help="Skip paths matching this glob.")
@click.option("--timeout", type=float, default=None, help="Seconds one fit may take; longer is a failed row.")
@click.option("--pack", type=int, default=None, help="Images fitted together per task, packed onto the device "
              "(default: on GPU workers as many as half the free memory takes, up to 64; 1 on CPU).")
@click.option("--write-every", type=float, default=None, help="Seconds finished results may wait to be written "
              "to the store together. One store update per batch is cheaper than one per image; a crash "
              "loses at most this much work, refitted on the next run (0: each at once) [10].")
@click.option("--map-dtype", type=click.Choice(["float32", "float16"]), default=None,
              help="Storage type of the maps [float32].")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="TOML file holding any of these options; flags win.")
@click.option("--log-file", default=None, help="Append a log of the scan to this file.")
@click.option("--anomaly-z", type=float, default=None, help="Flag ok images whose robust z-score of "
              "score_p99 over the archive reaches this [3.5].")
@click.option("--threshold", type=float, default=None, help="Flag ok images whose score_p99 reaches this "
              "instead (absolute, in units of score_p99).")
@click.option("--fail-on-anomaly", is_flag=True, default=None, help="Exit 4 when any image is flagged.")
@click.option("--verify", is_flag=True, default=None, help="Read and hash every image. Without it, an image "
              "whose size and modification time are those its ok row recorded is skipped unread. "
              "Refits only those whose bytes changed.")
@click.option("--prune", is_flag=True, default=None, help="Drop the rows of images no longer in the sources. "
              "Without it they are reported as gone.")
@click.option("--map-writes", type=click.Choice(["auto", "client"]), default=None,
              help="Who writes the maps. auto: the workers where they reach the store (checked), else "
              "the client; client: always the client (maps travel back) [auto].")
@click.option("--json", "json_out", is_flag=True, default=None, help="Print the summary as one JSON object.")
@click.option("--progress-every", type=float, default=None, help="When stderr is not a terminal (cron, batch "
              f"jobs) or with --json: seconds between progress lines on stderr (0: none) [{PROGRESS_EVERY:g}].")
@config_options
def scan_cmd(sources: tuple[str, ...], store: str, config_file: str | None, json_out: bool | None,
             **kwargs) -> int:
    """Fit every image of SOURCE (directory, glob, .tar/.tar.gz/.zip archive or .txt list of paths)
    on a Dask cluster and write maps, thumbnails and an index into the Zarr store STORE.

    Rerunning resumes: only new, changed and failed images are fitted; an image whose size and
    mtime are unchanged is not read (--verify reads and hashes all). By default the cluster is a
    LocalCluster on this machine, started and stopped here, one task slot per worker; --cluster /
    --cluster-config choose another (docs/CLUSTER.md). --threads (torch threads per fit) defaults
    to 1 in a scan. Exit 0: all ok; 3: some failed; 4: none failed but some flagged and
    --fail-on-anomaly; 2: usage error or refused store (damaged metadata: ssdnet verify --repair);
    5: disk full or a file that cannot be written; 130: interrupted (Ctrl-C), 143: terminated (SIGTERM,
    e.g. a batch job's time limit); what finished is kept.
    """
    from pipeline.flags import flag_line
    from pipeline.scanner import scan
    from pipeline.scanoptions import resolve_cli

    cluster_flags = pop_cluster_flags(kwargs)
    # The one options path: TOML under flags, every value checked, a bad one names its source.
    resolved = resolve_cli({**kwargs, "config_file": config_file, "json_out": json_out}, scan=True)
    cfg_values, scan_values = dict(resolved.given_config), dict(resolved.given_scan)
    _setup_logging(scan_values.get("log_file", ""))
    every = scan_values.get("progress_every", PROGRESS_EVERY)
    if sys.stderr.isatty() and not scan_values.get("json"):
        progress = ProgressLine()
    else:  # cron, batch jobs, --json: a whole line now and then, so a long scan never looks hung
        progress = ProgressLog(every) if every > 0 else None
    if quiet():  # -q: errors only
        progress = None

    def show_dashboard(client) -> None:
        if progress:
            click.echo(f"dashboard: {client.dashboard_link}", err=True)

    from pipeline.integrity import refuse_damage

    try:
        # --cluster / --cluster-config / TLS flags name a cluster; without them scan() picks one.
        # Index or metadata damage the writer meets on reading: exit 2 naming verify --repair.
        with refuse_damage(store), scan_cluster(cluster_flags, scan_values) as client:
            result = scan(list(sources), store, client=client, on_progress=progress,
                          on_client=show_dashboard, **cfg_values, **scan_values)
    finally:
        if progress:
            progress.end()
    if scan_values.get("json"):
        click.echo(json.dumps(result))
    else:
        click.echo(human_summary(result))
        if not result.get("interrupted"):
            click.echo(flag_line(result))
    if result.get("interrupted"):
        rc, words = exitcodes.STOPPED[result.get("signal", "SIGINT")]
        click.echo(f"error: {words}: {result['ok']} ok and {result['failed']} failed rows are in {store}; "
                   "the same command resumes", err=True)
        return rc
    if result["failed"]:
        return exitcodes.SOME_FAILED
    # Failed inputs win over flags: a failure needs a person whatever the flags say.
    if scan_values.get("fail_on_anomaly") and result["flagged"]:
        return exitcodes.ANOMALIES
    return exitcodes.OK
