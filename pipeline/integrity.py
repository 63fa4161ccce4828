"""Is a store what its index says? Map checksums, metadata checks and ``ssdnet verify``.

Every ok row records the CRC-32 of its map as stored (``map_crc32``). A row whose map chunk is
gone, cannot be decoded, or whose bytes no longer match, is damage: readers refuse it, a scan
refits it instead of skipping it, and ``verify --repair`` marks it failed (so the next scan refits
it). An index chunk that cannot be decoded (or an ``image`` chunk that is gone while its rows
are done) loses its rows' values: readers refuse the store, and ``verify --repair``
removes the chunk and marks the rows failed, so the next scan refits them. Metadata (``zarr.json``
files) that is gone or no longer parses is damage too: a scan refuses to write into such a store
(it would make it worse), and ``verify --repair`` rewrites an array's or group's metadata from the
root's consolidated copy, where that copy is intact.
"""
from __future__ import annotations

import json
import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline.exitcodes import Refused

MAP_CRC = "map_crc32"
NO_CRC = -1  # rows written before checksums were recorded
MISMATCH = "map bytes do not match the checksum written with the row"


class Damaged(Refused):
    """A reader met damage on disk: refused (exit 2), naming what and ``ssdnet verify --repair``."""


def map_checksum(m: np.ndarray, dtype: str) -> int:
    """CRC-32 of the map's bytes as the store holds them (``dtype``, little-endian, C order)."""
    return zlib.crc32(np.ascontiguousarray(m, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())


def chunk_file(store: str | os.PathLike, group: str, array: str, row: int, ndim: int) -> Path:
    """The file of row ``row``'s chunk (one chunk per image: ``c/<row>/0/0``)."""
    return Path(store, group, array, "c", str(row), *(["0"] * (ndim - 1)))


def undecodable(exc: BaseException) -> bool:
    """Whether ``exc`` was raised decoding stored bytes (a codec, a metadata document), which is
    damage on disk, rather than by a bug: the codecs raise RuntimeError, ValueError and others
    alike, so what tells them apart is where they were raised."""
    seen = 0
    while exc is not None and seen < 8:
        tb = exc.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if ("numcodecs" in code.co_filename or f"zarr{os.sep}codecs" in code.co_filename) \
                    and ("decode" in code.co_name or "decompress" in code.co_name):
                return True
            # A zarr.json that does not parse; not any JSON (a report's own files are no store damage).
            if isinstance(exc, json.JSONDecodeError) and f"{os.sep}zarr{os.sep}" in code.co_filename:
                return True
            tb = tb.tb_next
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def why_undecodable(exc: BaseException) -> str:
    """How a refusal or a report words the damage behind ``exc`` (:func:`undecodable`)."""
    return f"cannot be decoded ({type(exc).__name__}: {exc})"


def damage_message(store: str | os.PathLike, what: str, why: str) -> str:
    """What a reader says when it refuses damage, and what to do about it."""
    store = os.fspath(store)
    return f"store {store}: {what}: {why}; run `ssdnet verify --repair {store}`"


def _bad_chunks(arr: Any) -> list[tuple[int, int, int, str]]:
    """(chunk number, first row, end row, why) of each chunk of a 1-D array that cannot be decoded."""
    try:
        arr[:]  # one read of the whole array: chunk by chunk only to find the damaged ones
        return []
    except Exception as exc:  # noqa: BLE001 - undecodable() tells damage from a bug
        if not undecodable(exc):
            raise
    out = []
    n, c = arr.shape[0], arr.chunks[0]
    for k in range(-(-n // c)):
        try:
            arr[k * c:min(n, (k + 1) * c)]
        except Exception as exc:  # noqa: BLE001 - undecodable() tells damage from a bug
            if not undecodable(exc):
                raise
            out.append((k, k * c, min(n, (k + 1) * c), why_undecodable(exc)))
    return out


def locate_damage(store: str | os.PathLike) -> str:
    """The first damaged metadata file or index chunk of ``store`` (what a refusal names), or ''."""
    import zarr

    from pipeline.layout import quiet_zarr

    meta = damaged_metadata(store)
    if meta:
        return os.path.relpath(meta[0][0], store)
    try:
        with quiet_zarr():
            root = zarr.open_group(os.fspath(store), mode="r", zarr_format=3, use_consolidated=False)
            for node, arrays in [("", root.arrays())] + [(g, root[g].arrays()) for g in sorted(root.group_keys())]:
                for var, arr in arrays:
                    if arr.ndim == 1:
                        for k, *_ in _bad_chunks(arr):
                            return os.path.relpath(chunk_file(store, node, var, k, 1), store)
    except Exception as exc:  # noqa: BLE001 - only a name is wanted here; the caller has the error
        if not undecodable(exc):
            raise
    return ""


@contextmanager
def refuse_damage(store: str | os.PathLike, what: str = "", arr: Any = None) -> Iterator[None]:
    """Turn an error decoding the store's bytes into :class:`Damaged` naming ``what`` (or the
    damaged chunk of ``arr``, or, found afterwards, the store's first damaged file)."""
    try:
        yield
    except Refused:
        raise
    except Exception as exc:  # noqa: BLE001 - undecodable() tells damage from a bug, which is raised
        if not undecodable(exc):
            raise
        name = what
        if arr is not None:
            bad = _bad_chunks(arr)
            name = f"{arr.path}/c/{bad[0][0]}" if bad and arr.ndim == 1 else arr.path
        raise Damaged(damage_message(store, name or locate_damage(store) or "a chunk", why_undecodable(exc))) from None


def _stored_crc(store: str | os.PathLike, group: str, row: int) -> tuple[int, str]:
    import zarr

    from pipeline.layout import quiet_zarr

    with quiet_zarr():
        dtype = str(zarr.open_array(Path(store, group, "anomaly_map"), mode="r").dtype)
        crc_path = Path(store, group, MAP_CRC)
        crc = int(zarr.open_array(crc_path, mode="r")[row]) if (crc_path / "zarr.json").exists() else NO_CRC
    return crc, dtype


def lost_map(store: str | os.PathLike, group: str, row: int, m: np.ndarray,
             crc: int | None = None, dtype: str | None = None) -> str:
    """Why an ok row's map ``m`` (as read) is not what was written, or '': its chunk file is gone
    (zarr then serves the fill value), it holds no finite value, or its bytes do not match the
    row's ``map_crc32`` (``crc``, and the stored ``dtype``; read from the store when not given)."""
    chunk = chunk_file(store, group, "anomaly_map", row, m.ndim + 1)
    if not chunk.exists():
        return f"map chunk {chunk} is missing"
    if not np.isfinite(m).any():
        return "map holds no finite value"
    if crc is None or dtype is None:
        crc, dtype = _stored_crc(store, group, row)
    # One CRC-32 per map served: a disk that flipped bytes inside a chunk still decompresses.
    if crc != NO_CRC and map_checksum(m, dtype) != crc:
        return MISMATCH
    return ""


def lost_map_message(image_id: str, store: str | os.PathLike, why: str) -> str:
    """What a reader says when it refuses a lost map, and what to do about it."""
    state = "missing" if "missing" in why or "no finite" in why else "damaged"
    return (f"image {image_id}: the store says ok but its map is {state} ({why}); "
            f"run `ssdnet verify --repair {os.fspath(store)}`, then scan again to refit it")


def _consolidated_nodes(store: str | os.PathLike) -> dict[str, Any]:
    try:
        doc = json.loads(Path(store, "zarr.json").read_bytes())
        return dict((doc.get("consolidated_metadata") or {}).get("metadata") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def damaged_metadata(store: str | os.PathLike) -> list[tuple[str, str]]:
    """(file, why) for every ``zarr.json`` of the store that does not parse as a JSON object, or
    is gone: a folder holding chunks or nodes without one, or a node of the consolidated copy."""
    out = []
    store = os.fspath(store)
    needed: set[str] = set()
    for folder, dirs, files in os.walk(store):
        if "c" in dirs:
            needed.add(folder)  # an array's folder: its chunks cannot be read without its metadata
        dirs[:] = [d for d in dirs if d != "c" and not d.startswith(".")]  # chunks, .incoming: no metadata
        if "zarr.json" not in files:
            continue
        up = folder
        while os.path.relpath(up, store) != ".":
            up = os.path.dirname(up)
            needed.add(up)  # a node's parents are groups
        path = os.path.join(folder, "zarr.json")
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
            if not isinstance(doc, dict) or "node_type" not in doc:
                raise ValueError("not a Zarr v3 metadata document")
        except (OSError, ValueError) as exc:
            out.append((path, f"{type(exc).__name__}: {exc}"))
    needed.update(os.path.join(store, *key.split("/")) for key in _consolidated_nodes(store))
    for folder in needed:
        path = os.path.join(folder, "zarr.json")
        if not os.path.exists(path):
            out.append((path, "missing"))
    return sorted(out)


@dataclass
class Report:
    store: str
    rows_checked: int = 0
    metadata: list[tuple[str, str]] = field(default_factory=list)  # (file, why) still damaged
    rebuilt: list[str] = field(default_factory=list)  # metadata files rewritten from the consolidated copy
    rows: list[dict[str, Any]] = field(default_factory=list)  # damaged ok rows: group, row, id, why
    marked: int = 0  # damaged rows marked failed (--repair)
    # Damaged index chunks: file, array, rows [first, end), why; with --repair, marked (rows marked
    # failed) and mended.
    chunks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.metadata and (not self.rows or self.marked == len(self.rows)) \
            and all(c.get("mended") for c in self.chunks)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "rows_checked": self.rows_checked, "clean": self.clean,
                "damaged_metadata": [{"file": f, "why": w} for f, w in self.metadata],
                "rebuilt_metadata": self.rebuilt, "damaged_rows": self.rows, "damaged_chunks": self.chunks,
                "marked_for_refit": self.marked + sum(c.get("marked", 0) for c in self.chunks)}


def _rebuild_metadata(store: str, damaged: list[tuple[str, str]]) -> list[str]:
    """Rewrite each damaged non-root ``zarr.json`` from the root's consolidated metadata."""
    nodes = _consolidated_nodes(store)
    rebuilt = []
    for path, _ in damaged:
        key = os.path.relpath(os.path.dirname(path), store).replace(os.sep, "/")
        if key in nodes:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            # A group's copy carries an empty consolidated listing, which zarr would take as "no
            # children": the group's own file has none.
            doc = {k: v for k, v in nodes[key].items() if k != "consolidated_metadata"}
            tmp = f"{path}.tmp"
            Path(tmp).write_text(json.dumps(doc, indent=2))
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
            rebuilt.append(path)
    return rebuilt


def _index_damage(store: str, name: str, group: Any) -> list[dict[str, Any]]:
    """Damaged chunks of a group's index (one-dimensional) arrays."""
    from pipeline.layout import FAILED, STATUS

    out = []
    for var, arr in sorted(group.arrays(), key=lambda a: a[0]):
        if arr.ndim != 1:
            continue
        for k, first, end, why in _bad_chunks(arr):
            out.append({"file": str(chunk_file(store, name, var, k, 1)), "array": f"{name}/{var}",
                        "rows": [first, end], "why": why})
    broken = {c["array"] for c in out}
    if {f"{name}/image", f"{name}/{STATUS}"} & broken or not {"image", STATUS} <= set(group.array_keys()):
        return out
    # zarr stores no chunk that holds only the fill value, and serves the fill for a missing one:
    # an id chunk gone reads as free slots. A done row has its id (written before its status), so
    # done rows without ids are damage. Ids without a status are not: a scan killed between the two
    # writes leaves them (rows not done, which the next scan fits), as does a status chunk gone.
    ids, status = group["image"][:], group[STATUS][:]
    named, done = ids != "", (status == "ok") | (status == FAILED)
    c = group["image"].chunks[0]
    for k in range(-(-len(ids) // c)):
        first, end = k * c, min(len(ids), (k + 1) * c)
        if done[first:end].any() and not named[first:end].any():
            out.append({"file": str(chunk_file(store, name, "image", k, 1)), "array": f"{name}/image",
                        "rows": [first, end], "why": f"is missing (rows {first}-{end - 1} are done but have no id)"})
    return out


def _mend_index(store: str, group: Any, damaged: list[dict[str, Any]]) -> dict[int, tuple[str, str]]:
    """Remove the undecodable chunks (zarr then serves the fill value) and return the rows to mark,
    with why and their new status: every row of a damaged chunk that held an image is marked failed,
    so the next scan refits it; a row whose id is lost cannot be refitted in place (nothing names its
    image), so it is left not done, hidden from readers, and the next scan fits its image anew."""
    from pipeline.layout import FAILED, STATUS

    for c in damaged:
        if os.path.exists(c["file"]) and "missing" not in c["why"]:
            os.remove(c["file"])
    ids, status = group["image"][:], group[STATUS][:]
    held = (ids != "") | (status == "ok") | (status == FAILED)  # an id chunk lost leaves the status
    marks: dict[int, tuple[str, str]] = {}
    for c in damaged:
        first, end = c["rows"]
        rows = first + np.flatnonzero(held[first:end])
        lost = os.path.relpath(c["file"], store)
        for r in rows:
            unnamed = ids[r] == ""
            if unnamed or r not in marks:
                marks[int(r)] = (f"index chunk {lost} {c['why']}", "" if unnamed else FAILED)
        c["marked"], c["mended"] = int(rows.size), True
    return marks


def _row_damage(store: str, name: str, group: Any, row: int, crc: int, dtype: str) -> str:
    """Why an ok row's map (or thumbnail, or browse level) is not what was written, or ''."""
    from pipeline.layout import BROWSE

    try:
        m = group["anomaly_map"][row]
    except Exception as exc:  # noqa: BLE001 - undecodable() tells damage from a bug
        if not undecodable(exc):
            raise
        return f"map chunk {chunk_file(store, name, 'anomaly_map', row, 3)} {why_undecodable(exc)}"
    lost = lost_map(store, name, row, m, crc, dtype)
    if lost:
        return lost
    for part in ("thumbnail", BROWSE):
        if part not in group:
            continue
        try:
            group[part][row]
        except Exception as exc:  # noqa: BLE001 - undecodable() tells damage from a bug
            if not undecodable(exc):
                raise
            return f"{part} chunk {chunk_file(store, name, part, row, group[part].ndim)} {why_undecodable(exc)}"
    return ""


def _mark(group: Any, marks: dict[int, tuple[str, str]]) -> None:
    """Mark rows with their reason and new status: errors first, status last (the commit marker)."""
    from pipeline.layout import STATUS

    if not marks:
        return
    rows = np.array(sorted(marks))
    group["error"].oindex[rows] = np.array([f"{marks[r][0]}; marked for refit by ssdnet verify" for r in rows],
                                           dtype=object).astype(group["error"].dtype)
    group[STATUS].oindex[rows] = np.array([marks[r][1] for r in rows], dtype=object).astype(group[STATUS].dtype)


def verify(store: str | os.PathLike, repair: bool = False) -> Report:
    """Check every metadata file, every index chunk and every ok row's map (chunk, values,
    checksum), thumbnail and browse level; with ``repair``, rebuild what metadata can be rebuilt,
    remove undecodable index chunks and mark the rows they and damaged maps held failed.

    A repair writes the index, so it holds the store's lock as a scan does: it refuses (Refused)
    while a scan writes, whose rows it could overwrite."""
    if not repair:
        return _verify(store, False)
    from pipeline.lock import store_lock

    with store_lock(store):
        return _verify(store, True)


def _verify(store: str | os.PathLike, repair: bool) -> Report:
    import zarr

    from pipeline.layout import FAILED, STATUS, quiet_zarr
    from pipeline.scans import KNOWN

    store = os.fspath(store)
    report = Report(store)
    report.metadata = damaged_metadata(store)
    if report.metadata and repair:
        report.rebuilt = _rebuild_metadata(store, report.metadata)
        report.metadata = damaged_metadata(store)
    if report.metadata:
        return report  # the arrays cannot be read until their metadata is whole
    with quiet_zarr():
        root = zarr.open_group(store, mode="a" if repair else "r", zarr_format=3, use_consolidated=False)
        dtype = root.attrs.get("map_dtype", "float32")
        for var, arr in sorted(root.arrays(), key=lambda a: a[0]):
            bad = _bad_chunks(arr) if arr.ndim == 1 else []
            for k, first, end, why in bad:
                report.chunks.append({"file": str(chunk_file(store, "", var, k, 1)), "array": var,
                                      "rows": [first, end], "why": why})
            if bad and repair and var == KNOWN:
                # Only "new since last scan" reads it; without it a change is told as unknown ('').
                del root[var]
                for c in report.chunks[-len(bad):]:
                    c["mended"] = True
        for name in sorted(root.group_keys()):
            group = root[name]
            index = _index_damage(store, name, group)
            report.chunks.extend(index)
            marks = _mend_index(store, group, index) if repair and index else {}
            if name == FAILED or "anomaly_map" not in group:
                _mark(group, marks)
                continue
            try:
                status, ids = group[STATUS][:], group["image"][:]
                crcs = group[MAP_CRC][:] if MAP_CRC in group else np.full(len(ids), NO_CRC)
            except Exception as exc:  # noqa: BLE001 - named above as damaged index chunks
                if not undecodable(exc):
                    raise
                continue  # which rows are ok cannot be read: --repair marks them first
            for row in np.flatnonzero(status == "ok"):
                if int(row) in marks:
                    continue
                report.rows_checked += 1
                why = _row_damage(store, name, group, int(row), int(crcs[row]), dtype)
                if why:
                    report.rows.append({"group": name, "row": int(row), "id": str(ids[row]), "why": why})
                    if repair:
                        marks[int(row)] = (f"map damaged ({why})", FAILED)
                        report.marked += 1
            _mark(group, marks)
    if repair and (report.marked or report.rebuilt or report.chunks):
        with quiet_zarr():
            zarr.consolidate_metadata(store)
    return report
