"""Archive-level flags: the robust z, the flags a scan stores, and ``--fail-on-anomaly``."""
from __future__ import annotations

import numpy as np
import pytest

import pipeline
from pipeline.flags import MAD_TO_SD, MEANAD_TO_SD, robust_z

from review_fixtures import BROKEN, CLEAN, ODD, copy_of, last_json, scanned  # noqa: F401
from scan_fixtures import client, run_cli, scheduler_args  # noqa: F401


def test_robust_z_log_scale_against_a_hand_computation():
    scores = np.array([1e-6, 2e-6, 4e-6, 8e-6, 1e-2])
    z, rule = robust_z(scores)
    x = np.log(scores)
    mad = np.median(np.abs(x - np.median(x)))
    np.testing.assert_allclose(z, (x - np.median(x)) / (MAD_TO_SD * mad))
    assert rule.scale == "log" and z[-1] > 3.5 > z[-2]
    # The cut-off in score units flags exactly the images whose z reaches z_cut.
    assert scores[-2] < rule.cut_score() <= scores[-1]


def test_robust_z_linear_when_a_score_is_not_positive_and_mean_deviation_when_mad_is_zero():
    scores = np.array([0.0, 0.0, 0.0, 0.0, 3.0])
    z, rule = robust_z(scores)
    assert rule.scale == "linear"
    np.testing.assert_allclose(z, scores / (MEANAD_TO_SD * 0.6))
    same, _ = robust_z(np.full(4, 2.5))
    np.testing.assert_array_equal(same, np.zeros(4))


def test_scan_flags_the_outlier_and_keeps_failed_rows_unflagged(scanned):
    _, store, summary = scanned
    assert (summary["ok"], summary["failed"]) == (9, 1)
    assert summary["flagged"] == 1 and summary["flagged_ids"] == [ODD]
    index = pipeline.open_index(store)
    assert index["is_anomalous"].dtype == bool
    assert list(index.image.values[index["is_anomalous"].values]) == [ODD]
    assert float(index["anomaly_z"].sel(image=ODD)) == pytest.approx(9 / MEANAD_TO_SD)
    # The z is of score_p99 (chosen under the leave-one-set-out protocol), and says so.
    ok = index.status.values == "ok"
    z, _ = robust_z(index["score_p99"].values[ok])
    np.testing.assert_allclose(index["anomaly_z"].values[ok], z)
    assert summary["flag_rule"] == "robust z of log score_p99 >= 3.5"
    np.testing.assert_array_equal(index["anomaly_z"].sel(image=CLEAN).values, 0.0)
    assert np.isnan(float(index["anomaly_z"].sel(image=BROKEN)))
    assert not bool(index["is_anomalous"].sel(image=BROKEN))


def test_exit_codes_failed_first_then_flags_and_flags_stable_across_reruns(scanned, client, tmp_path, capsys):
    arch, store = copy_of(scanned, tmp_path)
    before = pipeline.open_index(store)[["anomaly_z", "is_anomalous"]]
    base = ["scan", arch, "--out", store, *scheduler_args(client), "--preset", "fast", "--steps", "10", "--json"]

    # A failed input wins over flags: 3.
    assert run_cli([*base, "--fail-on-anomaly"]) == 3
    capsys.readouterr()
    (arch / "broken.png").unlink()
    assert run_cli([*base, "--fail-on-anomaly"]) == 4
    rerun = last_json(capsys.readouterr().out)
    assert (rerun["ok"], rerun["failed"], rerun["skipped"]) == (0, 0, 9)
    assert rerun["flagged"] == 1 and rerun["flagged_ids"] == [ODD]
    after = pipeline.open_index(store)[["anomaly_z", "is_anomalous"]]
    assert after.identical(before.sel(image=after.image))

    # Without --fail-on-anomaly flags are reported, not an error.
    assert run_cli(base) == 0
    assert last_json(capsys.readouterr().out)["flagged"] == 1
    # Flags are recomputed at the end of every scan, here with an absolute threshold above all.
    assert run_cli([*base, "--fail-on-anomaly", "--threshold", "1e9"]) == 0
    assert last_json(capsys.readouterr().out)["flagged"] == 0
    assert not pipeline.open_index(store)["is_anomalous"].values.any()


def test_bad_flag_options_are_refused(scanned, client, tmp_path, capsys):
    arch, store = copy_of(scanned, tmp_path)
    assert run_cli(["scan", arch, "--out", store, *scheduler_args(client), "--preset", "fast", "--steps", "10",
                    "--anomaly-z", "0"]) == 2
    assert "anomaly_z must be positive" in capsys.readouterr().err


def test_the_flag_rule_is_stored_as_nested_attributes_and_old_string_rules_still_read(scanned):
    import json

    import zarr

    from pipeline.flags import stored_rule

    _, store, _ = scanned
    attrs = zarr.open_group(str(store), mode="r").attrs.asdict()
    assert isinstance(attrs["flags"], dict) and attrs["flags"]["score"] == "score_p99"
    rule, raw = stored_rule(attrs)
    assert rule.score == "score_p99" and raw["flagged"] == 1
    # A store flagged before: a JSON string, measured on score_max.
    old = {"flags": json.dumps({"z_cut": 3.5, "threshold": 0.0, "scale": "log", "centre": 1.0, "spread": 0.5})}
    rule, _ = stored_rule(old)
    assert rule.score == "score_max" and rule.describe() == "robust z of log score_max >= 3.5"
