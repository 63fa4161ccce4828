import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from ssdnet.evaluation.pooled import AUPRO_FPR_LIMIT, PooledMetrics, image_auroc, single_image


def blob_set(seed, n=4, shape=(40, 48), quantise=None):
    """Maps that are higher, but not perfectly, inside a few rectangular and diagonal regions."""
    rng = np.random.default_rng(seed)
    maps, masks = [], []
    for i in range(n):
        mask = np.zeros(shape, dtype=bool)
        for _ in range(rng.integers(0, 3)):
            y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
            mask[y:y + rng.integers(2, 8), x:x + rng.integers(2, 8)] = True
        if i == 0:
            # Two regions touching only at a corner: one region under 8-connectivity.
            mask[30, 30] = mask[31, 31] = True
        m = rng.normal(0, 1, shape) + 1.5 * mask * rng.uniform(0.2, 1.5)
        if quantise:
            m = np.round(m * quantise) / quantise  # ties, which every metric must handle
        maps.append(m.astype(np.float32))
        masks.append(mask)
    return maps, masks


def accumulate(maps, masks, **kw):
    pm = PooledMetrics(**kw)
    for m, k in zip(maps, masks):
        pm.add(m, k)
    return pm


def brute_force_aupro(maps, masks, limit=AUPRO_FPR_LIMIT):
    """MVTec AD definition, threshold by threshold: mean per-region overlap against pooled FPR."""
    structure = np.ones((3, 3))
    regions = []
    for i, mask in enumerate(masks):
        labels, n = ndimage.label(mask, structure=structure)
        regions += [(i, labels == r) for r in range(1, n + 1)]
    negatives = np.concatenate([m[~k] for m, k in zip(maps, masks)])
    fprs, pros = [0.0], [0.0]
    for t in np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]:
        fprs.append(float((negatives >= t).mean()))
        pros.append(float(np.mean([(maps[i][r] >= t).mean() for i, r in regions])))
    fprs, pros = np.array(fprs), np.array(pros)
    # Area up to the limit: whole trapezoids below it, then the partial one up to exactly `limit`.
    area = 0.0
    for k in range(1, len(fprs)):
        x0, x1, y0, y1 = fprs[k - 1], fprs[k], pros[k - 1], pros[k]
        if x0 >= limit:
            break
        if x1 > limit:
            y1 = y0 + (y1 - y0) * (limit - x0) / (x1 - x0)
            x1 = limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / limit


@pytest.mark.parametrize("quantise", [None, 4])
def test_exact_metrics_equal_scikit_learn_and_brute_force(quantise):
    maps, masks = blob_set(1, quantise=quantise)
    got = accumulate(maps, masks).result()
    scores = np.concatenate([m.ravel() for m in maps])
    labels = np.concatenate([k.ravel() for k in masks])
    assert got["pixel_auroc"] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert got["pixel_auprc"] == pytest.approx(average_precision_score(labels, scores), abs=1e-9)
    p, r, _ = precision_recall_curve(labels, scores)
    assert got["pixel_f1_max"] == pytest.approx(np.max(2 * p * r / np.maximum(p + r, 1e-12)), abs=1e-9)
    # Region weights are held as float32 (memory), so equal to 1e-6 rather than 1e-9.
    assert got["pixel_aupro"] == pytest.approx(brute_force_aupro(maps, masks), abs=1e-6)


def test_aupro_weighs_each_region_equally_not_each_pixel():
    # A large region found and a small one missed: pixel recall is high, but PRO is about one half.
    mask = np.zeros((60, 60), dtype=bool)
    mask[5:35, 5:35] = True   # 900 px, scored high
    mask[0:3, 50:53] = True  # 9 px, scored below almost all the background (the ramp starts there)
    m = np.zeros(mask.shape, dtype=np.float32)
    m[5:35, 5:35] = 1.0
    m += np.linspace(0, 0.1, m.size, dtype=np.float32).reshape(m.shape)
    got = accumulate([m], [mask]).result()
    assert got["pixel_aupro"] == pytest.approx(brute_force_aupro([m], [mask]), abs=1e-6)
    assert 0.48 < got["pixel_aupro"] < 0.52
    assert got["pixel_auroc"] > 0.95


def test_perfect_and_inverted_maps():
    maps, masks = blob_set(2)
    perfect = accumulate([k.astype(np.float32) for k in masks], masks).result()
    assert perfect["pixel_auroc"] == perfect["pixel_auprc"] == perfect["pixel_f1_max"] == 1.0
    assert perfect["pixel_aupro"] == pytest.approx(1.0)
    inverted = accumulate([-k.astype(np.float32) for k in masks], masks).result()
    assert inverted["pixel_auroc"] == 0.0 and inverted["pixel_aupro"] == 0.0


def test_binned_mode_stays_within_its_error_bound_of_exact():
    maps, masks = blob_set(3, n=12, shape=(128, 128))
    exact = accumulate(maps, masks)
    # A limit of two images' pixels: the other ten stream into the histograms.
    binned = accumulate(maps, masks, exact_limit=2 * 128 * 128, n_bins=1024, top_exact=2000)
    assert exact.mode == "exact" and binned.mode == "binned"
    assert binned._kept_size == 2000  # memory bounded: only the top scores are held
    a, b = exact.result(), binned.result()
    # At most 2/1024 of the pixels share a bin: AUROC is off by at most half of that.
    assert abs(a["pixel_auroc"] - b["pixel_auroc"]) < 1 / 1024
    for key in a:
        assert abs(a[key] - b[key]) < 1e-3, (key, a[key], b[key])
    assert a != b  # the binned path really ran


def test_binned_mode_handles_scores_beyond_the_first_images_range():
    maps, masks = blob_set(4, n=8, shape=(48, 48))
    maps = [m * (1 + 3 * i) for i, m in enumerate(maps)]  # later maps on a wider scale
    a = accumulate(maps, masks).result()
    b = accumulate(maps, masks, exact_limit=48 * 48, n_bins=1024, top_exact=500).result()
    # Values past the sample's range share the end bins: a coarser, still bounded, ranking.
    for key in a:
        assert abs(a[key] - b[key]) < 1e-2, (key, a[key], b[key])


def test_undefined_metrics_are_none_not_numbers():
    no_defects = accumulate([np.random.default_rng(0).random((8, 8))], [None]).result()
    assert all(v is None for v in no_defects.values())
    assert image_auroc([0.1, 0.5], [True, True]) is None
    assert image_auroc([0.1, 0.5, 0.3], [False, True, True]) == 1.0
    assert single_image(np.zeros((4, 4)), None) == {"auroc": None, "auprc": None}


def test_single_image_metrics_equal_scikit_learn():
    maps, masks = blob_set(5, n=1)
    got = single_image(maps[0], masks[0])
    assert got["auroc"] == pytest.approx(roc_auc_score(masks[0].ravel(), maps[0].ravel()), abs=1e-9)
    assert got["auprc"] == pytest.approx(average_precision_score(masks[0].ravel(), maps[0].ravel()), abs=1e-9)


def test_bad_inputs_are_refused():
    pm = PooledMetrics()
    with pytest.raises(ValueError, match="shape"):
        pm.add(np.zeros((4, 4)), np.zeros((4, 5), dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        pm.add(np.full((4, 4), np.nan), None)
