"""Reading a scan store back: the index of every image, and one image's map."""
from __future__ import annotations

import os
import time

import xarray as xr
import zarr

from pipeline.ids import match_id
from pipeline.integrity import lost_map, lost_map_message, undecodable, why_undecodable
from pipeline.indexread import read_index
from pipeline.layout import bound_config, quiet_zarr


def open_tree(store: str | os.PathLike) -> xr.DataTree:
    """The store as a DataTree: one node per shape group (and ``failed``), the root's attrs.

    Each node holds its group's own arrays. The browse levels (``<shape>/browse``, the
    OME-Zarr multiscale's lower resolution, for viewers) are left out: OME-Zarr names their
    axes y and x like the full-size maps', which ``xr.open_datatree`` cannot align with their
    parent's, so a whole-store ``xr.open_datatree`` refuses; open one level with
    ``xr.open_dataset(store, group="<shape>/browse", engine="zarr")``.
    """
    path = os.fspath(store)
    with quiet_zarr():
        root = zarr.open_group(path, mode="r")
        groups = {name: xr.open_dataset(path, group=name, engine="zarr", chunks=None)
                  for name in sorted(root.group_keys())}
        tree = xr.DataTree.from_dict(groups)
        tree.attrs.update(dict(root.attrs))
    return tree



def open_index(store: str | os.PathLike, attempts: int = 5) -> xr.Dataset:
    """The index over every image of every group (failed included), sorted by image id.
    Read fast with zarr (pipeline/indexread.py): path, sha256, worker and error load when used."""
    for attempt in range(attempts):
        try:
            return read_index(store)
        except ValueError:
            # A running scan doubling a group resizes its arrays one by one: read again.
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def open_map(store: str | os.PathLike, image_id: str) -> xr.DataArray:
    """The anomaly map (y, x) of one image; KeyError when the store has no map for it, or when
    the row says ok but its map is gone or holds no value (damage: ``ssdnet verify --repair``).
    ``image_id`` may be the tail of an id's path (``img_05.png`` for ``arch/img_05.png``) when
    only one id ends with it."""
    tree = open_tree(store)
    groups = {name: node.to_dataset() for name, node in tree.children.items()}
    image_id = match_id(image_id, [str(i) for ds in groups.values() if "image" in ds.indexes
                                   for i in ds.indexes["image"] if i])
    for name, ds in groups.items():
        if "anomaly_map" not in ds or image_id not in ds.indexes["image"]:
            continue
        status = str(ds["status"].sel(image=image_id).values)
        if status != "ok":
            raise KeyError(f"{image_id}: no map (status {status or 'pending'!r})")
        try:
            m = ds["anomaly_map"].sel(image=image_id).load()
        except Exception as exc:  # noqa: BLE001 - undecodable() tells a damaged chunk from a bug
            if not undecodable(exc):
                raise
            raise KeyError(lost_map_message(image_id, store, why_undecodable(exc))) from None
        lost = lost_map(store, name, int(ds.indexes["image"].get_loc(image_id)), m.values)
        if lost:
            raise KeyError(lost_map_message(image_id, store, lost))
        # What the array is and how it was made travel with it, as data a notebook can read.
        m.attrs.update({"long_name": m.attrs.get("long_name", "anomaly score"), "units": m.attrs.get("units", "1"),
                        "image_id": image_id, "store": os.fspath(store),
                        "config": bound_config(tree.attrs)})
        return m
    raise KeyError(f"{image_id}: not in {os.fspath(store)}")
