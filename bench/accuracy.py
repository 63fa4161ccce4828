"""Accuracy of SSDnet and the baselines on the real defect sets; keeps docs/notes/development-tables.md current.

    .venv/bin/python bench/accuracy.py --methods glcm,ssd --sets crackforest --limit neu_seg=40

Every run merges its rows into bench/results.json - keyed by (set, method, preset), so
re-running one method on one set replaces just that row - and renders the tables of
docs/notes/development-tables.md from the whole file, between the generated-block markers; the prose around
them is kept as written.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from bench.report import cpu_name  # noqa: E402
from ssdnet.evaluation import METHODS, evaluate  # noqa: E402

BASELINES = [m for m in METHODS if m != "ssdnet"]
BEGIN, END = "<!-- results:begin (bench/accuracy.py writes this block) -->", "<!-- results:end -->"
COLUMNS = (("method", "method", "{}"), ("preset", "preset", "{}"), ("input", "input", "{}"), ("images", "n_images", "{}"),
           ("limit", "subset", "{}"), ("pixel AUROC", "pixel_auroc", "{:.3f}"),
           ("pixel AUPRC", "pixel_auprc", "{:.3f}"), ("AUPRO@0.3", "pixel_aupro", "{:.3f}"),
           ("F1-max", "pixel_f1_max", "{:.3f}"), ("image AUROC", "image_auroc", "{:.3f}"),
           ("s/image", "seconds_per_image", "{:.2f}"), ("metrics", "pixel_metrics", "{}"),
           ("cpu", "cpu", "{}"), ("commit", "commit", "`{}`"))


def parse_limits(text: str | None) -> tuple[int | None, dict[str, int]]:
    """``40`` (every set) or ``neu_seg=40,magnetic_tile=40`` (those sets only), or both mixed."""
    default, per_set = None, {}
    for part in filter(None, (text or "").split(",")):
        if "=" in part:
            name, n = part.split("=", 1)
            per_set[name.strip()] = int(n)
        else:
            default = int(part)
    return default, per_set


def git_commit(method: str) -> str:
    """HEAD, marked +dirty when code that determines this method's maps or metrics is uncommitted."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    code = ["ssdnet"] if method == "ssdnet" else ["ssdnet/evaluation", "ssdnet/imageio.py"]
    dirty = git("status", "--porcelain", "--", *code, "bench/accuracy.py")
    return head + ("+dirty" if dirty else "")


def row_key(row: dict) -> str:
    """Set, method, preset, then the subset (and the development images outside it), the input
    damage and the processor when there are any: a subset row sits beside the full-set row, so
    every method can be compared on the subset SSDnet ran, and a row from another processor
    beside this one's (its fits are other fits). Rows from before the processor was recorded
    have none."""
    key = f"{row['dataset']}|{row['method']}|{row['preset']}"
    if row.get("limit"):
        key += f"|limit {row['limit']}"
    if row.get("dev"):
        key += f"|dev {row['dev']}"
    if row.get("input", "as is") != "as is":
        key += f"|{row['input']}"
    return f"{key}|{row['cpu']}" if row.get("cpu") else key


