"""``ssdnet cluster info``: the resolved cluster spec and what it would get."""
from __future__ import annotations

import dataclasses
import json

import click

import cluster
from cluster.plan import plan
from pipeline.clusteropts import cluster_options, spec_from


@click.group("cluster")
def cluster_group() -> None:
    """Inspect the cluster a scan would run on."""


def _relevant(spec: cluster.ClusterSpec) -> dict:
    """The keys that matter for this kind (the others are ignored by it)."""
    out = {}
    for f in dataclasses.fields(spec):
        kinds = f.metadata.get("kinds")
        if kinds is None or spec.kind in kinds:
            value = getattr(spec, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@cluster_group.command("info")
@cluster_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--job-script", is_flag=True, help="Batch kinds: also print one worker job's script.")
def cluster_info_cmd(as_json: bool, job_script: bool, **kwargs) -> int:
    """Print the resolved spec (flags over --cluster-config over defaults) and the worker and
    GPU counts it would get. For address and scheduler-file, asks the running scheduler."""
    spec = spec_from(kwargs)
    keys = _relevant(spec)
    got = plan(spec)
    if as_json:
        click.echo(json.dumps({"spec": keys, **got}))
    else:
        for name, value in keys.items():
            click.echo(f"{name} = {json.dumps(value)}")
        click.echo(f"# would get: {got['workers']} worker(s), {got['threads']} thread(s), "
                   f"{got['gpus']} GPU(s) - {got['note']}")
    if job_script and spec.kind in cluster.spec.JOBQUEUE_KINDS:
        from cluster.jobqueue import worker_job_script
        click.echo(worker_job_script(spec))
    return 0
