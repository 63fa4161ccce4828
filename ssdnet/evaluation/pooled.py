"""Pooled-pixel metrics of a whole set (MVTec convention), accumulated one image at a time.

``PooledMetrics.add(map, mask)`` per image, ``result()`` at the end. Up to ``exact_limit``
pooled pixels every score is kept and the metrics are exact (every distinct score is a
threshold; AUROC and average precision equal scikit-learn's, checked in the tests). Past that the kept scores fix the bin edges (their quantiles) and every
pixel from then on only increments histograms, so memory no longer grows with the set.

Why quantile edges: each bin then holds about 1/``n_bins`` of the pixels, so the fraction of
(defect, normal) pixel pairs that share a bin - the only pairs whose order binning loses - is
about that, whatever the shape of the score distribution, and the AUROC error at most half of
it. Scores outside the kept sample's range fall into the two open end bins. The highest
``top_exact`` scores stay exact (see PooledMetrics). The tests bound the difference to exact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

# 16 images of 1024x1024 stay exact; held as float32 score + float32 region weight + bool label
# (9 bytes a pixel), plus the sort inside scikit-learn: under 1 GB at the limit.
EXACT_PIXEL_LIMIT = 16_000_000
N_BINS = 8192
QUANTILE_SAMPLE = 1_000_000
# Highest-scoring pixels kept exactly in binned mode (9 bytes each).
TOP_EXACT = 2_000_000
AUPRO_FPR_LIMIT = 0.3
# MVTec AD's evaluation code labels defect regions with 8-connectivity.
_EIGHT_CONNECTED = np.ones((3, 3), dtype=int)
_trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 names it trapz


def region_weights(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Per pixel 1/(size of its connected defect region), 0 outside; and the number of regions.

    Summed over the pixels above a threshold this is the sum over regions of their overlap,
    which is what the PRO curve averages.
    """
    labels, n = ndimage.label(mask, structure=_EIGHT_CONNECTED)
    if n == 0:
        return np.zeros(mask.shape, dtype=np.float64), 0
    sizes = np.bincount(labels.ravel())
    inverse = np.zeros(n + 1, dtype=np.float64)
    inverse[1:] = 1.0 / sizes[1:]
    return inverse[labels], n


@dataclass
class Counts:
    """Per score level, in ascending score order: defect pixels, normal pixels, region weight."""
    pos: np.ndarray
    neg: np.ndarray
    pro: np.ndarray
    regions: int


def curve_metrics(c: Counts) -> dict[str, float | None]:
    """AUROC, AP, F1-max and AUPRO from counts, thresholding at every level (ties kept together)."""
    tp = np.cumsum(c.pos[::-1], dtype=np.float64)
    fp = np.cumsum(c.neg[::-1], dtype=np.float64)
    pro_sum = np.cumsum(c.pro[::-1], dtype=np.float64)
    n_pos, n_neg = tp[-1] if tp.size else 0.0, fp[-1] if fp.size else 0.0
    if n_pos == 0 or n_neg == 0:
        return {"auroc": None, "auprc": None, "f1_max": None, "aupro": None}
    tpr = np.concatenate([[0.0], tp / n_pos])
    fpr = np.concatenate([[0.0], fp / n_neg])
    auroc = float(_trapezoid(tpr, fpr))
    predicted = tp + fp
    precision = np.divide(tp, predicted, out=np.ones_like(tp), where=predicted > 0)
    # scikit-learn's average precision: step sum, precision at each new recall level.
    ap = float(np.sum(np.diff(tpr) * precision))
    recall = tp / n_pos
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=(precision + recall) > 0)
    pro = np.concatenate([[0.0], pro_sum / c.regions])
    return {"auroc": auroc, "auprc": ap, "f1_max": float(f1.max()),
            "aupro": integrate_to(fpr, pro, AUPRO_FPR_LIMIT) / AUPRO_FPR_LIMIT}


def integrate_to(x: np.ndarray, y: np.ndarray, limit: float) -> float:
    """Trapezoid area under y(x) (x ascending, from 0) up to x = limit, interpolating y there."""
    inside = x <= limit
    xs, ys = x[inside], y[inside]
    if xs[-1] < limit and inside.sum() < x.size:
        j = int(np.argmax(~inside))
        t = (limit - x[j - 1]) / (x[j] - x[j - 1])
        xs = np.append(xs, limit)
        ys = np.append(ys, y[j - 1] + t * (y[j] - y[j - 1]))
    return float(_trapezoid(ys, xs))


