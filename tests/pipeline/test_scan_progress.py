"""pipeline.scan called from Python shows its progress when asked (by default in Jupyter)."""
from __future__ import annotations

import sys

import pipeline
from pipeline.progressbar import in_notebook
from scan_fixtures import FAST, client, write_images  # noqa: F401


def test_progress_bar_counts_every_image(client, tmp_path, capsys):
    write_images(tmp_path / "src", 3)
    summary = pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=client, progress=True, **FAST)
    err = capsys.readouterr().err
    assert summary["ok"] == 3
    # tqdm writes the bar to stderr outside Jupyter: its last state is every image done.
    assert "scan: 100%" in err and "3/3" in err and "ok=3" in err, err


def test_without_tqdm_the_progress_line_stands_in(client, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # as if tqdm were not installed
    write_images(tmp_path / "src", 2)
    pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=client, progress=True, **FAST)
    err = capsys.readouterr().err
    assert "2/2" in err and "scan:" not in err, err


def test_quiet_by_default_outside_a_notebook(client, tmp_path, capsys):
    assert not in_notebook()
    write_images(tmp_path / "src", 1)
    pipeline.scan(tmp_path / "src", tmp_path / "s.zarr", client=client, **FAST)
    assert "1/1" not in capsys.readouterr().err
