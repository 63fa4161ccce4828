import time

import numpy as np
import pytest

from ssdnet.evaluation.baselines import BASELINES
from ssdnet.evaluation.pooled import single_image
from ssdnet.synthetic import make_example


@pytest.mark.parametrize("name", sorted(BASELINES))
@pytest.mark.parametrize("texture, seed", [("weave", 3), ("stripes", 3)])
def test_baseline_finds_an_obvious_hole(name, texture, seed):
    img, mask = make_example(seed, 96, 112, texture_kind=texture, defect="hole")
    m = BASELINES[name](img[..., None].astype(np.float32) / 255)
    assert m.shape == mask.shape and m.dtype == np.float32 and np.isfinite(m).all()
    assert single_image(m, mask)["auroc"] > 0.9
    # The peak of the map lies on (or right next to) the defect.
    y, x = np.unravel_index(np.argmax(m), m.shape)
    ys, xs = np.nonzero(mask)
    assert np.min(np.hypot(ys - y, xs - x)) <= 8


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_takes_colour_and_returns_the_original_resolution(name):
    img, mask = make_example(5, 300, 260, texture_kind="weave", defect="hole", rgb=True)
    start = time.perf_counter()
    m = BASELINES[name](img.astype(np.float32) / 255)
    seconds = time.perf_counter() - start
    assert m.shape == (300, 260) and m.dtype == np.float32
    assert single_image(m, mask)["auroc"] > 0.9
    assert seconds < 20  # "a few seconds" per image even on a loaded 2-core machine
