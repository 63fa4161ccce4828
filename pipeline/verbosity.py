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


def set_verbosity(level: int) -> None:
    """Apply ``level`` (-1 quiet .. 2 debug) to the project's loggers; idempotent."""
    _state["level"] = level
    threshold = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(level, logging.DEBUG)
    _handler.setLevel(threshold)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _handler not in logger.handlers:
            logger.addHandler(_handler)
        if logger.level == logging.NOTSET or logger.level > threshold:
            logger.setLevel(threshold)
    # A scan's own cluster logs through distributed: quiet means quiet there too.
    if level < 0:
        logging.getLogger("distributed").setLevel(logging.ERROR)


def verbosity() -> int:
    return _state["level"]


def quiet() -> bool:
    """``-q`` was given: no progress, no info."""
    return _state["level"] < 0
