"""Enumerating the images of scan sources, lazily: directories, globs, archives, list files and
fsspec URLs.

Every entry carries a :class:`pipeline.reading.Descriptor` (where its bytes are, with the size and
mtime that change detection compares; the worker reads them) or the reason it cannot be read.
Only a compressed tar's members are read here, as its stream passes (archive members are read in
place, never extracted). Member names only ever become ids, never paths to write.

Nothing a source holds disappears silently, as an archive at scale holds everything once: a
path that is not scanned is a :class:`Skipped` (counted by reason in the scan's summary), a
member whose path leaves its archive is a failed row, a second image with an id already seen
gets a numbered id, and a source that cannot be read to its end (a damaged archive) ends in
one failed row that says how far it got, after the images read before the damage.
"""
from __future__ import annotations

import bz2
import calendar
import fnmatch
import glob
import gzip
import logging
import lzma
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

import ssdnet

from pipeline.exitcodes import Refused
from pipeline.ids import readable
from pipeline.reading import Descriptor

log = logging.getLogger("ssdnet.scan")

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
LIST_SUFFIX = ".txt"
# The id folder of members whose path leaves their archive: readable, and should a member really
# be named so, the ids still differ (numbered, like any id seen twice).
OUTSIDE = "(outside)"
# What reading a damaged archive or list file raises: tarfile's and zipfile's errors, the
# decompressors' (gzip's BadGzipFile and bz2's are OSErrors), an early end, a list that is not UTF-8.
DAMAGE = (OSError, EOFError, zlib.error, lzma.LZMAError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError)


@dataclass(frozen=True)
class Entry:
    id: str          # "<source name>/<path relative to the source>"
    path: str        # where it came from, for people: a file path or "archive.tar:member"
    desc: Descriptor | None
    error: str = ""  # why it cannot be read (then desc is None)

    @property
    def data(self) -> bytes | None:
        """The bytes, where enumerating read them (a compressed tar's members); else None."""
        return self.desc.data if self.desc is not None else None


@dataclass(frozen=True)
class Skipped:
    """A path a source holds that is not scanned, and why (one of a few fixed reasons, counted)."""
    path: str
    reason: str


@dataclass(frozen=True)
class Found:
    """An image a source holds, before its id is made unique: the id's tail, and how to read it."""
    rel: str
    path: str
    read: Callable[[], tuple[Descriptor | None, str]]  # where its bytes are, or why they cannot be read


@dataclass(frozen=True)
class Source:
    kind: str  # dir | glob | tar | zip | list | url
    location: str
    name: str
    pattern: str = ""


def is_image_name(name: str) -> bool:
    return name.lower().endswith(ssdnet.IMAGE_EXTENSIONS)


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str:
    low = name.lower()
    for s in sorted(suffixes, key=len, reverse=True):
        if low.endswith(s) and len(name) > len(s):
            return name[: -len(s)]
    return name


def safe_relative(name: str) -> str:
    """A member or list path as an id tail: posix, no leading '/', no '..' climbing out."""
    parts = [p for p in posixpath.normpath(name.replace("\\", "/")).split("/") if p not in ("", ".", "..")]
    return "/".join(parts)


def leaves_archive(name: str) -> bool:
    """Whether a member path is absolute (``/x``, ``C:/x``) or climbs out with ``..``."""
    norm = posixpath.normpath(name.replace("\\", "/"))
    first = norm.split("/", 1)[0]
    return norm.startswith("/") or first == ".." or (len(first) == 2 and first[1] == ":")


def numbered(rel: str, n: int) -> str:
    """``rel`` with ``~n`` before its extension: ``x/a.png`` -> ``x/a~2.png``."""
    stem, ext = posixpath.splitext(rel)
    return f"{stem}~{n}{ext}"


def describe(location: str) -> Source:
    """Classify one SOURCE argument; a missing one is a usage error."""
    low = location.lower()
    if "://" in location:
        return _describe_url(location)
    if glob.has_magic(location):
        # Like a missing directory: a glob matching nothing is most likely a typo, not an empty batch.
        if next(glob.iglob(location, recursive=True), None) is None:
            raise Refused(f"source {location}: no file or directory matches this glob")
        parts = Path(location).parts
        fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
        prefix = str(Path(*fixed)) if fixed else "."
        return Source("glob", prefix, Path(os.path.abspath(prefix)).name, location)
    if os.path.isdir(location):
        return Source("dir", location, Path(os.path.abspath(location)).name)
    if not os.path.isfile(location):
        raise Refused(f"source {location}: no such file or directory")
    base = os.path.basename(location)
    if low.endswith(TAR_SUFFIXES):
        return Source("tar", location, _strip_suffix(base, TAR_SUFFIXES))
    if low.endswith(".zip"):
        return Source("zip", location, _strip_suffix(base, (".zip",)))
    if low.endswith(LIST_SUFFIX):
        return Source("list", location, _strip_suffix(base, (LIST_SUFFIX,)))
    raise Refused(f"source {location}: not a directory, glob, .tar/.tar.gz/.zip archive or .txt list")


