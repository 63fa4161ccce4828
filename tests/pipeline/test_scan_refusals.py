"""What a scan refuses (exit 2): another config, a concurrent writer, bad options, unsafe names."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from pipeline.layout import bound_config

import pipeline
from pipeline.exitcodes import Refused

from scan_fixtures import (FAST, client, make_tar, png_bytes, run_cli, scheduler_args,  # noqa: F401
                           tree_files, write_images)

FAST_FLAGS = ["--preset", "fast", "--steps", "10"]


def test_store_scanned_with_other_config_is_refused(client, tmp_path, capsys):
    write_images(tmp_path / "src", 2)
    store = tmp_path / "scan.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)

    rc = run_cli(["scan", tmp_path / "src", "--out", store, "--preset", "fast", "--steps", "11",
                  *scheduler_args(client)])

    assert rc == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "steps=10" in err and "11" in err
    # Runtime fields (threads, device) are not part of the binding: this one is accepted.
    again = pipeline.scan(tmp_path / "src", store, client=client, threads=2, **FAST)
    assert again["skipped"] == 2


def test_the_preset_name_is_not_bound_its_values_are(client, tmp_path, capsys):
    # Before `fused` took over the default's values they were called `paper`: a store recorded
    # under the old name goes on under the new one, and the new `paper` (other maps) is refused.
    import zarr
    write_images(tmp_path / "src", 2)
    store = tmp_path / "scan.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    root = zarr.open_group(str(store), mode="a", zarr_format=3, use_consolidated=False)
    config = bound_config(root.attrs)
    root.attrs["config"] = json.dumps({**config, "preset": "paper"})

    assert pipeline.scan(tmp_path / "src", store, client=client, **FAST)["skipped"] == 2
    rc = run_cli(["scan", tmp_path / "src", "--out", store, "--preset", "paper", *scheduler_args(client)])
    assert rc == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "surface_windows='48,96' (asked '0')" in err


def test_a_store_from_an_earlier_version_is_refused_naming_the_settings_it_lacks(client, tmp_path, capsys):
    import zarr
    write_images(tmp_path / "src", 1)
    store = tmp_path / "old.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    root = zarr.open_group(str(store), mode="a", zarr_format=3, use_consolidated=False)
    config = bound_config(root.attrs)
    del config["gate_sigma"], config["surface_windows"]  # settings that later versions added
    root.attrs.update({"config": json.dumps(config), "ssdnet_version": "0.0.9"})

    rc = run_cli(["scan", tmp_path / "src", "--out", store, *FAST_FLAGS, *scheduler_args(client)])

    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1
    assert "ssdnet 0.0.9, which had no setting gate_sigma, surface_windows" in err and "new store" in err


def test_a_store_from_before_a_field_that_keeps_the_maps_is_still_accepted(client, tmp_path):
    # `average` came later with a default that makes the same maps: the nightly scan of an
    # existing store goes on after the upgrade; asked at another value it is refused.
    import zarr
    write_images(tmp_path / "src", 2)
    store = tmp_path / "old.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    root = zarr.open_group(str(store), mode="a", zarr_format=3, use_consolidated=False)
    config = bound_config(root.attrs)
    del config["average"]
    root.attrs.update({"config": json.dumps(config)})
    write_images(tmp_path / "src", 3)

    again = pipeline.scan(tmp_path / "src", store, client=client, **FAST)

    assert again["skipped"] == 2 and again["ok"] == 1
    with pytest.raises(Refused, match="average=0.0 \\(asked 0.5\\)"):
        pipeline.scan(tmp_path / "src", store, client=client, average=0.5, **FAST)


def test_a_store_from_before_a_field_that_changed_the_maps_names_the_value_that_continues_it(client, tmp_path):
    # `surface_level` came later with a default that changes the maps: an older store's maps are
    # those of surface_level 0, so the scan is refused naming it, and goes on when asked for it.
    import zarr
    write_images(tmp_path / "src", 2)
    store = tmp_path / "old.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, surface_level=0.0, **FAST)
    root = zarr.open_group(str(store), mode="a", zarr_format=3, use_consolidated=False)
    config = bound_config(root.attrs)
    del config["surface_level"]
    root.attrs.update({"config": json.dumps(config)})
    write_images(tmp_path / "src", 3)

    with pytest.raises(Refused, match="surface_level=0.0 \\(asked 5.0\\)"):
        pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    again = pipeline.scan(tmp_path / "src", store, client=client, surface_level=0.0, **FAST)
    assert again["skipped"] == 2 and again["ok"] == 1


def test_concurrent_scan_is_refused_until_the_holder_dies(client, tmp_path, capsys):
    write_images(tmp_path / "src", 1)
    store = tmp_path / "scan.zarr"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pipeline.lock import store_lock\n"
        f"with store_lock({str(store)!r}):\n    print('locked', flush=True); time.sleep(120)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        rc = run_cli(["scan", tmp_path / "src", "--out", store, *FAST_FLAGS, *scheduler_args(client)])
        assert rc == 2
        err = capsys.readouterr().err
        assert f"being written by another scan (pid {holder.pid} on " in err and len(err.strip().splitlines()) == 1
    finally:
        holder.kill()  # SIGKILL: no cleanup runs; its lock file names a process of this host that is gone
        holder.wait()
    assert pipeline.scan(tmp_path / "src", store, client=client, **FAST)["ok"] == 1


@pytest.mark.parametrize("toml, message", [
    ("stepz = 3\n", "unknown option 'stepz'"),
    ("steps = 'many'\n", "steps must be int"),
    ("timeout = true\n", "timeout must be float"),
    ("include = 'a*'\n", "include must be a list of strings"),
    ("steps = [\n", "not valid TOML"),
])
def test_bad_config_file_is_a_usage_error(tmp_path, capsys, toml, message):
    (tmp_path / "scan.toml").write_text(toml)
    write_images(tmp_path / "src", 1)
    rc = run_cli(["scan", tmp_path / "src", "--out", tmp_path / "s.zarr", "--config", tmp_path / "scan.toml"])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.zarr").exists()


def test_config_file_options_apply_and_flags_win(client, tmp_path, capsys):
    write_images(tmp_path / "src", 3)
    (tmp_path / "scan.toml").write_text('preset = "fast"\nsteps = 12\ninclude = ["img_00[01].png"]\n'
                                        f'scheduler = "{client.scheduler.address}"\njson = true\n')
    rc = run_cli(["scan", tmp_path / "src", "--out", tmp_path / "s.zarr", "--config", tmp_path / "scan.toml",
                  "--steps", "10", "--exclude", "*1.png"])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["ok"] == 1
    index = pipeline.open_index(tmp_path / "s.zarr")
    assert list(index.image.values) == ["src/img_000.png"]
    tree_config = bound_config(pipeline.open_tree(tmp_path / "s.zarr").attrs)
    assert tree_config["steps"] == 10 and tree_config["preset"] == "fast"


def test_two_sources_with_one_name_are_refused(tmp_path):
    write_images(tmp_path / "a" / "data", 1)
    write_images(tmp_path / "b" / "data", 1)
    with pytest.raises(Refused, match="same name 'data'"):
        pipeline.scan([tmp_path / "a" / "data", tmp_path / "b" / "data"], tmp_path / "s.zarr", **FAST)


def test_archive_member_names_never_become_paths(client, tmp_path):
    deep = tmp_path / "one" / "two"
    deep.mkdir(parents=True)
    make_tar(deep / "evil.tar", {"../../x.png": png_bytes(1), "/abs/y.png": png_bytes(2),
                                 "ok/../../../z.png": png_bytes(3)})
    before = tree_files(tmp_path)
    started = time.time()

    summary = pipeline.scan(deep / "evil.tar", deep / "store.zarr", client=client, **FAST)

    # Never read: each is a failed row, under an id marked as outside the archive.
    assert (summary["ok"], summary["failed"]) == (0, 3)
    assert list(pipeline.open_index(deep / "store.zarr").image.values) == [
        "evil/(outside)/abs/y.png", "evil/(outside)/x.png", "evil/(outside)/z.png"]
    new = tree_files(tmp_path) - before
    assert new and all(p.startswith("one/two/store.zarr/") for p in new)
    assert not any(p.name.endswith(".png") and p.stat().st_mtime >= started for p in tmp_path.parent.iterdir())
