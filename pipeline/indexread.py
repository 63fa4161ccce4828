"""The index read with zarr directly, fast at a million rows (``pipeline.open_index``).

xarray's own zarr reading of every group (``open_datatree``) then ``concat`` and ``sortby``
took 13.7 s at 1,000,000 rows; most of it decoding variable-length strings chunk by chunk,
twice (read, then concatenated as objects). Here each group's arrays are read once with zarr,
joined with numpy and wrapped in a Dataset; the numbers, ids and statuses eagerly (every
filter and sort needs them), the other strings (path, sha256, worker, error) lazily: a column
is read when its values are asked for, and then only the chunks that the asked rows lie in
(``index.error.isel(image=...)`` of a few failed rows reads a few chunks).

The lazy columns read the store when used, not when opened: rows a running scan rewrites in
between read as they are then (``.load()`` the index to pin it).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
import zarr
from xarray.backends import BackendArray
from xarray.core import indexing

from pipeline.flags import FLAG_VAR, Z_VAR
from pipeline.integrity import refuse_damage
from pipeline.layout import ADDED_VARS, INDEX_VARS, STATUS, STR_VARS, TIME_VAR, VAR_ATTRS, quiet_zarr

# Read when asked: not needed to filter, sort or rank rows.
LAZY = STR_VARS
EAGER = tuple(v for v in INDEX_VARS if v not in LAZY and v != "image")


class LazyColumn(BackendArray):
    """One string variable over every group: row i is ``parts[part[i]][local[i]]``."""

    def __init__(self, store: str, arrays: list[zarr.Array | None], part: np.ndarray, local: np.ndarray):
        self.store, self.arrays, self.part, self.local = store, arrays, part, local
        self.shape = part.shape
        self.dtype = np.dtype(object)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._rows)

    def _rows(self, key: tuple) -> np.ndarray:
        part, local = self.part[key], self.local[key]
        out = np.full(part.shape, "", dtype=object)
        for p, arr in enumerate(self.arrays):
            mine = part == p
            if arr is None or not mine.any():
                continue
            want = local[mine]
            with refuse_damage(self.store, arr=arr):
                if want.size > arr.shape[0] // 8:
                    got = np.asarray(arr[:])[want]  # most rows: one read of the whole array is cheapest
                else:
                    # Few rows: zarr reads only the chunks they lie in (it wants them sorted and unique).
                    uniq, back = np.unique(want, return_inverse=True)
                    got = np.asarray(arr.get_orthogonal_selection(uniq))[back]
            out[mine] = got.astype(object)
        return out


def _read(store: str, arr: zarr.Array) -> np.ndarray:
    # A chunk that cannot be decoded is refused, naming it: never a traceback, never a row's guess.
    with refuse_damage(store, arr=arr):
        return np.asarray(arr[:])


def _groups(root: zarr.Group) -> list[dict[str, zarr.Array]]:
    out = []
    for name in sorted(root.group_keys()):
        arrays = dict(root[name].arrays())
        # A group a running scan is still creating lacks some of its arrays: not yet an index part.
        if all(v in arrays for v in INDEX_VARS if v not in ADDED_VARS):
            out.append(arrays)
    return out


def read_index(store: str | os.PathLike) -> xr.Dataset:
    """The index over every group (failed included), sorted by image id; see the module's doc."""
    store = os.fspath(store)
    with quiet_zarr(), refuse_damage(store):
        root = zarr.open_group(store, mode="r")
        groups = _groups(root)
    lengths = [g["image"].shape[0] for g in groups]
    if any(g[v].shape[0] != n for g, n in zip(groups, lengths) for v in EAGER if v in g):
        # A running scan resizing a group's arrays one by one: open_index reads again.
        raise ValueError("index arrays of unequal length")
    ids = np.concatenate([_read(store, g["image"]) for g in groups]) if groups else np.array([], dtype=str)
    # A row a killed writer left unnamed or doubled is not an image (the next scan repairs it);
    # sorted by id, a doubled id keeps its first row, as pandas' duplicated() would.
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    keep = sorted_ids != ""
    keep[1:] &= sorted_ids[1:] != sorted_ids[:-1]
    order = order[keep]
    part = np.repeat(np.arange(len(groups)), lengths)[order]
    local = (np.arange(ids.size) - np.repeat(np.cumsum([0, *lengths[:-1]]), lengths))[order] if groups else order
    data: dict[str, Any] = {}
    for var in EAGER + (Z_VAR, FLAG_VAR):
        fill: Any = ADDED_VARS.get(var, np.nan if var == Z_VAR else False if var == FLAG_VAR else None)
        chunks = [_read(store, g[var]) if var in g else np.full(n, fill) for g, n in zip(groups, lengths)]
        values = np.concatenate(chunks)[order] if groups else np.array([], dtype=float if var == Z_VAR else bool)
        if var == STATUS:
            values = values.astype(object)
        elif var == TIME_VAR:
            values = values.astype("int64").view("datetime64[ns]")
        # fastpath: a numpy array as it is; the full check would import dask.array (about 0.35 s) to rule it out.
        data[var] = xr.Variable("image", values, fastpath=True)
    for var in LAZY:
        col = LazyColumn(store, [g.get(var) for g in groups], part, local)
        data[var] = xr.Variable("image", indexing.LazilyIndexedArray(col))
    # An object Index made here: left to xarray, pandas 3 would infer (and convert to) its str
    # dtype first, 0.12 s at 1,000,000 ids, and the ids would not be plain str objects.
    ids = pd.Index(sorted_ids[keep].astype(object), dtype=object, name="image", copy=False)
    ds = xr.Dataset(data, coords={"image": ids})
    for var in ds.variables:
        # What each variable is (pipeline/layout.py); a decoded time keeps only its name, its
        # units being the datetime64 itself.
        attrs = VAR_ATTRS.get(str(var), {})
        ds[var].attrs.update({"long_name": attrs["long_name"]} if var == TIME_VAR else attrs)
    return ds[[v for v in INDEX_VARS if v != "image"] + [Z_VAR, FLAG_VAR]]
