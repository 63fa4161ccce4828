import csv
import subprocess
import sys

import numpy as np
import pytest

from ssdnet import load_image
from ssdnet.evaluation import PooledMetrics, evaluate, list_samples, read_mask
from ssdnet.evaluation.baselines import BASELINES

KEYS = {"method", "dataset", "n_images", "pixel_auroc", "pixel_auprc", "pixel_aupro", "pixel_f1_max",
        "image_auroc", "seconds_per_image", "preset", "feature_extractor"}


def test_baseline_run_equals_scoring_the_maps_directly(folder_set, tmp_path):
    csv_path = tmp_path / "rows.csv"
    result = evaluate(folder_set, "pg-lsr", per_image_csv=csv_path)
    assert KEYS <= set(result)
    assert result["method"] == "pg-lsr" and result["dataset"] == folder_set.name and result["n_images"] == 6
    assert result["preset"] is None and result["feature_extractor"] is None
    pm, maxima = PooledMetrics(), []
    for s in list_samples(folder_set):
        m = BASELINES["pg-lsr"](load_image(s.image))
        pm.add(m, read_mask(s.mask, m.shape))
        maxima.append(float(m.max()))
    for key, value in pm.result().items():
        assert result[key] == pytest.approx(value, abs=1e-9)
    assert 0 <= result["image_auroc"] <= 1 and result["seconds_per_image"] > 0
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["id"] for r in rows] == [s.id for s in list_samples(folder_set)]
    assert [float(r["score_max"]) for r in rows] == pytest.approx(maxima, rel=1e-6)
    good = [r for r in rows if r["id"].startswith("good")]
    assert all(r["auroc"] == "" and r["auprc"] == "" and r["defect_pixels"] == "0" for r in good)
    bad = [r for r in rows if r["id"].startswith("defect")]
    assert all(0 <= float(r["auroc"]) <= 1 and int(r["defect_pixels"]) > 0 for r in bad)


def test_limit_takes_the_stratified_subset(folder_set):
    result = evaluate(folder_set, "spectral-residual", limit=3)
    assert result["n_images"] == 3
    # 2 classes (defect, good), round-robin: both kinds present, so image AUROC is defined.
    assert result["image_auroc"] is not None


def test_dev_scores_images_from_outside_the_limit_subset(folder_set, tmp_path):
    evaluate(folder_set, "spectral-residual", limit=3, per_image_csv=tmp_path / "test.csv")
    result = evaluate(folder_set, "spectral-residual", limit=3, dev=2, per_image_csv=tmp_path / "dev.csv")
    tested = {r["id"] for r in csv.DictReader((tmp_path / "test.csv").open())}
    developed = {r["id"] for r in csv.DictReader((tmp_path / "dev.csv").open())}
    assert result["n_images"] == 2 and len(developed) == 2 and not tested & developed
    with pytest.raises(ValueError, match="dev needs the limit"):
        evaluate(folder_set, "spectral-residual", dev=2)


def test_ssdnet_method_runs_through_the_public_api(mvtec_set):
    result = evaluate(mvtec_set, "ssdnet", {"preset": "fast", "steps": 3, "threads": 1}, limit=2)
    assert result["preset"] == "fast" and result["feature_extractor"] == "patchncc"
    assert result["n_images"] == 2 and result["dataset"] == "grid"
    assert 0 <= result["pixel_auroc"] <= 1 and 0 <= result["pixel_aupro"] <= 1


def test_unknown_method_is_refused(folder_set):
    with pytest.raises(ValueError, match="method must be one of"):
        evaluate(folder_set, "nope")


def test_evaluation_does_not_import_the_pipeline_or_dask():
    code = ("import sys, ssdnet.evaluation; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'zarr', 'distributed', 'pipeline')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
