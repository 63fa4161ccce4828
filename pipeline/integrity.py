"""Is a store what its index says? Map checksums, metadata checks and ``ssdnet verify``.

Every ok row records the CRC-32 of its map as stored (``map_crc32``). A row whose map chunk is
gone, or whose bytes no longer match, is damage: readers refuse it, a scan refits it instead of
skipping it, and ``verify --repair`` marks it failed (so the next scan refits it). Metadata
(``zarr.json`` files) that no longer parses is damage too: a scan refuses to write into such a
store (it would make it worse), and ``verify --repair`` rewrites an array's or group's metadata
from the root's consolidated copy, where that copy is intact.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MAP_CRC = "map_crc32"
NO_CRC = -1  # rows written before checksums were recorded


def map_checksum(m: np.ndarray, dtype: str) -> int:
    """CRC-32 of the map's bytes as the store holds them (``dtype``, little-endian, C order)."""
    return zlib.crc32(np.ascontiguousarray(m, dtype=np.dtype(dtype).newbyteorder("<")).tobytes())


def chunk_file(store: str | os.PathLike, group: str, array: str, row: int, ndim: int) -> Path:
    """The file of row ``row``'s chunk (one chunk per image: ``c/<row>/0/0``)."""
    return Path(store, group, array, "c", str(row), *(["0"] * (ndim - 1)))


def lost_map(store: str | os.PathLike, group: str, row: int, m: np.ndarray) -> str:
    """Why an ok row's map ``m`` (as read) is not there, or '': its chunk file is gone (zarr then
    serves the fill value), or it holds no finite value."""
    chunk = chunk_file(store, group, "anomaly_map", row, m.ndim + 1)
    if not chunk.exists():
        return f"map chunk {chunk} is missing"
    if not np.isfinite(m).any():
        return "map holds no finite value"
    return ""


def lost_map_message(image_id: str, store: str | os.PathLike, why: str) -> str:
    """What a reader says when it refuses a lost map, and what to do about it."""
    return (f"image {image_id}: the store says ok but its map is missing ({why}); "
            f"run `ssdnet verify --repair {os.fspath(store)}`, then scan again to refit it")


def damaged_metadata(store: str | os.PathLike) -> list[tuple[str, str]]:
    """(file, why) for every ``zarr.json`` of the store that does not parse as a JSON object."""
    out = []
    for folder, dirs, files in os.walk(store):
        dirs[:] = [d for d in dirs if d != "c"]  # chunk folders hold no metadata
        if "zarr.json" not in files:
            continue
        path = os.path.join(folder, "zarr.json")
        try:
            with open(path, "rb") as f:
                doc = json.loads(f.read())
            if not isinstance(doc, dict) or "node_type" not in doc:
                raise ValueError("not a Zarr v3 metadata document")
        except (OSError, ValueError) as exc:
            out.append((path, f"{type(exc).__name__}: {exc}"))
    return sorted(out)


@dataclass
class Report:
    store: str
    rows_checked: int = 0
    metadata: list[tuple[str, str]] = field(default_factory=list)  # (file, why) still damaged
    rebuilt: list[str] = field(default_factory=list)  # metadata files rewritten from the consolidated copy
    rows: list[dict[str, Any]] = field(default_factory=list)  # damaged ok rows: group, row, id, why
    marked: int = 0  # damaged rows marked failed (--repair)

    @property
    def clean(self) -> bool:
        return not self.metadata and (not self.rows or self.marked == len(self.rows))

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "rows_checked": self.rows_checked, "clean": self.clean,
                "damaged_metadata": [{"file": f, "why": w} for f, w in self.metadata],
                "rebuilt_metadata": self.rebuilt, "damaged_rows": self.rows, "marked_for_refit": self.marked}


def _rebuild_metadata(store: str, damaged: list[tuple[str, str]]) -> list[str]:
    """Rewrite each damaged non-root ``zarr.json`` from the root's consolidated metadata."""
    root = Path(store, "zarr.json")
    try:
        consolidated = json.loads(root.read_bytes()).get("consolidated_metadata") or {}
    except (OSError, ValueError):
        return []
    nodes = consolidated.get("metadata", {})
    rebuilt = []
    for path, _ in damaged:
        key = os.path.relpath(os.path.dirname(path), store).replace(os.sep, "/")
        if key in nodes:
            tmp = f"{path}.tmp"
            Path(tmp).write_text(json.dumps(nodes[key], indent=2))
            os.replace(tmp, path)  # atomic: a reader sees the old file or the whole new one
            rebuilt.append(path)
    return rebuilt


def _row_damage(store: str, group: str, row: int, maps: Any, crc: int, dtype: str) -> str:
    """Why an ok row's map is not what was written, or ''."""
    m = maps[row]
    lost = lost_map(store, group, row, m)
    if lost:
        return lost
    if crc != NO_CRC and map_checksum(m, dtype) != crc:
        return "map bytes do not match the checksum written with the row"
    return ""


def verify(store: str | os.PathLike, repair: bool = False) -> Report:
    """Check every ok row's map against its chunk and checksum, and every metadata file; with
    ``repair``, rebuild what metadata can be rebuilt and mark damaged rows failed."""
    import zarr

    from pipeline.layout import FAILED, STATUS, quiet_zarr

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
        for name in sorted(root.group_keys()):
            group = root[name]
            if name == FAILED or "anomaly_map" not in group:
                continue
            status, ids = group[STATUS][:], group["image"][:]
            crcs = group[MAP_CRC][:] if MAP_CRC in group else np.full(len(ids), NO_CRC)
            maps = group["anomaly_map"]
            for row in np.flatnonzero(status == "ok"):
                report.rows_checked += 1
                why = _row_damage(store, name, int(row), maps, int(crcs[row]), dtype)
                if why:
                    report.rows.append({"group": name, "row": int(row), "id": str(ids[row]), "why": why})
            if repair:
                for bad in (r for r in report.rows if r["group"] == name):
                    group["error"][bad["row"]] = f"map damaged ({bad['why']}); marked for refit by ssdnet verify"
                    group[STATUS][bad["row"]] = FAILED
                    report.marked += 1
    if repair and (report.marked or report.rebuilt):
        with quiet_zarr():
            zarr.consolidate_metadata(store)
    return report
