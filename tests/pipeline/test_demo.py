"""The demo's own store: replaced when an upgrade changed the settings it was made with."""
import dataclasses
import json

import zarr

import ssdnet
from pipeline.demo import replace_stale_store
from pipeline.store import StoreWriter


def make_store(path, cfg):
    StoreWriter(path, cfg).close()
    return path


def test_a_store_of_the_same_settings_is_kept(tmp_path):
    cfg = ssdnet.resolve(preset="fast")
    store = make_store(tmp_path / "store.zarr", cfg)
    assert replace_stale_store(store, cfg, "float32") is None
    assert (store / "zarr.json").exists()


def test_a_store_of_other_settings_is_removed_with_the_reason(tmp_path):
    store = make_store(tmp_path / "store.zarr", ssdnet.resolve(preset="fast", mask_ratio=0.3))
    why = replace_stale_store(store, ssdnet.resolve(preset="fast", mask_ratio=0.5), "float32")
    assert why is not None and "mask_ratio=0.3 (asked 0.5)" in why
    assert not store.exists()


def test_a_store_of_an_older_ssdnet_is_removed(tmp_path):
    cfg = ssdnet.resolve(preset="fast")
    store = make_store(tmp_path / "store.zarr", cfg)
    root = zarr.open_group(str(store), mode="a")
    older = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "gate_sigma"}  # a field it never had
    root.attrs["config"] = json.dumps(older)
    why = replace_stale_store(store, cfg, "float32")
    assert why is not None and "gate_sigma" in why and not store.exists()


def test_no_store_yet_is_nothing_to_replace(tmp_path):
    assert replace_stale_store(tmp_path / "none.zarr", ssdnet.resolve(preset="fast"), "float32") is None