def describe_all(locations: Iterable[str]) -> list[Source]:
    sources = [describe(loc) for loc in locations]
    seen: dict[str, str] = {}
    for s in sources:
        if s.name in seen:
            raise Refused(f"sources {seen[s.name]} and {s.location} have the same name {s.name!r}: "
                          "image ids would collide; rename one")
        seen[s.name] = s.location
    if not sources:
        raise Refused("no SOURCE given")
    return sources


def _describe_url(location: str) -> Source:
    """An fsspec URL of a directory (``file:///data/shots``, ``s3://bucket/shots``)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:
        raise Refused(f"source {location}: URLs need fsspec (pip install 'ssdnet[urls]', "
                      "and 'ssdnet[s3]' for s3://)") from None
    try:
        fs, root = url_to_fs(location)
        is_dir = fs.isdir(root)
    except Exception as exc:  # noqa: BLE001 - an unknown protocol, a missing driver, no access
        raise Refused(f"source {location}: {type(exc).__name__}: {exc}") from None
    if not is_dir:
        raise Refused(f"source {location}: not a directory (a URL source names a directory)")
    return Source("url", location, posixpath.basename(root.rstrip("/")) or "root")


def _file(path: str) -> tuple[Descriptor | None, str]:
    # The stat that change detection compares; the bytes are the worker's to read. A path that
    # cannot be stat'ed is described all the same: reading it says why, in its failed row.
    try:
        st = os.stat(path)
        return Descriptor("file", os.path.abspath(path), size=st.st_size, mtime_ns=st.st_mtime_ns), ""
    except OSError:
        return Descriptor("file", os.path.abspath(path)), ""


def _walk(root: str) -> Iterator[str | Skipped]:
    """The file paths under ``root``, and what the walk cannot enter, as :class:`Skipped`."""
    unreadable: list[OSError] = []
    # Sorted per directory: deterministic order without listing the whole tree first.
    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        yield from _unreadable(unreadable)
        dirnames.sort()
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                yield Skipped(path, "symlink to a directory (not followed)")
            elif is_image_name(name):
                yield Skipped(path, "directory")  # what it holds is walked all the same
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)
    yield from _unreadable(unreadable)


def _unreadable(errors: list[OSError]) -> Iterator[Skipped]:
    # os.walk reports a directory it cannot list through onerror, and otherwise passes it by.
    yield from (Skipped(exc.filename or "?", "unreadable directory") for exc in errors)
    errors.clear()


def _regular(path: str) -> bool:
    """False for what opening would block on or misread (a FIFO, a device, a socket); a path that
    cannot be looked at counts as regular: reading it then says why, in its failed row."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


def _files(src: Source, paths: Iterable[str | Skipped], base: str, once: bool = False) -> Iterator[Found | Skipped]:
    """Files as images, or why not; ``once``: a path named again (a list) is skipped, not fitted twice."""
    named: set[str] = set()
    for path in paths:
        if isinstance(path, Skipped):
            yield path
        elif os.path.isdir(path):  # a glob's match or a list's line
            if is_image_name(path):
                yield Skipped(path, "directory")
        elif not is_image_name(path):
            yield Skipped(path, "not an image extension")
        elif not _regular(path):
            yield Skipped(path, "not a regular file")
        elif once and os.path.abspath(path) in named:
            yield Skipped(path, "listed again")
        else:
            if once:
                named.add(os.path.abspath(path))
            yield Found(safe_relative(os.path.relpath(path, base)), path, lambda path=path: _file(path))


def _member(src: Source, name: str, read: Callable[[], tuple[Descriptor | None, str]]) -> Found:
    """An archive member; one whose path leaves the archive is never read, and its row fails."""
    path = f"{src.location}:{name}"
    if leaves_archive(name):
        reason = f"member path {name!r} leaves the archive (absolute or '..' climbing out): not read"
        return Found(f"{OUTSIDE}/{safe_relative(name)}", path, lambda: (None, reason))
    return Found(safe_relative(name), path, read)


