"""The cluster flags every cluster-using command shares, and the spec they resolve to.

``--cluster-config FILE`` (or SSDNET_CLUSTER_CONFIG) gives the file; the other flags win
over it. ``--scheduler`` / ``--scheduler-file`` are shorthands for the kinds address and
scheduler-file. A bad file or flag is a usage error (exit 2).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import click

import cluster
from pipeline.options import GroupedOption
from pipeline.scanoptions import OptionsError

GROUP = "Cluster options (docs/CLUSTER.md)"

CONFIG_ENV = "SSDNET_CLUSTER_CONFIG"
_OPTIONS = ("cluster_kind", "cluster_config", "scheduler", "scheduler_file",
            "tls_ca_file", "tls_cert", "tls_key")


def cluster_options(func: Callable, shorthands: bool = True) -> Callable:
    """Add the cluster flags; ``shorthands=False`` leaves out --scheduler / --scheduler-file
    for a command that declares those itself."""
    opts = [
        click.option("--cluster", "cluster_kind", cls=GroupedOption, group=GROUP, type=click.Choice(cluster.KINDS), default=None,
                     help="Where the work runs [default: local, or the config file's kind]."),
        click.option("--cluster-config", "cluster_config", cls=GroupedOption, group=GROUP, type=click.Path(dir_okay=False),
                     envvar=CONFIG_ENV, default=None,
                     help=f"TOML file of cluster keys (docs/CLUSTER.md) [env: {CONFIG_ENV}]."),
        click.option("--scheduler", "scheduler", cls=GroupedOption, group=GROUP, metavar="ADDRESS", default=None,
                     help="Use a running scheduler (kind address), e.g. tcp://host:8786."),
        click.option("--scheduler-file", "scheduler_file", cls=GroupedOption, group=GROUP, type=click.Path(dir_okay=False), default=None,
                     help="Use the running scheduler that wrote FILE (kind scheduler-file)."),
        click.option("--tls-ca-file", cls=GroupedOption, group=GROUP, brief=False, default=None, type=click.Path(dir_okay=False),
                     help="CA certificate: connect over TLS only."),
        click.option("--tls-cert", cls=GroupedOption, group=GROUP, brief=False, default=None, type=click.Path(dir_okay=False),
                     help="This side's certificate (PEM)."),
        click.option("--tls-key", cls=GroupedOption, group=GROUP, brief=False, default=None, type=click.Path(dir_okay=False),
                     help="Key of --tls-cert, if not inside it."),
    ]
    if not shorthands:
        del opts[2:4]  # --scheduler, --scheduler-file
    for opt in reversed(opts):
        func = opt(func)
    return func


def cluster_config_options(func: Callable) -> Callable:
    """--cluster, --cluster-config and the TLS flags, for ``ssdnet scan`` (which has its own
    --scheduler / --scheduler-file)."""
    return cluster_options(func, shorthands=False)


def pop_cluster_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The flags cluster_config_options added (the command's own --scheduler* stay)."""
    return {name: kwargs.pop(name) for name in _OPTIONS
            if name in kwargs and name not in ("scheduler", "scheduler_file")}


@contextlib.contextmanager
def scan_cluster(flags: dict[str, Any], scan_values: dict[str, Any]) -> Iterator[Any]:
    """The client of the cluster --cluster / --cluster-config name, or None when neither is
    given (the scan then starts its own). Takes --scheduler, --scheduler-file and --workers
    out of ``scan_values`` into the spec, where they win over the file."""
    if not any(flags.get(k) for k in ("cluster_kind", "cluster_config", "tls_ca_file")):
        yield None
        return
    flags = {**flags, "scheduler": scan_values.pop("scheduler", None) or None,
             "scheduler_file": scan_values.pop("scheduler_file", None) or None}
    workers = scan_values.pop("workers", None) or None
    spec = spec_from(flags, workers=workers)
    with cluster.connect(spec) as client:
        yield client


def spec_from(kwargs: dict[str, Any], **flags: Any) -> cluster.ClusterSpec:
    """Pop the cluster flags from a command's kwargs; ``flags`` are more overrides (e.g. workers)."""
    given = {name: kwargs.pop(name, None) for name in _OPTIONS}
    kind = given["cluster_kind"]
    if given["scheduler"] and given["scheduler_file"]:
        raise OptionsError("--scheduler and --scheduler-file exclude each other")
    for flag, implied in (("scheduler", "address"), ("scheduler_file", "scheduler-file")):
        if given[flag]:
            if kind not in (None, implied):
                raise OptionsError(f"--{flag.replace('_', '-')}: implies --cluster {implied}, not {kind}")
            kind = implied
    overrides = {"kind": kind, "address": given["scheduler"], "scheduler_file": given["scheduler_file"],
                 "tls_ca_file": given["tls_ca_file"], "tls_cert": given["tls_cert"],
                 "tls_key": given["tls_key"], **flags}
    # A bad file or key is a cluster.ConfigError: the command line says it as any bad option.
    return cluster.load_spec(given["cluster_config"], **overrides)


def config_path(kwargs: dict[str, Any]) -> str | None:
    return kwargs.get("cluster_config")
