"""The store follows CF and OME-Zarr conventions: every variable says what it is, the config is
nested attributes, and each shape group is an OME-Zarr 0.5 multiscale image napari can open."""
from __future__ import annotations

import time

import numpy as np
import pytest
import xarray as xr
import zarr

import pipeline
import ssdnet
from pipeline.layout import BROWSE, INDEX_VARS, browse_factor, downsample, quiet_zarr, thumb_shape
from pipeline.store import StoreWriter

CFG = ssdnet.resolve(preset="fast", steps=10)


def _record(n: int, height: int, width: int, ok: bool = True) -> dict:
    rng = np.random.default_rng(n)
    rec = {"id": f"arch/img_{n:03d}.png", "path": f"img_{n:03d}.png", "sha256": f"{n:064x}",
           "status": "ok" if ok else "failed", "error": "" if ok else "decode: broken", "height": height,
           "width": width, "worker": "w", "seconds": 1.0, "finished_at": time.time_ns(), "score_max": 3.0,
           "score_p99": 2.0, "score_mean": 1.0}
    if ok:
        rec.update(map=rng.random((height, width), dtype=np.float32),
                   thumbnail=np.zeros((*thumb_shape(height, width), 3), np.uint8))
    return rec


def _store(tmp_path, records):
    store = tmp_path / "s.zarr"
    writer = StoreWriter(store, CFG)
    writer.write(records)
    writer.close()
    return store


def test_every_variable_says_what_it_is_and_the_config_is_nested(tmp_path):
    store = _store(tmp_path, [_record(0, 40, 52), _record(1, 40, 52)])
    root = zarr.open_group(str(store), mode="r")
    assert isinstance(root.attrs["config"], dict) and root.attrs["config"]["steps"] == 10
    group = root["40x52"]
    assert "40 x 52" in group.attrs["long_name"]
    for name in (*INDEX_VARS, "anomaly_map", "thumbnail", BROWSE):
        assert group[name].attrs.get("long_name"), name
    assert group["seconds"].attrs["units"] == "s" and group["height"].attrs["units"] == "pixel"
    # xarray hands the attributes on: CF tools and notebooks read them as they are.
    index = pipeline.open_index(store)
    assert index["score_p99"].attrs["long_name"] == "99th percentile anomaly score"
    heat = pipeline.open_map(store, "img_001.png")
    assert heat.attrs["config"]["preset"] == "fast" and heat.attrs["units"] == "1"


@pytest.mark.parametrize("shape", [(40, 52), (600, 300)])
def test_each_shape_group_is_an_ome_zarr_multiscale_image(tmp_path, shape):
    from ome_zarr_models.v05.image import Image

    records = [_record(0, *shape), _record(1, *shape), _record(2, *shape, ok=False)]
    store = _store(tmp_path, records)
    group = zarr.open_group(str(store / f"{shape[0]}x{shape[1]}"), mode="r")
    image = Image.from_zarr(group)  # raises on any departure from OME-Zarr 0.5
    (multiscale,) = image.attributes.ome.multiscales
    assert [a.name for a in multiscale.axes] == ["image", "y", "x"]
    assert [d.path for d in multiscale.datasets] == ["anomaly_map", BROWSE]
    factor = browse_factor(*shape)
    assert multiscale.datasets[1].coordinateTransformations[0].scale == [1.0, factor, factor]
    # The browse level is the full maps' block means; a failed row stays NaN on both levels.
    full, low = group["anomaly_map"][:], group[BROWSE][:]
    assert max(low.shape[1:]) <= 256 and low.shape[1] == -(-shape[0] // factor)
    np.testing.assert_allclose(low[:2], downsample(full[:2], factor), rtol=1e-6)
    assert np.isnan(low[2]).all() and np.isnan(full[2]).all()
    # xarray opens the browse level as a group of its own, and the store as a tree without it.
    name = f"{shape[0]}x{shape[1]}"
    browse = xr.open_dataset(str(store), group=f"{name}/browse", engine="zarr", chunks=None)
    assert browse["anomaly_map"].shape == low.shape and browse["anomaly_map"].attrs["units"] == "1"
    tree = pipeline.open_tree(store)
    assert tree[name].to_dataset()["anomaly_map"].shape == full.shape and tree.attrs["config"]["steps"] == 10


def test_downsample_takes_block_means_and_keeps_partial_edge_blocks():
    a = np.arange(15, dtype=np.float32).reshape(3, 5)
    low = downsample(a, 2)
    assert low.shape == (2, 3)
    assert low[0, 0] == np.mean([0, 1, 5, 6]) and low[1, 2] == 14.0 and low[0, 2] == np.mean([4, 9])
    assert browse_factor(256, 256) == 2 and browse_factor(1024, 1024) == 4 and browse_factor(4096, 256) == 16


def test_a_group_from_before_the_browse_level_gets_one_when_scanned_again(tmp_path):
    store = _store(tmp_path, [_record(0, 40, 52)])
    group = zarr.open_group(str(store / "40x52"), mode="a")
    del group["browse"]
    group.attrs.pop("ome")
    with quiet_zarr():  # a store of then listed no browse level (gone from its copy: damage)
        zarr.consolidate_metadata(str(store))
    writer = StoreWriter(store, CFG)
    writer.write([_record(1, 40, 52)])
    writer.close()
    group = zarr.open_group(str(store / "40x52"), mode="r")
    low = group[BROWSE][:]
    assert "ome" in group.attrs and low.shape[0] == 2
    # The earlier row has no browse values (nothing refitted or reread); the new one has.
    assert np.isnan(low[0]).all() and not np.isnan(low[1]).any()


def test_a_group_whose_creation_a_kill_cut_short_is_completed_and_written(tmp_path):
    # A writer killed while it created a new shape group's arrays one by one leaves some of them:
    # the next writer makes the rest (no rows were committed there) and carries on.
    store = _store(tmp_path, [_record(0, 40, 52)])
    part = zarr.open_group(str(store), mode="a").create_group("8x8")
    for var in ("image", "path", "sha256"):
        part.create_array(var, shape=(0,), chunks=(16,), dtype=str, dimension_names=["image"])
    writer = StoreWriter(store, CFG)
    writer.write([_record(1, 8, 8), _record(2, 8, 8, ok=False)])
    writer.close()
    index = pipeline.open_index(store)
    assert list(index.status.values) == ["ok", "ok", "failed"]
    np.testing.assert_array_equal(pipeline.open_map(store, "img_001.png").values, _record(1, 8, 8)["map"])
    group = zarr.open_group(str(store / "8x8"), mode="r")
    assert group[BROWSE].shape == (2, 4, 4) and group["status"].attrs["long_name"] == "row status"
