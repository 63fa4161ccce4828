"""Exit codes shared by every command."""
import errno
OK = 0
INTERNAL = 1
USAGE = 2
SOME_FAILED = 3
ANOMALIES = 4
OPERATIONAL = 5  # the machine refused a file operation: disk full, no permission, I/O error
# The OSErrors that are the machine's, not the program's: exit OPERATIONAL, naming the file.
OPERATIONAL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS, errno.EIO,
                                errno.EFBIG, errno.EMFILE, errno.ENFILE})
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class Refused(Exception):
    """An operation refused on purpose (exit 2): the message says why."""
