"""Exit codes shared by every command."""
OK = 0
INTERNAL = 1
USAGE = 2
SOME_FAILED = 3
ANOMALIES = 4


class Refused(Exception):
    """An operation refused on purpose (exit 2): the message says why."""
