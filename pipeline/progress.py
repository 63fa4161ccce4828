"""What a person sees during a scan: one rewritten stderr line at a terminal, a log line every
so often elsewhere (cron, batch jobs), then a summary."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

PROGRESS_EVERY = 60.0  # seconds between progress lines off a terminal (ScanOptions.progress_every)


def progress_text(tally: Any, exhausted: bool) -> str:
    """``done/total`` fitted (total once counted, or once enumeration has ended), the counts,
    the images in flight and how many of their maps are made, the rate and the ETA."""
    elapsed = max(time.monotonic() - tally.start, 1e-9)
    rate = tally.done / elapsed
    known = tally.seen if exhausted else tally.total
    # Skipped images take no fitting time: the ETA counts the ones still to fit.
    todo = known - tally.skipped if known is not None else None
    total = f"/{todo}" if todo is not None else "/?"
    eta = f"ETA {_clock(max(0, todo - tally.done) / rate)}" if todo is not None and rate > 0 else "ETA --"
    # A packed task's maps come one by one after its joint fit: shown, a long pack never looks hung.
    flight = f"  in flight {tally.in_flight}" + (f" ({tally.mapped} mapped)" if tally.mapped else "")
    return (f"{tally.done}{total} fitted  ok {tally.ok}  failed {tally.failed}  skipped {tally.skipped}"
            f"{flight if tally.in_flight else ''}  {rate * 60:.1f} img/min  {eta}")


class ProgressLine:
    """:func:`progress_text` on one stderr line, rewritten in place (a terminal)."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.width = 0

    def __call__(self, tally: Any, exhausted: bool) -> None:
        line = progress_text(tally, exhausted)
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def end(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()


class ProgressLog:
    """:func:`progress_text` as a new line every ``every`` seconds (and once at the end), for a
    scan whose stderr is a log file, a cron mail or a batch job's output."""

    def __init__(self, every: float, stream: TextIO | None = None):
        self.every = every
        self.stream = stream or sys.stderr  # at call time: a redirected stderr is the one used
        self.last = time.monotonic()

    def __call__(self, tally: Any, exhausted: bool) -> None:
        final = exhausted and tally.in_flight == 0
        if not final and time.monotonic() - self.last < self.every:
            return
        self.last = time.monotonic()
        self.stream.write(f"progress: {progress_text(tally, exhausted)}\n")
        self.stream.flush()

    def end(self) -> None:
        pass  # every line is whole


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def human_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['store']}: ok {summary['ok']}, failed {summary['failed']}, "
             f"skipped {summary['skipped']} (already done), {summary['images_per_minute']:.1f} images/min"]
    if summary.get("skipped_paths"):
        counts = ", ".join(f"{n} {reason}" for reason, n in summary["skipped_paths"].items())
        lines.append(f"  not scanned: {counts} (each in the --log-file; the first ones in --json)")
    if summary.get("gone"):
        first = ", ".join(summary["gone_examples"][:3])
        lines.append(f"  gone: {summary['gone']} rows whose image is no longer in the sources ({first}"
                     f"{', ...' if summary['gone'] > 3 else ''}); "
                     + ("pruned" if summary.get("pruned") else "--prune drops them"))
    for image_id in summary["failed_ids"]:
        lines.append(f"  failed: {image_id}: {summary['errors'].get(image_id, '')}")
    return "\n".join(lines)
