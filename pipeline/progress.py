"""What a person at a terminal sees during a scan: one rewritten stderr line, then a summary."""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressLine:
    """``done/total`` (total once counted, or once enumeration has ended), rate and ETA."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.width = 0

    def __call__(self, tally: Any, exhausted: bool) -> None:
        elapsed = max(time.monotonic() - tally.start, 1e-9)
        rate = tally.done / elapsed
        known = tally.seen if exhausted else tally.total
        # Skipped images take no fitting time: the ETA counts the ones still to fit.
        todo = known - tally.skipped if known is not None else None
        total = f"/{todo}" if todo is not None else "/?"
        eta = f"ETA {_clock(max(0, todo - tally.done) / rate)}" if todo is not None and rate > 0 else "ETA --"
        line = (f"{tally.done}{total} fitted  ok {tally.ok}  failed {tally.failed}  skipped {tally.skipped}"
                f"  {rate * 60:.1f} img/min  {eta}")
        self.stream.write("\r" + line.ljust(self.width))
        self.width = len(line)
        self.stream.flush()

    def end(self) -> None:
        if self.width:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def human_summary(summary: dict[str, Any]) -> str:
    lines = [f"{summary['store']}: ok {summary['ok']}, failed {summary['failed']}, "
             f"skipped {summary['skipped']} (already done), {summary['images_per_minute']:.1f} images/min"]
    for image_id in summary["failed_ids"]:
        lines.append(f"  failed: {image_id}: {summary['errors'].get(image_id, '')}")
    return "\n".join(lines)
