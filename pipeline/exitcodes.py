"""Exit codes shared by every command."""
import errno
import signal
import threading
from typing import Any, Callable

OK = 0
INTERNAL = 1
USAGE = 2
SOME_FAILED = 3
ANOMALIES = 4
OPERATIONAL = 5  # the machine refused a file operation: disk full, no permission, I/O error
# The OSErrors that are the machine's, not the program's: exit OPERATIONAL, naming the file.
OPERATIONAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO,
                                errno.EFBIG, errno.EMFILE, errno.ENFILE})
# A path the user named that cannot be made or opened as asked (a file where a folder must be, a
# folder that does not exist): exit USAGE, naming the path, as for a missing input.
PATH_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP})
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it
TERMINATED = 143  # SIGTERM (128 + 15): a batch system's time limit, a shutdown, `kill`
# What stopped a command (a scan's summary says "signal"): its exit code and its error line's words.
STOPPED = {"SIGINT": (INTERRUPTED, "interrupted"), "SIGTERM": (TERMINATED, "terminated (SIGTERM)")}


class Refused(Exception):
    """An operation refused on purpose (exit 2): the message says why."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: a KeyboardInterrupt, so that everything that ends a
    Ctrl-C'd command well (a scan writing the rows it holds) ends a terminated one too."""


def stop_on_sigterm() -> Callable[[], None]:
    """Turn the next SIGTERM into :class:`Terminated`; returns what puts the old handler back.

    A batch system sends SIGTERM at a job's time limit and SIGKILL some seconds later (SLURM's
    KillWait, 30 s by default): those seconds are for writing what is finished. A second SIGTERM
    kills at once, so a cleanup that hangs cannot make a process unkillable. Outside the main
    thread (a library caller's worker thread) nothing is changed.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def terminated(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated()

    before = signal.signal(signal.SIGTERM, terminated)
    return lambda: signal.signal(signal.SIGTERM, before)


def stopping_signal(exc: BaseException | None) -> str:
    """The :data:`STOPPED` key of what a KeyboardInterrupt (or its Click Abort's cause) was."""
    return "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
