"""``ssdnet index``: the index as CSV, JSON and Parquet, sorted and filtered."""
from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

import pipeline

from review_fixtures import BROKEN, ODD, scanned  # noqa: F401
from scan_fixtures import client, run_cli  # noqa: F401

STRINGS = ["image", "path", "sha256", "worker", "error", "status"]


def stored(store) -> pd.DataFrame:
    return pipeline.open_index(store).to_dataframe().reset_index()


def test_csv_round_trips_with_open_index(scanned, tmp_path):
    _, store, _ = scanned
    out = tmp_path / "index.csv"
    assert run_cli(["index", store, "--out", out]) == 0
    back = pd.read_csv(out, parse_dates=["finished_at"], dtype={c: str for c in STRINGS}, keep_default_na=False,
                       na_values={c: ["", "NaN"] for c in ("score_max", "score_p99", "score_mean", "texture_share",
                                                           "seconds", "anomaly_z")})
    scores = back["score_p99"].to_numpy()  # the default sort: the flags' score
    assert back["image"].iloc[0] == ODD and np.all(np.diff(scores[np.isfinite(scores)]) <= 0)
    assert back["image"].iloc[-1] == BROKEN  # NaN sorts last
    expected = stored(store).set_index("image").loc[back["image"]].reset_index()
    pd.testing.assert_frame_equal(back, expected[back.columns], check_dtype=False)
    assert list(back.columns) == list(expected.columns)


def test_json_to_stdout_sorted_by_another_variable_and_failed_only(scanned, capsys):
    _, store, _ = scanned
    assert run_cli(["index", store, "--format", "json", "--sort", "anomaly_z"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 10 and rows[0]["image"] == ODD and rows[0]["is_anomalous"] is True
    assert rows[-1]["image"] == BROKEN and rows[-1]["anomaly_z"] is None and rows[-1]["is_anomalous"] is False
    assert run_cli(["index", store, "--format", "json", "--failed"]) == 0
    failed = json.loads(capsys.readouterr().out)
    assert [r["image"] for r in failed] == [BROKEN] and failed[0]["error"].startswith("cannot decode")
    assert run_cli(["index", store, "--failed"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("image,path,") and len(lines) == 2


def test_parquet_needs_out_and_reads_back(scanned, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    _, store, _ = scanned
    assert run_cli(["index", store, "--format", "parquet"]) == 2
    assert "needs --out" in capsys.readouterr().err
    out = tmp_path / "index.parquet"
    assert run_cli(["index", store, "--format", "parquet", "--out", out]) == 0
    back = pd.read_parquet(out)
    expected = stored(store).set_index("image").loc[back["image"]].reset_index()
    pd.testing.assert_frame_equal(back, expected[back.columns], check_dtype=False)


def test_parquet_without_pyarrow_is_a_clear_usage_error(scanned, tmp_path, capsys, monkeypatch):
    _, store, _ = scanned
    # None in sys.modules makes `import pyarrow` raise ImportError, as on a machine without it.
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert run_cli(["index", store, "--format", "parquet", "--out", tmp_path / "x.parquet"]) == 2
    assert "pip install 'ssdnet[parquet]'" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()


def test_unknown_sort_and_non_store_are_refused(scanned, tmp_path, capsys):
    _, store, _ = scanned
    assert run_cli(["index", store, "--sort", "nope"]) == 2
    assert "unknown --sort 'nope'" in capsys.readouterr().err
    assert run_cli(["index", tmp_path]) == 2
