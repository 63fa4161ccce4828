"""Scans of every source kind, read back through xarray, rescans and corrupt inputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.layout import bound_config
import xarray as xr

import pipeline
import ssdnet
from pipeline.exitcodes import Refused
from pipeline.flags import FLAG_VARS

from scan_fixtures import (CFG, FAST, client, make_tar, make_zip, png_bytes, reference, reference_map,  # noqa: F401
                           run_cli, scheduler_args, write_images)


def test_every_source_kind_reads_back_equal_to_detect(client, tmp_path):
    folder = tmp_path / "folder"
    write_images(folder, 3, shapes={2: (48, 64)}, sub="a")
    members = {"x/one.PNG": png_bytes(10), "two.jpg.txt": b"not an image name", "three.png": png_bytes(11, 64, 48)}
    make_tar(tmp_path / "packed.tar.gz", members)
    make_zip(tmp_path / "zipped.zip", {"z/one.png": png_bytes(12), "readme.md": b"skip me"})
    listed = write_images(tmp_path / "elsewhere", 2, first_seed=20)
    (tmp_path / "listing.txt").write_text(f"# images\nelsewhere/{listed[0].name}\n{listed[1]}\n")
    store = tmp_path / "scan.zarr"

    summary = pipeline.scan([folder, tmp_path / "packed.tar.gz", tmp_path / "zipped.zip", tmp_path / "listing.txt"],
                            store, client=client, **FAST)

    ids = ["folder/a/img_000.png", "folder/a/img_001.png", "folder/a/img_002.png", "packed/x/one.PNG",
           "packed/three.png", "zipped/z/one.png", "listing/elsewhere/img_020.png", "listing/elsewhere/img_021.png"]
    assert (summary["ok"], summary["failed"], summary["skipped"]) == (len(ids), 0, 0)
    index = pipeline.open_index(store)
    assert list(index.image.values) == sorted(ids)
    assert set(index.status.values) == {"ok"} and set(index.error.values) == {""}
    assert index.texture_share.dtype == np.float64
    assert ((index.texture_share >= 0) & (index.texture_share <= 1)).all()
    tree = pipeline.open_tree(store)
    assert sorted(tree.children) == ["48x48", "48x64", "64x48"]
    assert tree.attrs["seed"] == CFG.seed and tree.attrs["ssdnet_version"] == ssdnet.__version__
    assert bound_config(tree.attrs)["steps"] == 10
    assert tree["48x64"].to_dataset().thumbnail.shape == (1, 48, 64, 3)
    sources = {"folder/a/img_002.png": (folder / "a" / "img_002.png").read_bytes(),
               "packed/three.png": members["three.png"], "zipped/z/one.png": png_bytes(12),
               "listing/elsewhere/img_021.png": listed[1].read_bytes()}
    for image_id, data in sources.items():
        stored = pipeline.open_map(store, image_id)
        assert stored.dims == ("y", "x")
        np.testing.assert_array_equal(stored.values, reference_map(data))
        row = index.sel(image=image_id)
        assert float(row.score_max) == float(stored.max())
        assert float(row.texture_share) == reference(data)[1]
        assert (int(row.height), int(row.width)) == stored.shape


def test_rescan_fits_only_new_changed_and_failed(client, tmp_path):
    src = tmp_path / "batch"
    paths = write_images(src, 4)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    store = tmp_path / "scan.zarr"
    first = pipeline.scan(src, store, client=client, **FAST)
    assert (first["ok"], first["failed"]) == (4, 1)
    before = pipeline.open_index(store)

    paths[0].write_bytes(png_bytes(50))           # changed content
    write_images(src, 1, first_seed=60)           # a new image
    (src / "broken.png").write_bytes(png_bytes(61))  # a failed image, now fixed
    second = pipeline.scan(src, store, client=client, **FAST)

    assert (second["ok"], second["failed"], second["skipped"]) == (3, 0, 3)
    after = pipeline.open_index(store)
    untouched = ["batch/img_001.png", "batch/img_002.png", "batch/img_003.png"]
    # Flags are relative to the whole archive, which changed: only the fit results must not move.
    fits = [v for v in after.data_vars if v not in FLAG_VARS]
    xr.testing.assert_identical(after[fits].sel(image=untouched), before[fits].sel(image=untouched))
    assert after.sel(image="batch/img_000.png").finished_at > before.sel(image="batch/img_000.png").finished_at
    assert set(after.status.values) == {"ok"} and after.sizes["image"] == 6
    assert "failed" not in pipeline.open_tree(store).children or \
        pipeline.open_tree(store)["failed"].to_dataset().sizes["image"] == 0
    np.testing.assert_array_equal(pipeline.open_map(store, "batch/broken.png").values, reference_map(png_bytes(61)))


def test_corrupt_files_are_failed_rows_and_exit_3(client, tmp_path, capsys):
    src = tmp_path / "mixed"
    write_images(src, 1)
    good = png_bytes(70, 64, 64)
    (src / "truncated.png").write_bytes(good[: len(good) // 2])
    (src / "text.JPG").write_text("just text")
    (src / "empty.tif").write_bytes(b"")
    (src / "notes.txt").write_text("not an image extension: not enumerated")
    store = tmp_path / "scan.zarr"

    rc = run_cli(["scan", src, "--out", store, "--preset", "fast", "--steps", "10", "--json",
                  *scheduler_args(client)])

    assert rc == 3
    summary = json.loads(capsys.readouterr().out)
    bad = ["mixed/empty.tif", "mixed/text.JPG", "mixed/truncated.png"]
    assert summary["failed_ids"] == bad and summary["ok"] == 1 and summary["store"] == str(store)
    index = pipeline.open_index(store)
    failed = index.sel(image=bad)
    assert set(failed.status.values) == {"failed"} and all(failed.error.values)
    assert np.isnan(failed.texture_share.values).all()  # like every score of a failed row
    assert "empty" in str(failed.error.sel(image="mixed/empty.tif").values)
    assert pipeline.open_tree(store)["failed"].to_dataset().sizes["image"] == 3


def test_glob_source_and_float16_maps(client, tmp_path):
    paths = write_images(tmp_path / "shots", 2, sub="day1")
    write_images(tmp_path / "shots", 1, first_seed=5, sub="day2")
    store = tmp_path / "half.zarr"

    summary = pipeline.scan(str(tmp_path / "shots" / "day1" / "*.png"), store, client=client,
                            map_dtype="float16", **FAST)

    assert summary["ok"] == 2
    index = pipeline.open_index(store)
    assert list(index.image.values) == ["day1/img_000.png", "day1/img_001.png"]  # the fixed prefix names it
    stored = pipeline.open_map(store, "day1/img_001.png")
    assert stored.dtype == np.float16
    np.testing.assert_allclose(stored.values, reference_map(paths[1].read_bytes()), rtol=2e-3, atol=1e-7)
    with pytest.raises(Refused, match="float16"):
        pipeline.scan(str(tmp_path / "shots" / "day1" / "*.png"), store, client=client, **FAST)


def test_a_list_line_naming_a_directory_is_a_counted_skip(client, tmp_path):
    # A list is not walked: its directory's images would go unscanned without a word.
    write_images(tmp_path / "shots", 1)
    (tmp_path / "listing.txt").write_text("shots/img_000.png\nshots\nshots/gone.png\n")

    summary = pipeline.scan(tmp_path / "listing.txt", tmp_path / "scan.zarr", client=client, **FAST)

    assert (summary["ok"], summary["failed_ids"]) == (1, ["listing/shots/gone.png"])
    assert summary["skipped_paths"] == {"directory": 1}
    assert summary["skipped_examples"] == [[str(tmp_path / "shots"), "directory"]]


def test_a_glob_matching_nothing_is_a_usage_error_like_a_missing_directory(tmp_path, capsys):
    pattern = str(tmp_path / "nodir" / "*.png")
    store = tmp_path / "scan.zarr"
    assert run_cli(["scan", pattern, "--out", store]) == 2
    assert capsys.readouterr().err == f"error: source {pattern}: no file or directory matches this glob\n"
    assert not store.exists()