def _tar_kind(member: tarfile.TarInfo) -> str:
    """What a member is when not a regular file ('' when it is)."""
    if member.isfile():
        return ""
    if member.isdir():
        return "directory"
    return "symlink member" if member.issym() else "hard link member" if member.islnk() else "special file member"


def _skipped(location: str, name: str, kind: str) -> Iterator[Skipped]:
    """Why a member that is not a regular image file is not scanned; nothing for a directory whose
    name is not an image's (it only structures the archive: its members come on their own)."""
    name = name.rstrip("/")
    if is_image_name(name):
        yield Skipped(f"{location}:{name}", kind)
    elif kind != "directory":
        yield Skipped(f"{location}:{name}", "not an image extension")


def _tar_members(src: Source, tf: tarfile.TarFile, stream: _UpToDamage | None = None) -> Iterator[Found | Skipped]:
    """``stream``: the members of a compressed tar, whose bytes are read here (kind ``bytes``);
    without it, an uncompressed tar's, which a worker reads at their offset (kind ``tar``)."""
    for member in tf:
        tf.members = []  # one pass never looks back: keep memory flat on huge archives
        kind = _tar_kind(member)
        if kind or not is_image_name(member.name):
            yield from _skipped(src.location, member.name, kind)
            continue
        # Called by the caller before the next member, or never (a member --include leaves out).
        yield _member(src, member.name, lambda member=member: _describe_tar_member(src, tf, member, stream))


def _describe_tar_member(src: Source, tf: tarfile.TarFile, member: tarfile.TarInfo,
                         stream: _UpToDamage | None) -> tuple[Descriptor | None, str]:
    mtime_ns = int(member.mtime) * 1_000_000_000
    if stream is None:
        return Descriptor("tar", os.path.abspath(src.location), member.name, index=member.offset_data,
                          size=member.size, mtime_ns=mtime_ns), ""
    try:
        data = tf.extractfile(member).read()
    except tarfile.ReadError as exc:
        # A stream has no way round a damaged member: the whole archive's row says what it was.
        raise stream.cause(exc) from None
    return Descriptor("bytes", os.path.abspath(src.location), member.name, size=member.size,
                      mtime_ns=mtime_ns, data=data), ""


_COMPRESSED = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def _opener(path: str) -> Callable[[str, str], BinaryIO] | None:
    """The decompressor of a compressed tar (chosen by magic, as tarfile's ``r|*``), None for a plain one."""
    with open(path, "rb") as f:
        head = f.read(6)
    return next((opener for magic, opener in _COMPRESSED if head.startswith(magic)), None)


def _decompressed(path: str) -> BinaryIO:
    """The archive's tar data, decompressed by Python's own readers: unlike tarfile's stream
    they check the CRC and raise on a stream that ends early."""
    opener = _opener(path)
    return opener(path, "rb") if opener else open(path, "rb")


