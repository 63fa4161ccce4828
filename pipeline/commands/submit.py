"""``ssdnet submit SOURCE... --out STORE --cluster-config FILE [--dry-run]``."""
from __future__ import annotations

import click

from pipeline import exitcodes
from pipeline.clusteropts import cluster_config_options, spec_from
from pipeline.submit import submit_scan


@click.command("submit")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "store", required=True, help="The scan's store (on a shared filesystem).")
@cluster_config_options
@click.option("--job-dir", default=None, type=click.Path(file_okay=False),
              help="Where the job script, scheduler file and logs go [default: STORE.jobs].")
@click.option("--scan-args", default="", metavar="ARGS",
              help="More `ssdnet scan` flags for the job, one string, e.g. \"--preset fast\".")
@click.option("--dry-run", is_flag=True, help="Print the job script; submit nothing.")
@click.option("--wait", is_flag=True, help="Block until the job ends; exit with its status (the scan's: "
              "0, 2, 3, 4, 5, 130, 143; any other is 1).")
def submit_cmd(sources: tuple[str, ...], store: str, job_dir: str | None, scan_args: str,
               dry_run: bool, wait: bool, **kwargs) -> int:
    """Submit one batch job (sbatch or qsub, from the config's kind) that starts a Dask
    scheduler and workers inside its allocation and runs `ssdnet scan` on them."""
    config = kwargs.get("cluster_config")
    spec = spec_from(kwargs)
    if spec.kind not in ("slurm", "pbs"):
        raise exitcodes.Refused(f"submit needs a slurm or pbs cluster config (kind = \"slurm\"), "
                                f"not kind {spec.kind!r}")
    rec = submit_scan(list(sources), store, spec, config, job_dir, scan_args, dry_run, wait)
    if dry_run:
        click.echo(rec["script"], nl=False)
        return exitcodes.OK
    click.echo(f"submitted {spec.kind} job {rec['job_id']}: {rec['path']} (logs in {rec['job_dir']})")
    if wait and rec["status"]:
        click.echo(f"error: job {rec['job_id']} exited {rec['status']}; see {rec['job_dir']}", err=True)
        return job_exit_code(rec["status"])
    return exitcodes.OK


# The job's exit status is the scan's: each of these means for the job what it means for a scan.
_SCAN_CODES = frozenset({exitcodes.OK, exitcodes.USAGE, exitcodes.SOME_FAILED, exitcodes.ANOMALIES,
                         exitcodes.OPERATIONAL, exitcodes.INTERRUPTED, exitcodes.TERMINATED})


def job_exit_code(status: int) -> int:
    """submit --wait's exit code for a job that ended with ``status``: the job's own where it is a
    documented exit code (0, 2, 3, 4, 5, 130, 143), else 1 (a crash, SIGKILL, a node failure:
    unknown)."""
    return status if status in _SCAN_CODES else exitcodes.INTERNAL
