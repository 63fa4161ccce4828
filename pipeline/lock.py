"""One writer per store: an flock on a file inside it, which the kernel drops when the holder dies."""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from pipeline.exitcodes import Refused

LOCK_NAME = ".ssdnet-scan.lock"


@contextlib.contextmanager
def store_lock(store: str | os.PathLike) -> Iterator[None]:
    """Hold the store's write lock, or refuse (exit 2) when another process holds it."""
    path = Path(store) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise Refused(f"store {store} is being written by another scan (pid {holder}); "
                          "wait for it to finish or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock
