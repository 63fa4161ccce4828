"""What the store writer remembers of each row through a scan, in columns.

A rescan needs every row's (group, row, sha256, status, size, mtime) at hand to skip unchanged
images without reading them. Held as one Python object per row (a dataclass, its sha256 string
and its two large ints), a row cost about 460 bytes (tracemalloc over a 3,000-image scan): 46 MB
of client memory at 100,000 images. Here a row costs its id's dict entry plus 60 bytes of numpy
columns.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from pipeline.layout import NO_STAT


@dataclass(slots=True)
class Row:
    """One row of the store, as :class:`RowTable` hands it out: a copy, not a view."""
    group: str
    row: int
    sha256: str
    status: str
    size: int = NO_STAT
    mtime_ns: int = NO_STAT


class RowTable:
    """A mapping of image id to :class:`Row`, stored column-wise. Changes go through
    :meth:`put`, :meth:`move` and :meth:`set_stat`, never through a Row handed out."""

    def __init__(self) -> None:
        self._slot: dict[str, int] = {}
        self._free: list[int] = []  # slots of popped rows
        self._used = 0  # slots ever taken
        self._names: list[str] = []  # groups and statuses, a small code each
        self._codes: dict[str, int] = {}
        self._odd_sha: dict[int, str] = {}  # a sha256 that is not 64 hex digits (none in practice)
        self._grow(1024)

    def _grow(self, n: int) -> None:
        old = getattr(self, "_group", np.zeros(0, np.uint16)).shape[0]
        cols = {"_group": np.uint16, "_status": np.uint16, "_row": np.int64, "_size": np.int64,
                "_mtime": np.int64, "_has_sha": bool}
        for name, dtype in cols.items():
            col = np.zeros(n, dtype)
            col[:old] = getattr(self, name, col[:0])
            setattr(self, name, col)
        sha = np.zeros((n, 32), np.uint8)
        sha[:old] = getattr(self, "_sha", sha[:0])
        self._sha = sha

    def _code(self, name: str) -> int:
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = len(self._names)
            self._names.append(name)
        return code

    def put(self, image_id: str, row: Row) -> None:
        i = self._slot.get(image_id)
        if i is None:
            if self._free:
                i = self._free.pop()
            else:
                i, self._used = self._used, self._used + 1
                if i == self._row.shape[0]:
                    self._grow(2 * i)
            self._slot[image_id] = i
        self._group[i], self._status[i] = self._code(row.group), self._code(row.status)
        self._row[i], self._size[i], self._mtime[i] = row.row, row.size, row.mtime_ns
        self._odd_sha.pop(i, None)
        digest = _digest(row.sha256)
        self._has_sha[i] = digest is not None
        if digest is not None:
            self._sha[i] = np.frombuffer(digest, np.uint8)
        elif row.sha256:
            self._odd_sha[i] = row.sha256

    def get(self, image_id: str) -> Row | None:
        i = self._slot.get(image_id)
        if i is None:
            return None
        sha = self._sha[i].tobytes().hex() if self._has_sha[i] else self._odd_sha.get(i, "")
        return Row(self._names[self._group[i]], int(self._row[i]), sha, self._names[self._status[i]],
                   int(self._size[i]), int(self._mtime[i]))

    def pop(self, image_id: str) -> Row | None:
        row = self.get(image_id)
        if row is not None:
            i = self._slot.pop(image_id)
            self._odd_sha.pop(i, None)
            self._free.append(i)
        return row

    def move(self, image_id: str, row: int) -> None:
        self._row[self._slot[image_id]] = row

    def set_stat(self, image_id: str, size: int, mtime_ns: int) -> None:
        i = self._slot[image_id]
        self._size[i], self._mtime[i] = size, mtime_ns

    def __contains__(self, image_id: object) -> bool:
        return image_id in self._slot

    def __iter__(self) -> Iterator[str]:
        return iter(self._slot)

    def __len__(self) -> int:
        return len(self._slot)


def _digest(sha256: str) -> bytes | None:
    """The 32 bytes of a lowercase hex sha256; None for anything that would not round-trip."""
    if len(sha256) != 64:
        return None
    try:
        digest = bytes.fromhex(sha256)
    except ValueError:
        return None
    return digest if digest.hex() == sha256 else None
