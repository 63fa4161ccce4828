"""``ssdnet submit``: one batch job that runs ``ssdnet scan`` on a Dask cluster inside its allocation.

The job script (cluster.batch) starts a scheduler and workers in the allocation; the scan
connects through the scheduler file, and reads TLS settings from the same config file.
"""
from __future__ import annotations

import copy
import os
import shlex
import sys
from typing import Any

import click
from click.core import ParameterSource

import cluster
from cluster.batch import SCHEDULER_FILE, batch_script
from cluster.submitjob import submit
from pipeline.exitcodes import Refused


# Scan flags the job sets itself: given in --scan-args as well, the job would write into another
# store than --out names, or ask for another cluster than the one its allocation starts.
_JOB_SETS = {
    "store": "the job's store is submit's own --out",
    "scheduler_file": "the job runs on the scheduler its allocation starts",
    "scheduler": "the job runs on the scheduler its allocation starts",
    "cluster_kind": "the job runs on the cluster its allocation starts",
    "cluster_config": "give it to submit itself (--cluster-config)",
}
# Flags that print something and exit instead of scanning.
_PRINTS = {"help": "--help", "help_all": "--help-all", "print_config": "--print-config"}


def _scan_checker() -> click.Command:
    """``ssdnet scan``'s own options (those the command line has too: -v/-q), as a command that
    only parses: no callbacks, no eager exits, sources and --out not required."""
    from pipeline.commands.scan import scan_cmd
    from pipeline.options import common_options

    names = {p.name for p in scan_cmd.params}
    params = []
    for param in [*scan_cmd.params, *(o for o in common_options() if o.name not in names)]:
        param = copy.copy(param)
        param.callback, param.is_eager, param.required, param.expose_value = None, False, False, True
        params.append(param)
    params.append(click.Option(["-h", "--help"], "help", is_flag=True, default=False))
    return click.Command("scan", params=params, add_help_option=False)


def check_scan_args(scan_args: str) -> list[str]:
    """The words of ``--scan-args``, each checked by ``ssdnet scan``'s own option parser (without
    running it), so that a bad flag is refused here, not after the job gets its allocation.

    Refused (:class:`pipeline.exitcodes.Refused`, exit 2): unbalanced quotes, an unknown flag or
    a bad value of one, a word that is no flag's (sources go before --out), the flags the job sets
    itself (--out, --scheduler-file, --scheduler, --cluster, --cluster-config) and the ones that
    print and exit. Values the scan checks against its configuration (``--steps 0``) are checked
    when the job runs.
    """
    from pipeline.cli import one_line

    try:
        words = shlex.split(scan_args)
    except ValueError as exc:
        raise Refused(f"--scan-args: {str(exc)[:1].lower()}{str(exc)[1:]} in {scan_args!r}") from None
    if not words:
        return words
    try:
        ctx = _scan_checker().make_context("scan", list(words))
    except click.ClickException as exc:
        raise Refused(f"--scan-args: {one_line(exc)}") from None
    given = {name for name, value in ctx.params.items() if value not in (None, False, (), 0)}
    for name, flag in _PRINTS.items():
        if name in given:
            raise Refused(f"--scan-args: {flag}: prints and exits, the job would scan nothing")
    for name, why in _JOB_SETS.items():
        if name in given and ctx.get_parameter_source(name) is not ParameterSource.ENVIRONMENT:
            flag = next(p.opts[0] for p in ctx.command.params if p.name == name)
            raise Refused(f"--scan-args: {flag}: the job sets it ({why})")
    if ctx.params.get("sources"):
        extra = " ".join(ctx.params["sources"])
        raise Refused(f"--scan-args: {extra!r}: not a scan flag (sources are submit's own arguments)")
    return words


def scan_command(sources: list[str], store: str, config_path: str | None,
                 scan_args: str = "", python: str = "") -> list[str]:
    """The ``ssdnet scan`` command line the job runs, with absolute paths (jobs start elsewhere)."""
    cmd = [python or sys.executable, "-m", "pipeline.cli", "scan",
           *(os.path.abspath(s) for s in sources), "--out", os.path.abspath(store)]
    cmd += check_scan_args(scan_args)
    if config_path:
        cmd += ["--cluster-config", os.path.abspath(config_path)]
    return cmd + ["--scheduler-file", SCHEDULER_FILE]


def default_job_dir(store: str) -> str:
    store = os.path.abspath(store).rstrip("/")
    return store + ".jobs"


def submit_scan(sources: list[str], store: str, spec: cluster.ClusterSpec, config_path: str | None,
                job_dir: str | None = None, scan_args: str = "", dry_run: bool = False,
                wait: bool = False) -> dict[str, Any]:
    """Write the job script (and submit it unless ``dry_run``); returns what happened."""
    job_dir = os.path.abspath(job_dir or default_job_dir(store))
    command = scan_command(sources, store, config_path, scan_args, spec.python)
    script = batch_script(spec, command, job_dir)
    if dry_run:
        return {"script": script}
    os.makedirs(job_dir, exist_ok=True)
    path = os.path.join(job_dir, "ssdnet-scan.sh")
    with open(path, "w") as fh:
        fh.write(script)
    job_id, status = submit(path, spec.kind, wait=wait)
    return {"script": script, "path": path, "job_id": job_id, "status": status, "job_dir": job_dir}
