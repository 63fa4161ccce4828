"""Where an image's bytes come from, said without the bytes: the task's descriptor, read on a worker.

The client enumerates the sources from names and stat data alone and sends each task a
:class:`Descriptor`; the worker opens the source, reads the bytes and hashes them where it reads
them. So the client never holds an archive's images, and a rescan decides from (size, mtime)
whether an image changed without any bytes read at all (docs/STORE.md, change detection).

One exception: the members of a compressed tar can only be reached by decompressing the stream
from its start, which the client does while enumerating; their bytes travel in the descriptor
(kind ``bytes``), as every image's did before.
"""
from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass

# What reading a damaged zip raises besides OSError (zipfile's, the decompressors', encryption).
_ZIP_ERRORS = (OSError, EOFError, zipfile.BadZipFile, RuntimeError, NotImplementedError, ValueError)


@dataclass(frozen=True)
class Descriptor:
    kind: str          # file | tar | zip | url | bytes
    location: str      # a path on a filesystem the workers share, an archive's path, or an fsspec URL
    member: str = ""   # an archive member's name (for people, and to check the archive did not change)
    index: int = -1    # tar: offset of the member's data in the (uncompressed) archive; zip: its position
    size: int = -1     # bytes, from the source's stat or member header; -1: unknown
    mtime_ns: int = -1  # modification time, ns since 1970 (a member's header time); -1: unknown
    data: bytes | None = None  # kind bytes only


class ReadError(Exception):
    """Why an image's bytes could not be read: its failed row's reason, as said."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def read_bytes(d: Descriptor) -> bytes:
    """The image's bytes, or :class:`ReadError` saying why not."""
    if d.kind == "bytes":
        if d.data is None:
            raise ReadError("no data")
        return d.data
    reader = _READERS.get(d.kind)
    if reader is None:
        raise ReadError(f"unknown source kind {d.kind!r}")
    return reader(d)


def _file(d: Descriptor) -> bytes:
    try:
        with open(d.location, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror or exc}") from None


def _tar_member(d: Descriptor) -> bytes:
    # An uncompressed tar holds each member's bytes contiguously at a known offset: one seek.
    try:
        with open(d.location, "rb") as f:
            f.seek(d.index)
            data = f.read(d.size)
    except OSError as exc:
        raise ReadError(f"cannot read archive member: {exc.strerror or exc}") from None
    if len(data) != d.size:
        raise ReadError(f"cannot read archive member: the archive ends {d.size - len(data)} bytes early "
                        "(changed or truncated since it was listed)")
    return data


def _zip_member(d: Descriptor) -> bytes:
    # By position, not name: a zip may hold two members of the same name (numbered ids).
    try:
        with zipfile.ZipFile(d.location) as zf:
            infos = zf.infolist()
            if d.index >= len(infos) or infos[d.index].filename != d.member:
                raise ReadError("cannot read archive member: the archive changed since it was listed")
            return zf.read(infos[d.index])
    except _ZIP_ERRORS as exc:
        # Random access: a damaged, encrypted or oddly compressed member costs its own row only.
        raise ReadError(f"cannot read archive member: {exc}") from None


def _url(d: Descriptor) -> bytes:
    try:
        import fsspec
    except ImportError:
        raise ReadError("cannot read a URL on this worker: fsspec is not installed "
                        "(pip install 'ssdnet[urls]')") from None
    try:
        with fsspec.open(d.location, "rb") as f:
            return f.read()
    except Exception as exc:  # noqa: BLE001 - any filesystem's error is this image's failed row
        raise ReadError(f"cannot read: {type(exc).__name__}: {exc}") from None


_READERS = {"file": _file, "tar": _tar_member, "zip": _zip_member, "url": _url}


def read_and_hash(d: Descriptor) -> tuple[bytes, str]:
    """The bytes and their sha256, computed here, where they are read."""
    data = read_bytes(d)
    return data, hashlib.sha256(data).hexdigest()
