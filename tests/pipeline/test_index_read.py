"""``pipeline.open_index`` read with zarr directly: the same Dataset xarray's own reading of the
store gives, string columns that load lazily, chunks per variable, and appends that rewrite
only the chunks the new rows land in."""
from __future__ import annotations


import numpy as np
import xarray as xr
import zarr

import pipeline
import ssdnet
from bench.big_index import synthesize
from pipeline.flags import FLAG_VAR, Z_VAR
from pipeline.layout import INDEX_VARS, NUM_CHUNK, STR_CHUNK, index_chunk
from pipeline.store import StoreWriter

ROWS = 9000  # over two string chunks; the ok group is ROWS - ROWS // 1000 + 4 rows


def xarray_index(store) -> xr.Dataset:
    """The index as xarray's zarr engine reads it, group by group (open_index's implementation
    before issue 29)."""
    tree = pipeline.open_tree(store)
    parts = []
    for node in tree.children.values():
        ds = node.to_dataset()
        ds = ds[[v for v in INDEX_VARS if v != "image"] + [Z_VAR, FLAG_VAR]].load()
        # The group's own attributes (its shape, OME-Zarr) describe the group, not the index.
        ds = ds.map(lambda v: v.astype(object) if v.dtype.kind == "T" else v, keep_attrs=True)
        parts.append(ds.assign_coords(image=("image", ds.indexes["image"].astype(object), ds["image"].attrs))
                     .drop_attrs(deep=False))
    return xr.concat(parts, dim="image").sortby("image")


def test_open_index_equals_xarrays_reading_and_strings_load_lazily(tmp_path):
    store = tmp_path / "big.zarr"
    synthesize(store, ROWS, top=4)
    index = pipeline.open_index(store)
    # Lazy: not in memory until asked for.
    assert not index["path"].variable._in_memory and index["status"].variable._in_memory
    failed = index.isel(image=np.flatnonzero(index.status.values == "failed"))
    assert failed.sizes["image"] == ROWS // 1000 + 1 and set(failed.error.values) == {"cannot decode image"}
    xr.testing.assert_identical(index.load(), xarray_index(store))
    assert index.image.values[0] < index.image.values[-1] and index.indexes["image"].is_unique


def test_index_arrays_are_chunked_per_kind_and_appends_rewrite_only_the_last_chunk(tmp_path):
    store = tmp_path / "big.zarr"
    synthesize(store, ROWS, top=4)
    group = zarr.open_group(store / "32x32", mode="r")
    for var in (*INDEX_VARS, Z_VAR, FLAG_VAR):
        assert group[var].chunks == (index_chunk(var),)
    assert index_chunk("path") == STR_CHUNK and index_chunk("score_p99") == NUM_CHUNK
    chunks = sorted((store / "32x32" / "image" / "c").iterdir(), key=lambda p: int(p.name))
    before = {p.name: p.stat().st_mtime_ns for p in chunks}
    n = pipeline.open_index(store).sizes["image"]
    writer = StoreWriter(store, ssdnet.resolve(preset="fast"))
    writer.write([{"id": "archive/new.png", "path": "/data/archive/new.png", "sha256": "f" * 64, "status": "failed",
                   "error": "cannot decode image", "height": 32, "width": 32, "worker": "w", "seconds": 0.1,
                   "finished_at": 1}])
    writer.close()
    after = {p.name: p.stat().st_mtime_ns for p in (store / "32x32" / "image" / "c").iterdir()}
    changed = sorted(int(k) for k in after if before.get(k) != after[k])
    assert changed == [max(int(k) for k in before)], changed  # the others are untouched
    index = pipeline.open_index(store)
    assert index.sizes["image"] == n + 1 and str(index.error.sel(image="archive/new.png").values) == "cannot decode image"
