"""Evaluation of anomaly maps against pixel masks: metrics, sets on disk, baselines, the runner.

Pure numpy / torch / scikit-learn (scipy comes with it): no dask, zarr or pipeline imports,
so the metrics run wherever the method runs.
"""
from .baselines import BASELINES
from .datasets import DatasetError, Sample, development, list_samples, read_mask, selected, stratified
from .pooled import EXACT_PIXEL_LIMIT, PooledMetrics, image_auroc, single_image
from .runner import METHODS, evaluate

__all__ = [
    "BASELINES", "DatasetError", "EXACT_PIXEL_LIMIT", "METHODS", "PooledMetrics", "Sample", "development", "evaluate",
    "image_auroc", "list_samples", "read_mask", "selected", "single_image", "stratified",
]
