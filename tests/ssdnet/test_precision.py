import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import ssdnet
from ssdnet.synthetic import make_example


def test_bfloat16_finds_the_same_defect_as_float32():
    # bf16 rounds each product to 8 bits of mantissa: the fit takes another path, so the maps
    # are compared by what they find, not value by value.
    image, mask = make_example(3, 64, 64)
    x = image.astype(np.float32)[..., None] / 255
    cfg = ssdnet.resolve(preset="fast", steps=40, threads=1)
    full = ssdnet.map_for_array(x, cfg)
    half = ssdnet.map_for_array(x, cfg.replace(precision="bfloat16"))
    assert np.isfinite(half).all() and half.dtype == np.float32
    assert roc_auc_score(mask.ravel(), full.ravel()) > 0.9
    assert roc_auc_score(mask.ravel(), half.ravel()) > 0.9
    assert np.corrcoef(full.ravel(), half.ravel())[0, 1] > 0.8


def test_precision_is_a_method_field_and_checked():
    cfg = ssdnet.resolve(precision="bfloat16")
    assert cfg.method_dict()["precision"] == "bfloat16"
    with pytest.raises(ssdnet.ConfigError, match="precision"):
        ssdnet.resolve(precision="float8")
