"""``-v`` / ``-q``: how much the ``ssdnet`` and ``pipeline`` loggers and the progress output say.

Level -1 (``-q``): errors only, no progress; 0: warnings and progress; 1 (``-v``): info;
2 (``-vv``): debug. Imports nothing heavy.
"""
from __future__ import annotations

import logging
import sys

LOGGERS = ("ssdnet", "pipeline")
_state = {"level": 0}


class _Stderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_handler = _Stderr()
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))


_saved: dict[str, int] = {}  # logger -> its level before -v / -q changed it


def set_verbosity(level: int) -> None:
    """Apply ``level`` (-1 quiet .. 2 debug) to the project's loggers; level 0 undoes it all
    (logging as Python's defaults have it: warnings on stderr)."""
    _state["level"] = level
    for name, old in _saved.items():
        logging.getLogger(name).setLevel(old)
        logging.getLogger(name).removeHandler(_handler)
    _saved.clear()
    if level == 0:
        return
    threshold = logging.ERROR if level < 0 else logging.INFO if level == 1 else logging.DEBUG
    _handler.setLevel(threshold)
    # A scan's own cluster logs through distributed: quiet means quiet there too.
    for name in (*LOGGERS, "distributed") if level < 0 else LOGGERS:
        logger = logging.getLogger(name)
        _saved[name] = logger.level
        if name in LOGGERS:
            logger.addHandler(_handler)
        logger.setLevel(threshold)


def verbosity() -> int:
    return _state["level"]


def quiet() -> bool:
    """``-q`` was given: no progress, no info."""
    return _state["level"] < 0
