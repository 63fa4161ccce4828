"""Progress of :func:`pipeline.scan` called from Python: a bar in a notebook or a terminal.

``tqdm.auto`` draws it (a widget in Jupyter, text elsewhere) where tqdm is installed
(``pip install 'ssdnet[notebook]'``); without tqdm, the CLI's one-line progress on stderr
stands in, so asking for progress never fails.
"""
from __future__ import annotations

import sys
from typing import Any

from pipeline.progress import ProgressLine


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (where a scan shows its bar by default)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


class ProgressBar:
    """An ``on_progress`` callback (``(tally, exhausted)``) drawing one bar per scan: images
    done out of the total once the sources are counted, ok / failed / in flight beside it."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.line: ProgressLine | None = None

    def _open(self, total: int | None) -> None:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self.line = ProgressLine(sys.stderr)  # the stderr of now (a notebook may swap it)
            return
        self.bar = tqdm(total=total, unit="image", desc="scan", dynamic_ncols=True)

    def __call__(self, tally: Any, exhausted: bool) -> None:
        if self.bar is None and self.line is None:
            self._open(tally.total)
        final = exhausted and tally.in_flight == 0
        if self.line is not None:
            self.line(tally, exhausted)
            if final:
                self.line.end()
            return
        if tally.total is not None and self.bar.total != tally.total:
            self.bar.total = tally.total
        self.bar.n = tally.done
        self.bar.set_postfix(ok=tally.ok, failed=tally.failed, skipped=tally.skipped, in_flight=tally.in_flight,
                             refresh=False)
        self.bar.refresh()
        if final:
            self.bar.close()
