"""The scan's Zarr v3 store, written by one process: the client (see docs/STORE.md).

One group per image shape (``<height>x<width>``) plus ``failed`` for images that never got a
shape. ``status`` is each row's commit marker: a row counts as done only once it says ok or
failed, and it is written after the row's map, thumbnail and every other index value.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.core.sync import sync

import ssdnet

from pipeline.exitcodes import Refused
from pipeline.ids import readable
from pipeline.chunks import INCOMING, place
from pipeline.integrity import MAP_CRC, NO_CRC, chunk_file, damaged_metadata, map_checksum
from pipeline.layout import (ADDED_VARS, BROWSE, FAILED, INDEX_VARS, INT_VARS, NO_STAT,  # noqa: F401
                             STAT_VARS, STATUS, STR_VARS, TIME_VAR, VAR_ATTRS, bound_config, browse_factor,
                             browse_spec, downsample, group_name, index_chunk, map_spec, ome_attrs, quiet_zarr,
                             store_attrs, thumb_shape, thumb_spec)
from pipeline.lock import LOCK_NAME
from pipeline.rowtable import Row, RowTable


def _index_array(group: zarr.Group, name: str, rows: int = 0) -> zarr.Array:
    if name in ("image", STATUS, *STR_VARS):
        kind: dict[str, Any] = {"dtype": str}
    elif name in INT_VARS or name == TIME_VAR:
        kind = {"dtype": "int64", "fill_value": 0}
    elif name == MAP_CRC:
        kind = {"dtype": "int64", "fill_value": NO_CRC}
    elif name in STAT_VARS:
        kind = {"dtype": "int64", "fill_value": NO_STAT}
    else:
        kind = {"dtype": "float64", "fill_value": float("nan")}
    return group.create_array(name, shape=(rows,), chunks=(index_chunk(name),), dimension_names=["image"],
                              attributes=VAR_ATTRS.get(name, {}), **kind)


def check_binding(attrs: dict[str, Any], cfg: ssdnet.Config, map_dtype: str, store: str) -> None:
    """Refuse (exit 2) a scan whose method differs from the one the store was made with."""
    if "config" not in attrs:
        raise Refused(f"{store} is a Zarr store but not an ssdnet scan store")
    # The preset is a name for the values of the other fields, all of which are compared: a store
    # scanned as `paper` before `fused` took over its values continues under `fused`.
    method = {k: v for k, v in cfg.method_dict().items() if k != "preset"}
    bound = {k: v for k, v in ssdnet.complete_record(bound_config(attrs)).items() if k in method}
    unknown = sorted(k for k in method if k not in bound)
    if unknown:
        # No flag can match a setting the store never recorded, so "use the store's settings" cannot help.
        raise Refused(f"store {store} was made by ssdnet {attrs.get('ssdnet_version', '?')}, which had no "
                      f"setting {', '.join(unknown)}; its maps were made by an earlier method: "
                      "scan into a new store")
    diff = sorted(k for k, v in method.items() if bound[k] != v)
    if diff:
        detail = ", ".join(f"{k}={bound[k]!r} (asked {method[k]!r})" for k in diff)
        raise Refused(f"store {store} was scanned with other settings: {detail}; "
                      "scan into a new store or use the store's settings")
    if attrs.get("map_dtype", "float32") != map_dtype:
        raise Refused(f"store {store} holds {attrs.get('map_dtype')} maps (asked --map-dtype {map_dtype})")


class StoreWriter:
    """The client's handle on the store: creates groups, grows them and writes finished rows."""

    def __init__(self, path: str | os.PathLike, cfg: ssdnet.Config, map_dtype: str = "float32"):
        self.path = str(path)
        self.map_dtype = map_dtype
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise Refused(f"store {path} exists and is not a directory")
        stray = ([c.name for c in p.iterdir() if c.name not in ("zarr.json", INCOMING) and not c.name.startswith(LOCK_NAME)]
                 if p.exists() else [])
        fresh = not (p / "zarr.json").exists()
        if fresh and stray:
            raise Refused(f"{path} is a non-empty directory, not an ssdnet store")
        damaged = [] if fresh else damaged_metadata(path)
        if damaged:
            # Writing now would drop the consolidated copy that can still rebuild it: refuse first.
            file, why = damaged[0]
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            raise Refused(f"store {path}: {file}{more}: damaged metadata ({why}); "
                          f"run `ssdnet verify --repair {path}`, then scan again")
        with quiet_zarr():
            # Opened without consolidated metadata, whose copy of the shapes goes stale as we write.
            self.root = zarr.open_group(self.path, mode="a", zarr_format=3, use_consolidated=False)
        if fresh:
            # The config as nested attributes (data a reader can index), not a JSON string.
            self.root.attrs.update({"config": json.loads(cfg.to_json()), "ssdnet_version": ssdnet.__version__,
                                    "feature_extractor": cfg.features, "seed": cfg.seed,
                                    "map_dtype": map_dtype})
        else:
            check_binding(dict(self.root.attrs), cfg, map_dtype, self.path)
            # Rewriting the root metadata drops the consolidated copy until close() rebuilds it.
            self.root.attrs["ssdnet_version"] = ssdnet.__version__
        self.arrays: dict[str, dict[str, zarr.Array]] = {}
        # Each array's metadata and chunks are separate files: writing them side by side is ~4x faster.
        self.pool = ThreadPoolExecutor(8, thread_name_prefix="ssdnet-store")
        self.known = RowTable()
        self.used: dict[str, int] = {}  # rows in use per group; the arrays may be longer
        with quiet_zarr():
            for name in sorted(self.root.group_keys()):
                self.arrays[name] = dict(self.root[name].arrays())
                if "anomaly_map" in self.arrays[name] and "browse" in self.root[name]:
                    self.arrays[name][BROWSE] = self.root[name][BROWSE]
                self._add_missing(name)
                self._repair(name)
                self._load(name)

    # --- reading back what earlier runs left
    def capacity(self, group: str) -> int:
        return self.arrays[group]["image"].shape[0]

    def _load(self, group: str) -> None:
        a = self.arrays[group]
        ids, shas, status = a["image"][:], a["sha256"][:], a[STATUS][:]
        sizes, mtimes = a["size_bytes"][:], a["mtime_ns"][:]
        for i in range(self.used[group]):
            if ids[i]:
                self.known.put(str(ids[i]), Row(group, i, str(shas[i]), str(status[i]), int(sizes[i]), int(mtimes[i])))

    def _add_missing(self, group: str) -> None:
        """Give a group the arrays it lacks, as long as its others, filled with the fill value:
        index variables that earlier versions did not write (ADDED_VARS), the browse level, or
        anything a writer killed while creating the group left out."""
        arrays = self.arrays[group]
        rows = max((a.shape[0] for a in arrays.values()), default=0)
        for var in ADDED_VARS:
            if var not in arrays:
                arrays[var] = _index_array(self.root[group], var, rows)
        self._complete(self.root[group], group, arrays, rows)

    def _repair(self, group: str) -> None:
        """Undo what a killed writer can leave: arrays resized to different lengths (a growth
        or trim cut short) and an id doubled by an interrupted move."""
        self._resize(group, max(a.shape[0] for a in self.arrays[group].values()))
        ids = [str(x) for x in self.arrays[group]["image"][:]]
        self.used[group] = max((i + 1 for i, iid in enumerate(ids) if iid), default=0)
        status = [str(x) for x in self.arrays[group][STATUS][:]]
        first: dict[str, int] = {}
        drop = []
        for i, iid in enumerate(ids[: self.used[group]]):
            if not iid:
                continue
            if iid not in first:
                first[iid] = i
            elif status[i] in ("ok", FAILED) and status[first[iid]] not in ("ok", FAILED):
                drop.append(first[iid])
                first[iid] = i
            else:
                drop.append(i)
        for i in sorted(drop, reverse=True):
            self._swap_remove(group, i)

    def ok_sha(self, image_id: str) -> str:
        """The sha256 of this image's result, where the store holds one: an ok row whose map chunk
        is there (a cheap check: a row whose map was lost is refitted); '' where it holds none."""
        row = self.known.get(image_id)
        if row is None or row.status != "ok":
            return ""
        maps = self.arrays[row.group].get("anomaly_map")
        intact = maps is None or chunk_file(self.path, row.group, "anomaly_map", row.row, maps.ndim).exists()
        return row.sha256 if intact else ""

    def unchanged(self, image_id: str, size: int, mtime_ns: int) -> bool:
        """Whether the source's (size, mtime) are the ones its ok row recorded: then it is
        skipped without being read. Unknown values (-1) never match."""
        row = self.known.get(image_id)
        if row is None or NO_STAT in (size, mtime_ns) or (row.size, row.mtime_ns) != (size, mtime_ns):
            return False
        return bool(self.ok_sha(image_id))

    def touch(self, records: list[dict[str, Any]]) -> None:
        """Record the new (size, mtime) of ok rows whose bytes were read and found the same (a
        touched file, an old store's first rescan): nothing else of the row changes. A crash
        half way leaves a pair that does not match, which only means reading the image again."""
        for rec in records:
            row = self.known.get(rec["id"])
            a = self.arrays[row.group]
            a["size_bytes"][row.row] = rec["size_bytes"]
            a["mtime_ns"][row.row] = rec["mtime_ns"]
            self.known.set_stat(rec["id"], rec["size_bytes"], rec["mtime_ns"])

    def remove(self, image_ids: list[str]) -> None:
        """Drop these rows (--prune: their sources are gone)."""
        for image_id in image_ids:
            row = self.known.pop(image_id)
            if row is not None:
                self._swap_remove(row.group, row.row)

    # --- layout
    def _group(self, name: str, height: int, width: int) -> dict[str, zarr.Array]:
        if name in self.arrays:
            return self.arrays[name]
        g = self.root.create_group(name)
        arrays: dict[str, zarr.Array] = {}
        self._complete(g, name, arrays, 0)
        self.arrays[name] = arrays
        self.used[name] = 0
        return arrays

    def _complete(self, g: zarr.Group, name: str, arrays: dict[str, zarr.Array], rows: int) -> None:
        """Create the group's arrays that ``arrays`` lacks, ``rows`` long: all of a new group's, or
        those a writer killed while creating the group never made (their rows: fill values)."""
        for v in INDEX_VARS:
            if v not in arrays:
                arrays[v] = _index_array(g, v, rows)
        if name == FAILED:
            g.attrs.update({"long_name": "images that failed before their size was known",
                            "description": "one row per image that could not be decoded"})
            return
        height, width = (int(x) for x in name.split("x"))
        # One chunk per image: each map is written whole, never a partial chunk or shard.
        for var, spec in (("anomaly_map", map_spec(height, width, self.map_dtype)),
                          ("thumbnail", thumb_spec(height, width))):
            if var not in arrays:
                arrays[var] = g.create_array(var, shape=(rows, *spec["chunks"][1:]), attributes=VAR_ATTRS[var],
                                             **spec)
        if BROWSE not in arrays:
            # Also a group from before the browse level: earlier rows stay NaN there until
            # rescanned (filling them would read every map of the store).
            self._browse_level(g, arrays, height, width, rows)

    @staticmethod
    def _browse_level(g: zarr.Group, arrays: dict[str, zarr.Array], height: int, width: int, rows: int) -> None:
        """The maps at a lower resolution and the OME-Zarr multiscales over both levels."""
        factor = browse_factor(height, width)
        spec = browse_spec(height, width)
        arrays[BROWSE] = g.create_array(
            BROWSE, shape=(rows, *spec["chunks"][1:]), **spec,
            attributes={**VAR_ATTRS["anomaly_map"],
                        "description": f"anomaly_map in means of {factor} x {factor} pixel blocks, for browsing"})
        g.attrs.update({"ome": ome_attrs(height, width), "long_name": f"images of {height} x {width} pixels",
                        "description": "one row per image: its index values, anomaly map, browse level and thumbnail"})

    def _resize(self, group: str, n: int) -> None:
        todo = [a for a in self.arrays[group].values() if a.shape[0] != n]
        list(self.pool.map(lambda a: _resize_rows(self.path, a, n), todo))

    def _reserve(self, group: str, rows: int) -> None:
        """Grow by doubling: resizes (one metadata rewrite per array, not atomic across arrays)
        happen a few times per group, not once per image. Rows past ``used`` are free slots."""
        if rows > self.capacity(group):
            self._resize(group, max(rows, 2 * self.capacity(group), 16))

    def _clear(self, group: str, row: int) -> None:
        a = self.arrays[group]
        a[STATUS][row] = ""
        list(self.pool.map(lambda arr: arr.__setitem__(row, arr.fill_value),
                           [arr for name, arr in a.items() if name != STATUS]))

    def _swap_remove(self, group: str, row: int) -> None:
        """Remove a row: the group's last used row moves into it, then that slot is cleared."""
        a = self.arrays[group]
        last = self.used[group] - 1
        if row != last:
            a[STATUS][row] = ""
            list(self.pool.map(lambda arr: arr.__setitem__(row, arr[last]),
                               [arr for name, arr in a.items() if name != STATUS]))
            a[STATUS][row] = a[STATUS][last]
            moved_id = str(a["image"][row])
            moved = self.known.get(moved_id)
            if moved is not None and moved.group == group:
                self.known.move(moved_id, row)
        self._clear(group, last)
        self.used[group] = last

    # --- writing results
    def write(self, records: list[dict[str, Any]]) -> None:
        """Write finished records (one per image); each is done once its status is written.
        A record whose status is ``unchanged`` (read, and the same bytes as its ok row) only
        updates that row's size and mtime."""
        self.touch([rec for rec in records if rec[STATUS] == "unchanged"])
        records = [rec for rec in records if rec[STATUS] != "unchanged"]
        by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for rec in records:
            name = group_name(rec["height"], rec["width"])
            old = self.known.get(rec["id"])
            if old is not None and old.group != name:
                self._swap_remove(old.group, old.row)
                self.known.pop(rec["id"])
            by_group[name].append(rec)
        for name, recs in by_group.items():
            self._write_group(name, recs)

    def _write_group(self, name: str, recs: list[dict[str, Any]]) -> None:
        a = self._group(name, recs[0]["height"], recs[0]["width"])
        n = self.used[name]
        rows = []
        for rec in recs:
            old = self.known.get(rec["id"])
            if old is not None:
                rows.append(old.row)
                a[STATUS][old.row] = ""  # being rewritten: no longer done
            else:
                rows.append(n)
                n += 1
        self._reserve(name, n)
        if "anomaly_map" in a:
            # Chunks a worker wrote are renamed into place; the others written here, one call per
            # array: zarr writes the rows' chunks concurrently. A failed row gets the fill value
            # (no chunk stored), never an older map.
            inline = []
            for row, rec in zip(rows, recs):
                if "map_file" not in rec:
                    inline.append((row, rec))
                    continue
                for var, key in (("anomaly_map", "map_file"), ("thumbnail", "thumb_file"), (BROWSE, "browse_file")):
                    place(rec[key], chunk_file(self.path, name, var, row, a[var].ndim))
            if inline:
                maps, thumbs = a["anomaly_map"], a["thumbnail"]
                rows_in = [r for r, _ in inline]
                full = [rec["map"] if "map" in rec else np.full(maps.shape[1:], np.nan, maps.dtype)
                        for _, rec in inline]
                _set_rows(maps, rows_in, full)
                factor = browse_factor(*maps.shape[1:])
                _set_rows(a[BROWSE], rows_in, [downsample(m, factor) for m in full])
                _set_rows(thumbs, rows_in,
                          [rec["thumbnail"] if "thumbnail" in rec else np.zeros(thumbs.shape[1:], "uint8")
                           for _, rec in inline])
        for rec in recs:
            if "map" in rec:
                rec[MAP_CRC] = map_checksum(rec["map"], self.map_dtype)

        def put(var: str) -> None:
            missing = "" if var in STR_VARS else NO_CRC if var == MAP_CRC else NO_STAT if var in STAT_VARS else np.nan
            values = [rec["id"] if var == "image" else rec.get(var, missing) for rec in recs]
            _set_rows(a[var], rows, values)

        list(self.pool.map(put, INDEX_VARS[:-1]))
        put(STATUS)
        self.used[name] = n
        for rec, row in zip(recs, rows):
            self.known.put(rec["id"], Row(name, row, rec.get("sha256", ""), rec[STATUS],
                                          rec.get("size_bytes", NO_STAT), rec.get("mtime_ns", NO_STAT)))

    def close(self) -> None:
        """Trim the free slots and consolidate: the store at rest has exactly one row per image."""
        for group in self.arrays:
            self._resize(group, self.used[group])
        self.pool.shutdown()
        with quiet_zarr():
            zarr.consolidate_metadata(self.path)


