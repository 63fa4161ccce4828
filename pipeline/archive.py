"""Enumerating the images of scan sources, lazily: directories, globs, archives and list files.

Every entry carries its bytes (archive members are read in place, never extracted) or the
reason they could not be read. Member names only ever become ids, never paths to write.
"""
from __future__ import annotations

import fnmatch
import glob
import os
import posixpath
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import ssdnet

from pipeline.exitcodes import Refused

TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
LIST_SUFFIX = ".txt"


@dataclass(frozen=True)
class Entry:
    id: str          # "<source name>/<path relative to the source>"
    path: str        # where it came from, for people: a file path or "archive.tar:member"
    data: bytes | None
    error: str = ""  # why data could not be read (then data is None)


@dataclass(frozen=True)
class Source:
    kind: str  # dir | glob | tar | zip | list
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


def describe(location: str) -> Source:
    """Classify one SOURCE argument; a missing one is a usage error."""
    low = location.lower()
    if glob.has_magic(location):
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


def _read_file(path: str) -> tuple[bytes | None, str]:
    try:
        with open(path, "rb") as f:
            return f.read(), ""
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"


def _walk(root: str) -> Iterator[str]:
    # Sorted per directory: deterministic order without listing the whole tree first.
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            yield os.path.join(dirpath, name)


def _files(src: Source, paths: Iterable[str], base: str) -> Iterator[tuple[str, Callable[[], Entry]]]:
    for path in paths:
        if not is_image_name(path) or os.path.isdir(path):
            continue
        rel = safe_relative(os.path.relpath(path, base))
        yield rel, lambda path=path, rel=rel: Entry(f"{src.name}/{rel}", path, *_read_file(path))


def _tar(src: Source) -> Iterator[tuple[str, Callable[[], Entry]]]:
    # Stream mode: one pass, also for .tar.gz, where random access would re-decompress.
    with tarfile.open(src.location, mode="r|*") as tf:
        for member in tf:
            tf.members = []  # stream mode never looks back: keep memory flat on huge archives
            if not member.isfile() or not is_image_name(member.name):
                continue
            rel = safe_relative(member.name)
            try:
                data, err = tf.extractfile(member).read(), ""
            except (OSError, tarfile.TarError) as exc:
                data, err = None, f"cannot read archive member: {exc}"
            entry = Entry(f"{src.name}/{rel}", f"{src.location}:{member.name}", data, err)
            yield rel, lambda entry=entry: entry


def _zip(src: Source) -> Iterator[tuple[str, Callable[[], Entry]]]:
    with zipfile.ZipFile(src.location) as zf:
        for info in zf.infolist():
            if info.is_dir() or not is_image_name(info.filename):
                continue
            rel = safe_relative(info.filename)

            def read(info=info, rel=rel) -> Entry:
                try:
                    data, err = zf.read(info), ""
                except (OSError, zipfile.BadZipFile, RuntimeError) as exc:
                    data, err = None, f"cannot read archive member: {exc}"
                return Entry(f"{src.name}/{rel}", f"{src.location}:{info.filename}", data, err)
            yield rel, read


def _listed(src: Source) -> Iterator[str]:
    base = os.path.dirname(os.path.abspath(src.location))
    with open(src.location, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                yield line if os.path.isabs(line) else os.path.join(base, line)


def _candidates(src: Source) -> Iterator[tuple[str, Callable[[], Entry]]]:
    if src.kind == "dir":
        return _files(src, _walk(src.location), src.location)
    if src.kind == "glob":
        return _files(src, (p for p in glob.iglob(src.pattern, recursive=True)), src.location)
    if src.kind == "tar":
        return _tar(src)
    if src.kind == "zip":
        return _zip(src)
    base = os.path.dirname(os.path.abspath(src.location))
    return _files(src, _listed(src), base)


def _wanted(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatch(rel, g) for g in include):
        return False
    return not any(fnmatch.fnmatch(rel, g) for g in exclude)


def count_entries(sources: list[Source], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> int | None:
    """How many entries iter_entries will yield, from names alone; None when that would mean
    reading a compressed tar twice (its total then shows once enumeration ends)."""
    inc, exc = tuple(include), tuple(exclude)
    total = 0
    for src in sources:
        if src.kind == "tar":
            if not src.location.lower().endswith(".tar"):
                return None
            with tarfile.open(src.location, mode="r:") as tf:  # seeks over member data
                names = [m.name for m in tf if m.isfile() and is_image_name(m.name)]
            rels = {safe_relative(n) for n in names}
        else:
            rels = {rel for rel, _ in _candidates(src)}
        total += sum(1 for rel in rels if _wanted(rel, inc, exc))
    return total


def iter_entries(sources: list[Source], include: Iterable[str] = (), exclude: Iterable[str] = ()) -> Iterator[Entry]:
    """Every image entry of ``sources`` in order; ``include``/``exclude`` match the relative path."""
    inc, exc = tuple(include), tuple(exclude)
    seen: set[str] = set()
    for src in sources:
        for rel, read in _candidates(src):
            if not _wanted(rel, inc, exc):
                continue
            entry = read()
            if entry.id in seen:
                continue  # an archive holding one name twice: the first copy wins
            seen.add(entry.id)
            yield entry
