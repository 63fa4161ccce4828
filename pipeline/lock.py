"""One writer per store: a lock file created with O_EXCL, holding its owner and a heartbeat.

``flock`` is not honoured by every shared filesystem a cluster uses (NFS without a lock daemon,
some Lustre mounts), and a store there is written from whichever node runs the client. O_EXCL
creation is atomic on NFSv3+ and Lustre, so the file itself is the lock. It says who holds it
(host, pid) and when it last said it was alive (a heartbeat a thread rewrites every
``HEARTBEAT_S``). A lock is stale, and taken over with a warning that says whose it was, when
its heartbeat is older than ``STALE_S`` (its holder died on another node, or hangs), or at once
when its holder is a process of this host that no longer exists (kill -9). Heartbeats compare
clocks across nodes: they must agree to within a fraction of STALE_S (NTP does far better).
See docs/STORE.md, "The lock".
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

from pipeline.exitcodes import Refused

log = logging.getLogger("ssdnet.scan")

LOCK_NAME = ".ssdnet-scan.lock"
HEARTBEAT_S = 10.0
STALE_S = 120.0


def _read(path: Path) -> dict[str, Any] | None:
    """The holder the lock file names; None when there is no lock file. A file of an earlier
    version (its pid alone, guarded by flock) reads as ``{"pid": n}``; an empty or garbled one as {}."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    if text.strip().isdigit():
        return {"pid": int(text)}
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _legacy_free(path: Path) -> bool:
    """Whether an earlier version's lock file is free: its holder kept an flock on it."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def stale_reason(path: Path, holder: dict[str, Any], stale_s: float) -> str:
    """Why a lock is stale ('' when its holder may be alive)."""
    if not holder:
        # Empty: its creator may be between creating and writing it. Only an old one is stale.
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return ""
        return f"an unreadable lock file, last written {age:.0f} s ago" if age > stale_s else ""
    if set(holder) == {"pid"}:
        return ""  # an earlier version's: decided by its flock (_legacy_free)
    age = time.time() - float(holder.get("heartbeat", 0))
    if holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1))):
        return f"its process {holder.get('pid')} on this host is gone"
    if age > stale_s:
        return f"its last heartbeat was {age:.0f} s ago (stale after {stale_s:g} s)"
    return ""


def describe(holder: dict[str, Any]) -> str:
    if "host" not in holder:
        return f"pid {holder.get('pid', '?')}"
    age = time.time() - float(holder.get("heartbeat", 0))
    return f"pid {holder.get('pid')} on {holder['host']}, heartbeat {age:.0f} s ago"


class Lock:
    """The held lock: its file, its token, and the heartbeat thread."""

    def __init__(self, path: Path, beat_s: float):
        self.path = path
        self.token = uuid.uuid4().hex
        self.record = {"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                       "since": time.time(), "heartbeat": time.time()}
        self.stop = threading.Event()
        self.lost = False
        self.thread = threading.Thread(target=self._beat, args=(beat_s,), name="ssdnet-lock-heartbeat", daemon=True)

    def create(self) -> bool:
        """Create the lock file with O_EXCL: False when one exists (someone holds it)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(self.record, f)
        return True

    def ours(self) -> bool:
        return (_read(self.path) or {}).get("token") == self.token

    def _beat(self, beat_s: float) -> None:
        while not self.stop.wait(beat_s):
            if not self.ours():
                # Taken over: this process looked dead for STALE_S (suspended, a frozen mount).
                log.error("lost the store lock %s to %s: another scan may be writing the store",
                          self.path, describe(_read(self.path) or {}))
                self.lost = True
                return
            self.record["heartbeat"] = time.time()
            tmp = self.path.with_name(f"{LOCK_NAME}.{self.token}.tmp")
            try:
                tmp.write_text(json.dumps(self.record), encoding="utf-8")
                os.replace(tmp, self.path)  # the whole record at once: a reader never sees half
            except OSError as exc:
                log.warning("cannot refresh the store lock's heartbeat: %s", exc)

    def release(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        if self.ours():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _take_over(lock: Lock, holder: dict[str, Any], why: str) -> bool:
    """Replace a stale lock, one taker at a time: the taker first creates ``<lock>.takeover``
    with O_EXCL, so two processes that both found it stale cannot both replace it."""
    guard = lock.path.with_name(LOCK_NAME + ".takeover")
    try:
        fd = os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # Held for milliseconds by a live taker; one left by a taker that died is old.
        with contextlib.suppress(OSError):
            if time.time() - guard.stat().st_mtime > STALE_S:
                guard.unlink()
        return False
    os.close(fd)
    try:
        if _read(lock.path) != holder:
            return False  # it changed meanwhile: someone else took it, or its holder beat
        log.warning("taking over the store lock %s of %s: %s", lock.path, describe(holder), why)
        with contextlib.suppress(FileNotFoundError):
            lock.path.unlink()
        return lock.create()
    finally:
        guard.unlink()


@contextlib.contextmanager
def store_lock(store: str | os.PathLike, stale_s: float = STALE_S, beat_s: float = HEARTBEAT_S) -> Iterator[Lock]:
    """Hold the store's write lock, or refuse (exit 2) when a live process holds it."""
    path = Path(store) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = Lock(path, beat_s)
    for _ in range(3):  # a holder that released it, or another taker, between two looks
        if lock.create():
            break
        holder = _read(path)
        if holder is None:
            continue
        why = stale_reason(path, holder, stale_s)
        if not why and set(holder) == {"pid"}:
            why = "a lock file of an earlier version that nobody holds" if _legacy_free(path) else ""
        if not why:
            raise Refused(f"store {store} is being written by another scan ({describe(holder)}); "
                          "wait for it to finish or stop it")
        if _take_over(lock, holder, why):
            break
    else:
        raise Refused(f"store {store}: could not take its lock {path} (other scans are taking it)")
    lock.thread.start()
    try:
        yield lock
    finally:
        lock.release()


def holder_of(store: str | os.PathLike) -> dict[str, Any] | None:
    """Who holds the store's lock, as its file says (None: nobody)."""
    return _read(Path(store) / LOCK_NAME)