def _resize_rows(store: str, arr: zarr.Array, n: int) -> None:
    """Give ``arr`` ``n`` rows. zarr's own shrink builds the sets of every chunk coordinate of
    both shapes to find the chunks to delete: at 20,000 images (three arrays of one chunk per
    row, with up to twice that capacity) that added 39 MB to the client at the end of a scan
    (bench/scan_phases.py), growing with the store. The chunks wholly past the new end are removed here one at a time:
    constant memory."""
    old = arr.shape[0]
    if n >= old:
        arr.resize((n, *arr.shape[1:]))
        return
    sync(arr.async_array.resize((n, *arr.shape[1:]), delete_outside_chunks=False))
    step, meta = arr.chunks[0], arr.metadata
    rest = [range(-(-size // chunk)) for size, chunk in zip(arr.shape[1:], arr.chunks[1:])]
    folder = os.path.join(store, arr.path)
    for i in range(-(-n // step), -(-old // step)):
        for tail in itertools.product(*rest):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, meta.encode_chunk_key((i, *tail))))


def _set_rows(arr: zarr.Array, rows: list[int], values: list[Any]) -> None:
    if arr.dtype.kind in "TU":  # an error text may quote a file name that is not UTF-8
        values = [readable(v) if isinstance(v, str) else v for v in values]
    data = np.asarray(values, dtype=arr.dtype if arr.dtype.kind != "T" else None)
    if data.dtype.kind == "U":
        data = data.astype(arr.dtype)
    if rows == list(range(rows[0], rows[0] + len(rows))):
        arr[rows[0]: rows[0] + len(rows)] = data
    else:
        arr.oindex[np.asarray(rows)] = data
