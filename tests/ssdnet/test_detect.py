import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import ssdnet

FAST = dict(preset="fast", threads=1)


def test_fast_preset_localizes_generated_defects(defect_images):
    maps, masks = [], []
    for image, mask in defect_images:
        maps.append(ssdnet.detect(image, **FAST).map.ravel())
        masks.append(mask.ravel())
    auroc = roc_auc_score(np.concatenate(masks), np.concatenate(maps))
    assert auroc >= 0.90, f"pooled pixel AUROC {auroc:.3f}"


def test_same_seed_same_map_other_seed_other_map(textured_image):
    a = ssdnet.detect(textured_image, **FAST, steps=15)
    b = ssdnet.detect(textured_image, **FAST, steps=15)
    c = ssdnet.detect(textured_image, **FAST, steps=15, seed=1)
    assert np.array_equal(a.map, b.map)
    assert not np.array_equal(a.map, c.map)


def test_result_has_original_shape_and_scores(tmp_path):
    from PIL import Image
    img = (np.random.default_rng(0).random((50, 300)) * 255).astype(np.uint8)  # a line-scan strip
    Image.fromarray(img).save(tmp_path / "strip.png")
    r = ssdnet.detect(tmp_path / "strip.png", **FAST, steps=5, size=32)
    assert r.map.shape == (50, 300) and r.map.dtype == np.float32
    assert r.score_max == pytest.approx(float(r.map.max()))
    assert r.score_mean == pytest.approx(float(r.map.mean()), rel=1e-5)
    assert r.score_mean <= r.score_p99 <= r.score_max
    assert r.seconds > 0 and r.config.size == 32 and r.config.preset == "fast"
    assert 0.0 <= r.texture_share <= 1.0
    assert set(r.summary()) == {"score_max", "score_p99", "score_mean", "texture_share", "seconds", "fit_seconds",
                                "heatmap_seconds", "feature_extractor"}
    assert 0 < r.fit_seconds and 0 < r.heatmap_seconds and r.fit_seconds + r.heatmap_seconds <= r.seconds
    assert "map=<50x300 float32>" in repr(r) and len(repr(r)) < 200  # not the whole array
    assert r.summary()["texture_share"] == r.texture_share


def test_detect_accepts_config_objects_and_rejects_bad_images():
    cfg = ssdnet.resolve(preset="fast", steps=3)
    r = ssdnet.detect(np.zeros((20, 20, 3), np.uint8), cfg)
    assert r.config == cfg and np.isfinite(r.map).all()
    with pytest.raises(ssdnet.ImageError):
        ssdnet.detect(b"not an image", cfg)


def test_import_loads_neither_dask_nor_zarr_nor_cuda():
    code = ("import sys, ssdnet, torch; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'zarr', 'xarray', "
            "'pipeline', 'cluster')]; "
            "assert not bad, bad; "
            "assert not torch.cuda.is_initialized(); print('clean')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "clean", out.stderr


@pytest.mark.parametrize("side", [1, 3, 4])
def test_an_image_below_the_networks_minimum_is_refused_with_its_size(side):
    with pytest.raises(ssdnet.ImageError, match=f"image {side}x40 is smaller than the 5x5 the network needs"):
        ssdnet.detect(np.zeros((40, side), np.uint8), preset="fast", steps=2)


def test_an_image_at_the_networks_minimum_is_fitted():
    image = (np.random.default_rng(0).random((5, 5)) * 255).astype(np.uint8)
    r = ssdnet.detect(image, preset="fast", steps=2, threads=1)
    assert r.map.shape == (5, 5) and np.isfinite(r.map).all()
