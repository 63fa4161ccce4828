import csv
import json

import pytest

from pipeline.cli import main
from ssdnet.synthetic import write_dataset, write_mvtec_category

KEYS = {"method", "dataset", "n_images", "pixel_auroc", "pixel_auprc", "pixel_aupro", "pixel_f1_max",
        "image_auroc", "seconds_per_image", "preset", "feature_extractor"}
FAST = ["--preset", "fast", "--steps", "3", "--threads", "1"]


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    write_dataset(root / "folder", 4, size=64, good=1, seed=3)
    write_mvtec_category(root / "bottle", size=64, good=1, per_defect=1, defects=("hole", "spot"))
    return root


@pytest.mark.parametrize("layout, n", [("folder", 4), ("bottle", 3)])
def test_eval_json_on_both_layouts_with_ssdnet(capsys, sets, layout, n):
    code, out, err = run(capsys, "eval", sets / layout, "--json", *FAST)
    assert code == 0, err
    result = json.loads(out)
    assert KEYS <= set(result)
    assert result["method"] == "ssdnet" and result["dataset"] == layout and result["n_images"] == n
    assert result["preset"] == "fast" and result["feature_extractor"] == "patchncc"
    for key in ("pixel_auroc", "pixel_auprc", "pixel_aupro", "pixel_f1_max", "image_auroc"):
        assert 0 <= result[key] <= 1


def test_eval_baseline_table_and_per_image_csv(capsys, sets, tmp_path):
    per_image = tmp_path / "rows.csv"
    code, out, err = run(capsys, "eval", sets / "bottle", "--method", "glcm", "--per-image", per_image)
    assert code == 0, err
    assert out.splitlines()[0] == "glcm on bottle"
    auroc = next(line for line in out.splitlines() if "pixel AUROC" in line).split()[-1]
    assert float(auroc) > 0.5
    rows = list(csv.DictReader(per_image.open()))
    assert [r["id"] for r in rows] == ["good/000", "hole/000", "spot/000"]
    assert rows[0]["auroc"] == "" and float(rows[1]["auroc"]) > 0.5


def test_eval_limit(capsys, sets):
    code, out, _ = run(capsys, "eval", sets / "folder", "--method", "ssd", "--limit", "2", "--json")
    assert code == 0 and json.loads(out)["n_images"] == 2


@pytest.mark.parametrize("make, why", [
    (lambda p: p / "missing", "no such directory"),
    (lambda p: p, "neither images/"),
])
def test_bad_dataset_path_is_a_usage_error(capsys, tmp_path, make, why):
    path = make(tmp_path)
    code, out, err = run(capsys, "eval", path, "--method", "glcm")
    assert code == 2 and out == ""
    assert err.startswith(f"error: {path}: ") and why in err


def test_an_undecodable_image_refuses_the_whole_run(capsys, tmp_path):
    write_dataset(tmp_path / "set", 2, size=64, good=1)
    broken = tmp_path / "set" / "images" / "good_000.png"
    broken.write_bytes(b"not a png")
    code, out, err = run(capsys, "eval", tmp_path / "set", "--method", "glcm")
    assert code == 2 and out == ""
    assert err.strip() == f"error: {broken}: not a recognised image format"


def test_bad_config_flag_is_a_usage_error(capsys, sets):
    code, _, err = run(capsys, "eval", sets / "folder", "--preset", "fast", "--steps", "0")
    assert code == 2 and "steps must be positive" in err


def _one_image_set(root, mask_bytes=None, mask=None):
    """images/a.png (64 px, a bright square) and masks/a.png as given (bytes, or an array saved as PNG)."""
    import numpy as np
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    img = np.full((64, 64), 90, np.uint8)
    img[20:30, 20:30] = 250
    Image.fromarray(img).save(root / "images" / "a.png")
    if mask_bytes is not None:
        (root / "masks" / "a.png").write_bytes(mask_bytes)
    else:
        Image.fromarray(mask).save(root / "masks" / "a.png")
    return root / "masks" / "a.png"


def test_a_mask_that_is_not_an_image_refuses_the_run(capsys, tmp_path):
    mask = _one_image_set(tmp_path / "d", mask_bytes=b"junk\n")
    code, out, err = run(capsys, "eval", tmp_path / "d", "--method", "spectral-residual")
    assert code == 2 and out == ""
    assert err == f"error: {mask}: mask is not a recognised image format\n"


def test_a_0_1_mask_scores_like_the_same_0_255_mask(capsys, tmp_path):
    import numpy as np

    ones = np.zeros((64, 64), np.uint8)
    ones[20:30, 20:30] = 1
    results = []
    for name, mask in (("ones", ones), ("full", ones * 255)):
        _one_image_set(tmp_path / name, mask=mask)
        code, out, err = run(capsys, "eval", tmp_path / name, "--method", "spectral-residual", "--json")
        assert code == 0, err
        results.append(json.loads(out))
    ones_result, full_result = results
    assert full_result["pixel_auroc"] is not None  # the defect pixels are scored, not a good image
    for key in ("n_images", "pixel_auroc", "pixel_auprc", "pixel_aupro", "pixel_f1_max", "image_auroc"):
        assert ones_result[key] == full_result[key], key
