"""Which images a diagnostic bench script scores: a set, its fixed test subset or its development images."""
from __future__ import annotations

import argparse
from pathlib import Path

from ssdnet.evaluation import Sample, list_samples, selected
from ssdnet.evaluation.datasets import DatasetError


def add_selection(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--datasets", default=str(Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    ap.add_argument("--set", required=True)
    ap.add_argument("--limit", type=int, default=None, help="the test subset's size (bench/accuracy.py --limit)")
    ap.add_argument("--dev", type=int, default=None, metavar="N", help="N development images from outside it")


def selected_samples(ap: argparse.ArgumentParser, args: argparse.Namespace) -> list[Sample]:
    """The images ``args`` select; a usage error (exit 2) for --dev without --limit, or naming
    why the folder is not a set (or has no development images)."""
    if args.dev is not None and not args.limit:
        ap.error("--dev needs the --limit of the test subset it stays out of")
    try:
        return selected(list_samples(Path(args.datasets) / args.set), args.limit, args.dev)
    except DatasetError as e:
        ap.error(str(e))