def input_label(noise: float, dropout: float) -> str:
    parts = ([f"noise {noise:g}"] if noise > 0 else []) + ([f"dropout {dropout:g}"] if dropout > 0 else [])
    return ", ".join(parts) or "as is"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Several bench runs may merge rows into the same file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(path.suffix + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def load(path: Path) -> dict[str, dict]:
    return json.loads(path.read_text()) if path.is_file() else {}


def subset_label(row: dict) -> str | None:
    """The limit column: the test subset's size, or the development images scored outside it."""
    if row.get("dev"):
        return f"dev {row['dev']} (outside {row['limit']})"
    return row.get("limit")


def fmt(value, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def render_tables(rows: dict[str, dict]) -> str:
    out = []
    for dataset in sorted({r["dataset"] for r in rows.values()}):
        out += [f"### {dataset}", "", "| " + " | ".join(c[0] for c in COLUMNS) + " |",
                "|" + "---|" * len(COLUMNS)]
        chosen = sorted((r for r in rows.values() if r["dataset"] == dataset),
                        key=lambda r: (r.get("input", "as is") != "as is", r.get("limit") or 0, r.get("dev") or 0,
                                       r["method"] != "ssdnet", r["method"], str(r["preset"]), r.get("input", ""),
                                       r.get("cpu") or ""))
        for r in chosen:
            shown = {**r, "subset": subset_label(r)}
            out.append("| " + " | ".join(fmt(shown.get(key), pattern) for _, key, pattern in COLUMNS) + " |")
        out += ["", "Reproduce:", ""] + [f"    {r['command']}" for r in chosen] + [""]
    return "\n".join(out)


def write_markdown(path: Path, rows: dict[str, dict]) -> None:
    text = path.read_text() if path.is_file() else f"# Results\n\n{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(f"{head}{BEGIN}\n{render_tables(rows)}\n{END}{tail}")


def command_for(dataset: str, method: str, limit: int | None, overrides: dict, args: argparse.Namespace) -> str:
    parts = [".venv/bin/python", "bench/accuracy.py", "--sets", dataset, "--methods", method]
    if limit:
        parts += ["--limit", str(limit)]
    if args.dev:
        parts += ["--dev", str(args.dev)]
    if method == "ssdnet":
        parts += [f"--preset={args.preset}"] + [f"--option={k}={v}" for k, v in sorted(overrides.items())]
    if args.input_noise > 0:
        parts += ["--input-noise", f"{args.input_noise:g}"]
    if args.input_dropout > 0:
        parts += ["--input-dropout", f"{args.input_dropout:g}"]
    if args.datasets != default_datasets():
        parts += ["--datasets", args.datasets]
    if args.threads > 0:  # the thread count changes a fit's summation order, so the row needs it to reproduce
        parts += ["--threads", str(args.threads)]
    return shlex.join(parts)


def default_datasets() -> str:
    return str(ROOT.parent / "shared" / "datasets")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", default=default_datasets(), help="Folder of sets (default ../shared/datasets).")
    p.add_argument("--sets", default="", help="Comma-separated set names (default: every set in --datasets).")
    p.add_argument("--methods", default=",".join(BASELINES), help=f"Comma-separated, of {', '.join(METHODS)}.")
    p.add_argument("--limit", default=None, help="N for every set, or set=N,... for some (stratified subset).")
    p.add_argument("--dev", type=int, default=None, metavar="N",
                   help="Score N development images instead: stratified, from outside each set's --limit test "
                        "subset (docs/notes/results-history.md, \"Development split\").")
    p.add_argument("--preset", default="fast", help="SSDnet preset (baselines have none).")
    p.add_argument("--option", action="append", default=[], metavar="FIELD=VALUE",
                   help="Further SSDnet config field, repeatable (e.g. --option steps=100).")
    p.add_argument("--threads", type=int, default=0,
                   help="Torch threads for every method (0: torch's default); 1 is fastest on a shared machine.")
    p.add_argument("--input-noise", type=float, default=0.0,
                   help="Add Gaussian noise of this sigma (intensities in [0, 1]) to every input (robustness).")
    p.add_argument("--input-dropout", type=float, default=0.0,
                   help="Set this share of every input's pixels to 0 (robustness).")
    p.add_argument("--results", default=str(ROOT / "bench" / "results.json"))
    p.add_argument("--markdown", default=str(ROOT / "docs" / "notes" / "development-tables.md"))
    p.add_argument("--per-image-dir", default=str(ROOT / "bench" / "out"),
                   help="Per-image CSVs go to DIR/<set>/<method>[_<variant>][_limitN][_devN].csv.")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    root = Path(args.datasets)
    sets = [s for s in args.sets.split(",") if s] or sorted(d.name for d in root.iterdir() if (d / "images").is_dir())
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        p.error(f"unknown method(s): {', '.join(unknown)}")
    overrides = dict(o.split("=", 1) for o in args.option)
    default_limit, limits = parse_limits(args.limit)
    results, markdown = Path(args.results), Path(args.markdown)
    for dataset in sets:
        limit = limits.get(dataset, default_limit)
        if args.dev and not limit:
            p.error(f"--dev needs the --limit of {dataset}'s test subset it stays out of")
        for method in methods:
            config = {"preset": args.preset, **overrides} if method == "ssdnet" else None
            start, commit = time.perf_counter(), git_commit(method)
            label = input_label(args.input_noise, args.input_dropout)
            variant = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) if config else ""
            parts = (args.preset if config and args.preset != "paper" else "", variant,
                     label if label != "as is" else "", f"limit{limit}" if limit else "",
                     f"dev{args.dev}" if args.dev else "")
            tag = "".join(f"_{part}" for part in parts if part)
            row = evaluate(root / dataset, method, config, limit,
                           Path(args.per_image_dir) / dataset / f"{method}{tag.replace(' ', '')}.csv",
                           input_noise=args.input_noise, input_dropout=args.input_dropout, dev=args.dev)
            row.update(limit=limit, dev=args.dev, commit=commit, cpu=cpu_name(), date=time.strftime("%Y-%m-%d"),
                       input=label, command=command_for(dataset, method, limit, overrides, args))
            if variant:
                # A variant (ablation, candidate preset) gets its own row, not the preset's.
                row["preset"] += " + " + variant
            with locked(results):
                rows = load(results)
                rows[row_key(row)] = row
                results.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
                write_markdown(markdown, rows)
            print(f"{dataset} {method}: AUROC {fmt(row['pixel_auroc'], '{:.3f}')} "
                  f"AUPRO {fmt(row['pixel_aupro'], '{:.3f}')} ({time.perf_counter() - start:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
