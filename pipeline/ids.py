"""Finding an image id from what a user types: the full id, or its path's tail."""
from __future__ import annotations

import difflib
import os
import re
from typing import Iterable


def readable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold written as ``\\xNN`` escapes.

    A file name's bytes that are not UTF-8 reach Python as lone surrogates (``surrogateescape``);
    the store's strings must be UTF-8, and one such name made a whole scan fail. The escapes are
    made the same way each run, so a rescan finds the image's row again."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decoding makes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def unescaped(text: str) -> str:
    """The file name :func:`readable` made ``text`` of (its ``\\xNN`` escapes back to bytes), for
    opening the file again; ``text`` itself where it holds no such escape."""
    raw = re.sub(rb"\\x([89a-f][0-9a-f])", lambda m: bytes([int(m[1], 16)]), text.encode("utf-8"))
    return os.fsdecode(raw)


class UnknownId(KeyError):
    """No id, or more than one, matches; the message says which ids come close."""

    def __str__(self) -> str:  # KeyError's own str() quotes its message
        return str(self.args[0])


def match_id(given: str, ids: Iterable[str], what: str = "image id") -> str:
    """``given`` itself when it is an id; else the one id whose path ends with it at a ``/``
    (``img_05.png`` finds ``arch/img_05.png``, ``b/x.png`` finds ``src/a/b/x.png``). Raises
    :class:`UnknownId` naming the candidates when several ids end so, or the closest ids when
    none does."""
    ids = list(ids)
    if given in ids:
        return given
    tail = "/" + given.strip("/")
    ends = sorted(i for i in ids if i.endswith(tail))
    if len(ends) == 1:
        return ends[0]
    if ends:
        shown = ", ".join(ends[:5]) + (f" and {len(ends) - 5} more" if len(ends) > 5 else "")
        raise UnknownId(f"{what} {given!r} is ambiguous: it ends {len(ends)} ids ({shown}); give more of the path")
    # Near misses by whole id, then by file name (a typo in the name, or another folder).
    near = difflib.get_close_matches(given, ids, n=3, cutoff=0.6)
    if not near:
        names = {}
        for i in ids:
            names.setdefault(i.rsplit("/", 1)[-1], i)
        near = [names[n] for n in difflib.get_close_matches(given.rsplit("/", 1)[-1], list(names), n=3, cutoff=0.6)]
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    raise UnknownId(f"no {what} {given!r} in this store{hint}")