def bin_cuts(sample: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges at evenly spaced quantiles of ``sample``.

    Quantiles of a fixed random subset of QUANTILE_SAMPLE scores: ~100 per bin place the edges
    as well as all 16 million would, at a fraction of the sort.
    """
    if sample.size > QUANTILE_SAMPLE:
        sample = sample[np.random.default_rng(0).integers(0, sample.size, QUANTILE_SAMPLE)]
    ordered = np.sort(sample)
    picks = np.round(np.linspace(0.0, 1.0, n_bins + 1) * (sample.size - 1)).astype(np.int64)
    return np.unique(ordered[picks])


@dataclass
class Pixels:
    scores: np.ndarray   # float32
    labels: np.ndarray   # bool, True = defect
    weights: np.ndarray  # float32, region_weights

    @staticmethod
    def join(parts: list["Pixels"]) -> "Pixels":
        return Pixels(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("scores", "labels", "weights")))

    def take(self, index: np.ndarray) -> "Pixels":
        return Pixels(self.scores[index], self.labels[index], self.weights[index])


def image_pixels(score_map: np.ndarray, mask: np.ndarray | None) -> tuple[Pixels, int]:
    """One image's pixels as the pooled metrics take them, and its number of defect regions."""
    if mask is None:
        mask = np.zeros(score_map.shape, dtype=bool)
    if score_map.shape != mask.shape:
        raise ValueError(f"map {score_map.shape} and mask {mask.shape} differ in shape")
    scores = np.asarray(score_map, dtype=np.float32).ravel()
    if not np.isfinite(scores).all():
        raise ValueError("map has NaN or infinite values")
    weights, n = region_weights(mask)
    return Pixels(scores, mask.ravel().astype(bool), weights.ravel().astype(np.float32)), n


class PooledMetrics:
    """Accumulates maps and masks of a set; ``result()`` gives the pooled pixel metrics.

    Binned mode keeps the ``top_exact`` highest-scoring pixels exactly (the rest are binned):
    average precision and F1 are decided among the top scores, where a bin would lump
    together the few pixels that matter. Every binned pixel scores at most the lowest kept one,
    so the bins and the kept pixels still form one ranking.
    """

    def __init__(self, exact_limit: int = EXACT_PIXEL_LIMIT, n_bins: int = N_BINS, top_exact: int = TOP_EXACT):
        self.exact_limit = exact_limit
        self.n_bins = n_bins
        self.top_exact = top_exact
        self._kept: list[Pixels] = []
        self._kept_size = 0
        self._regions = 0
        self._cuts: np.ndarray | None = None
        self._hist: Counts | None = None

    @property
    def mode(self) -> str:
        return "exact" if self._cuts is None else "binned"

    def add(self, score_map: np.ndarray, mask: np.ndarray | None) -> None:
        self.add_pixels(*image_pixels(score_map, mask))

    def add_pixels(self, pixels: Pixels, regions: int) -> None:
        """Add one image's :func:`image_pixels` (made once, they can be pooled in many sets)."""
        scores = pixels.scores
        self._regions += regions
        if self._cuts is None and self._kept_size + scores.size <= self.exact_limit:
            self._kept.append(pixels)
            self._kept_size += scores.size
            return
        if self._cuts is None:
            self._cuts = bin_cuts(np.concatenate([p.scores for p in self._kept] + [scores]), self.n_bins)
            size = self._cuts.size + 1
            self._hist = Counts(np.zeros(size, np.int64), np.zeros(size, np.int64), np.zeros(size), 0)
        self._stream(pixels)

    def _stream(self, pixels: Pixels) -> None:
        everything = Pixels.join(self._kept + [pixels])
        n = everything.scores.size
        if n <= self.top_exact:
            self._kept, self._kept_size = [everything], n
            return
        top = np.argpartition(everything.scores, n - self.top_exact)[n - self.top_exact:]
        rest = np.ones(n, dtype=bool)
        rest[top] = False
        self._bin(everything.take(rest))
        self._kept, self._kept_size = [everything.take(top)], self.top_exact

    def _bin(self, p: Pixels) -> None:
        idx = np.searchsorted(self._cuts, p.scores, side="right")
        size = self._hist.pos.size
        self._hist.pos += np.bincount(idx[p.labels], minlength=size)
        self._hist.neg += np.bincount(idx[~p.labels], minlength=size)
        self._hist.pro += np.bincount(idx[p.labels], weights=p.weights[p.labels].astype(np.float64), minlength=size)

    def counts(self) -> Counts:
        """Counts per level, ascending: per bin (binned mode) then per distinct kept score."""
        if not self._kept:
            return Counts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0)
        kept = Pixels.join(self._kept)
        exact = exact_counts(kept.scores, kept.labels, kept.weights, self._regions)
        if self._cuts is None:
            return exact
        return Counts(*(np.concatenate([getattr(self._hist, f), getattr(exact, f)]) for f in ("pos", "neg", "pro")),
                      self._regions)

    def result(self) -> dict[str, float | None]:
        out = curve_metrics(self.counts())
        return {"pixel_auroc": out["auroc"], "pixel_auprc": out["auprc"], "pixel_aupro": out["aupro"],
                "pixel_f1_max": out["f1_max"]}


def exact_counts(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, regions: int) -> Counts:
    """Counts per distinct score: one sort, where scikit-learn's AUROC and AP sort twice (equal results)."""
    _, level = np.unique(scores, return_inverse=True)
    level = level.ravel()
    size = int(level.max()) + 1
    return Counts(np.bincount(level[labels], minlength=size), np.bincount(level[~labels], minlength=size),
                  np.bincount(level, weights=weights.astype(np.float64), minlength=size), regions)


def image_auroc(scores: list[float], defective: list[bool]) -> float | None:
    """AUROC of image scores; None unless the set has both defect-free and defective images."""
    if len(set(defective)) < 2:
        return None
    return float(roc_auc_score(np.asarray(defective, dtype=bool), np.asarray(scores, dtype=np.float64)))


def single_image(score_map: np.ndarray, mask: np.ndarray | None) -> dict[str, float | None]:
    """An image's own AUROC and AP; None for an image with no defect pixels (or only defect pixels)."""
    scores = np.asarray(score_map, dtype=np.float32).ravel()
    labels = np.zeros(scores.size, dtype=bool) if mask is None else mask.ravel().astype(bool)
    if labels.all() or not labels.any():
        return {"auroc": None, "auprc": None}
    out = curve_metrics(exact_counts(scores, labels, np.zeros(scores.size), 1))
    return {"auroc": out["auroc"], "auprc": out["auprc"]}