class _UpToDamage:
    """A decompressed stream that ends where its data turns bad, keeping the error. tarfile fills
    its buffer with several reads and would drop what it held when one raised: ended instead, it
    yields every member whole before the damage, and the archive's row gives the cause."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.error: BaseException | None = None
        self.pos = 0  # bytes handed out
        # The last two reads: they hold the block tarfile last tried as a header, which a stream
        # cannot seek back to (tarfile reads whole records, so one read is at least a block).
        self.recent = (b"", b"")

    def read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        got = 0
        while got < size and self.error is None:
            try:
                data = self.raw.read1(size - got)  # one decompressor step: nothing it made is lost
            except DAMAGE as exc:
                self.error = exc
                break
            if not data:
                break
            chunks.append(data)
            got += len(data)
        data = b"".join(chunks)
        if data:
            self.pos += len(data)
            self.recent = (self.recent[1], data)
        return data

    def handed_out(self, start: int, end: int) -> bytes:
        """The bytes at [start, end) of the stream, from the last two reads."""
        window = b"".join(self.recent)
        at = start - (self.pos - len(window))
        if at < 0:  # never so, as tarfile reads whole records; were it, only the length is told
            return bytes(end - start)
        return window[at:at + end - start]

    def cause(self, exc: BaseException) -> BaseException:
        """The damage behind ``exc`` (tarfile's "unexpected end of data"), when the stream met one."""
        return self.error or exc


def _read_to_end(tf: tarfile.TarFile, stream: _UpToDamage | None = None) -> None:
    """Read what follows the last member. The decompressors check their data only once they reach
    its end; and tarfile ends its iteration silently at a damaged, cut or missing member header, as
    at the end-of-archive marker: so anything but that zero block, then zero padding, is damage."""
    if stream is None:
        tf.fileobj.seek(tf.offset)
        block = tf.fileobj.read(tarfile.BLOCKSIZE)
    else:
        block = stream.handed_out(tf.offset, tf.fileobj.tell())
    if len(block) < tarfile.BLOCKSIZE:
        # The archive ends at a member boundary or inside a header, with the members after lost.
        where = (f"inside a member header ({len(block)} of {tarfile.BLOCKSIZE} bytes)" if block
                 else "after a member, with no end-of-archive marker")
        raise tarfile.ReadError(f"unexpected end of data at byte {tf.offset} of the uncompressed archive: "
                                f"cut short {where}")
    chunk = block
    while chunk:
        if chunk.strip(b"\0"):
            raise tarfile.ReadError(f"unreadable tar data at byte {tf.offset} of the uncompressed archive "
                                    "(a damaged member header, or data past the end-of-archive marker)")
        chunk = tf.fileobj.read(1 << 20)


def _tar(src: Source) -> Iterator[Found | Skipped]:
    if _opener(src.location) is None:
        # Uncompressed: random access seeks over the members' data (read by the workers, at their
        # offsets), so listing a tar reads its headers only.
        with tarfile.open(src.location, mode="r:") as tf:
            yield from _tar_members(src, tf)
            _read_to_end(tf)
        return
    # Stream mode: one pass, as random access into a compressed tar would re-decompress.
    with _decompressed(src.location) as raw:
        stream = _UpToDamage(raw)
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tf:
                yield from _tar_members(src, tf, stream)
                _read_to_end(tf, stream)
        except tarfile.ReadError as exc:
            raise stream.cause(exc) from None
        if stream.error:
            raise stream.error


def _zip_mtime_ns(info: zipfile.ZipInfo) -> int:
    # A zip stores local time without a zone: read as UTC, it is a fingerprint, not a clock.
    try:
        return calendar.timegm((*info.date_time, 0, 0, 0)) * 1_000_000_000
    except (ValueError, OverflowError):
        return -1


def _zip(src: Source) -> Iterator[Found | Skipped]:
    with zipfile.ZipFile(src.location) as zf:
        for index, info in enumerate(zf.infolist()):
            unix_mode = info.external_attr >> 16
            kind = "directory" if info.is_dir() else "symlink member" if stat.S_ISLNK(unix_mode) else ""
            if kind or not is_image_name(info.filename):
                yield from _skipped(src.location, info.filename, kind)
                continue
            # Read on a worker, by position (a zip may hold two members of one name).
            desc = Descriptor("zip", os.path.abspath(src.location), info.filename, index=index,
                              size=info.file_size, mtime_ns=_zip_mtime_ns(info))
            yield _member(src, info.filename, lambda desc=desc: (desc, ""))


def _mtime_ns(info: dict) -> int:
    """A listing's modification time in ns: local files give ``mtime`` (seconds), object stores
    ``LastModified``/``last_modified`` (datetime or string); -1 where none is given."""
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    if hasattr(value, "timestamp"):
        value = value.timestamp()
    try:
        return int(float(value) * 1_000_000_000)
    except (TypeError, ValueError):
        return -1


def _urls(src: Source) -> Iterator[Found | Skipped]:
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(src.location)
    root = root.rstrip("/")
    for path, info in sorted(fs.find(root, detail=True).items()):
        url = fs.unstrip_protocol(path)
        if not is_image_name(path):
            yield Skipped(url, "not an image extension")
            continue
        desc = Descriptor("url", url, size=int(info.get("size") or -1), mtime_ns=_mtime_ns(info))
        yield Found(safe_relative(posixpath.relpath(path, root)), url, lambda desc=desc: (desc, ""))


def _listed(src: Source) -> Iterator[str | Skipped]:
    base = os.path.dirname(os.path.abspath(src.location))
    with open(src.location, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                path = line if os.path.isabs(line) else os.path.join(base, line)
                # A list names files, and each line on purpose: a directory on one is not walked,
                # and told, whatever its name (a glob's or a walk's are passed by: their files come).
                yield Skipped(path, "directory") if os.path.isdir(path) else path


def _candidates(src: Source) -> Iterator[Found | Skipped]:
    if src.kind == "dir":
        return _files(src, _walk(src.location), src.location)
    if src.kind == "glob":
        return _files(src, (p for p in glob.iglob(src.pattern, recursive=True)), src.location)
    if src.kind == "tar":
        return _tar(src)
    if src.kind == "zip":
        return _zip(src)
    if src.kind == "url":
        return _urls(src)
    base = os.path.dirname(os.path.abspath(src.location))
    return _files(src, _listed(src), base, once=True)


def _wanted(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatch(rel, g) for g in include):
        return False
    return not any(fnmatch.fnmatch(rel, g) for g in exclude)


def count_entries(sources: list[Source], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> int | None:
    """How many images iter_entries will yield, from names alone; None when that would mean
    reading a compressed tar twice (its total then shows once enumeration ends), or when a
    source cannot be read to its end (the scan reports it)."""
    inc, exc = tuple(include), tuple(exclude)
    total = 0
    try:
        for src in sources:
            if src.kind == "tar":
                if not src.location.lower().endswith(".tar"):
                    return None
                with tarfile.open(src.location, mode="r:") as tf:  # seeks over member data
                    total += _count(_tar_members(src, tf), inc, exc)
            else:
                total += _count(_candidates(src), inc, exc)
    except DAMAGE:
        return None
    return total


def _count(items: Iterable[Found | Skipped], include: tuple[str, ...], exclude: tuple[str, ...]) -> int:
    return sum(1 for item in items if isinstance(item, Found) and _wanted(item.rel, include, exclude))


class UniqueIds:
    """The ids of one source's images, each given once. An id already seen (a zip holding two
    members named a.png, a member path that normalises onto another's) becomes the first free
    ``~2``, ``~3``... before the extension. The source's own order decides, so a rerun over the
    same source makes the same ids and resumes."""

    def __init__(self, source: str):
        self.source = source
        self.seen: set[str] = set()

    def claim(self, rel: str, path: str) -> str:
        image_id, n = readable(f"{self.source}/{rel}"), 1
        while image_id in self.seen:
            n += 1
            image_id = readable(f"{self.source}/{numbered(rel, n)}")
        if n > 1:
            log.warning("%s: id %s/%s is taken by an earlier image of the same source; its id is %s",
                        path, self.source, rel, image_id)
        self.seen.add(image_id)
        return image_id


def _damaged(src: Source, reading: str, reached: str, count: int, exc: BaseException) -> Entry:
    """The failed row of a source that cannot be read to its end. Its id is the source file's own
    name, which no image id (``<source name>/...``) can equal."""
    where = f"while reading {reading}" if reading else f"after {reached}" if reached else "before its first entry"
    if src.kind == "tar" and reached and not reading:
        # A compressed tar's checksum covers the whole stream and shows garbled data only at its end:
        # the last member read may hold some (as an image that then does not decode, it fails).
        where += " (which may hold damaged data)"
    kind = type(exc).__name__ if type(exc).__module__ == "builtins" else f"{type(exc).__module__}.{type(exc).__name__}"
    reason = (f"damaged {src.kind} source: stopped {where}, {count} {'entry' if count == 1 else 'entries'} "
              f"read before it; {kind}: {exc}")
    return Entry(os.path.basename(os.path.abspath(src.location)), src.location, None, reason)


def _source_entries(src: Source, include: tuple[str, ...], exclude: tuple[str, ...]) -> Iterator[Entry | Skipped]:
    ids = UniqueIds(src.name)
    reached, reading, count = "", "", 0
    try:
        for item in _candidates(src):
            if isinstance(item, Skipped):
                yield item
            elif _wanted(item.rel, include, exclude):
                reading = item.path  # a tar member is read from the stream here: damage can show
                entry = Entry(ids.claim(item.rel, item.path), item.path, *item.read())
                reading = ""
                yield entry
            reached, count = item.path, count + 1
    except DAMAGE as exc:
        # The images read before stay rows (fitted as usual); the other sources go on.
        yield _damaged(src, reading, reached, count, exc)


def iter_entries(sources: list[Source], include: Iterable[str] = (),
                 exclude: Iterable[str] = ()) -> Iterator[Entry | Skipped]:
    """Every image entry of ``sources`` in order, and every path they hold that is not scanned;
    ``include``/``exclude`` match the relative path (what they leave out is not told)."""
    inc, exc = tuple(include), tuple(exclude)
    for src in sources:
        yield from _source_entries(src, inc, exc)
