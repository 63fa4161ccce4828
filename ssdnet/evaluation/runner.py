"""Run one method over one evaluation set and score its maps against the masks."""
from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ssdnet.api import map_for_array
from ssdnet.config import Config, resolve
from ssdnet.imageio import load_image

from .baselines import BASELINES
from .datasets import Sample, list_samples, read_mask, selected
from .pooled import PooledMetrics, image_auroc, single_image
from .robustness import degrade

METHODS = ("ssdnet", *BASELINES)
PER_IMAGE_FIELDS = ("id", "defect", "width", "height", "defect_pixels", "score_max", "auroc", "auprc", "seconds")


def method_function(method: str, config: Config | dict | None,
                    input_noise: float = 0.0, input_dropout: float = 0.0) -> tuple[Callable[[Any], np.ndarray], Config | None]:
    """The map function of ``method`` (path -> map at the image's resolution) and its Config (ssdnet only).

    ``input_noise`` / ``input_dropout`` damage each decoded image first (the robustness curves).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)} (got {method!r})")
    cfg = resolve(config) if method == "ssdnet" else None
    max_pixels = (cfg or resolve()).max_pixels

    def read(path: Any) -> np.ndarray:
        image = load_image(path, max_pixels)
        return degrade(image, str(path), input_noise, input_dropout)

    if cfg is not None:
        return (lambda path: map_for_array(read(path), cfg)), cfg
    baseline = BASELINES[method]
    return (lambda path: baseline(read(path))), None


def _maps(samples: list[Sample], run: Callable[[Any], np.ndarray]) -> Iterator[tuple[Sample, np.ndarray, float]]:
    for s in samples:
        start = time.perf_counter()
        m = run(s.image)
        yield s, m, time.perf_counter() - start


def evaluate(dataset_path: str | Path, method: str = "ssdnet", config: Config | dict | None = None,
             limit: int | None = None, per_image_csv: str | Path | None = None,
             input_noise: float = 0.0, input_dropout: float = 0.0, dev: int | None = None) -> dict[str, Any]:
    """Pooled-pixel and image metrics of ``method`` on the set at ``dataset_path``.

    ``limit`` scores its stratified test subset; with ``dev`` too, ``dev`` images from outside
    that subset instead (:func:`selected`).

    ``seconds_per_image`` is the map computation alone (decoding included, metrics excluded).
    ``input_noise`` and ``input_dropout`` degrade every input (see :func:`degrade`); the masks
    stay as they are.
    """
    samples = selected(list_samples(dataset_path), limit, dev)
    run, cfg = method_function(method, config, input_noise, input_dropout)
    pooled = PooledMetrics()
    image_scores, defective, rows, seconds = [], [], [], 0.0
    for s, m, sec in _maps(samples, run):
        mask = read_mask(s.mask, m.shape)
        pooled.add(m, mask)
        has_defect = mask is not None and bool(mask.any())
        image_scores.append(float(m.max()))
        defective.append(has_defect)
        seconds += sec
        rows.append({"id": s.id, "defect": s.defect,
                     "width": m.shape[1], "height": m.shape[0],
                     "defect_pixels": int(mask.sum()) if mask is not None else 0,
                     "score_max": float(m.max()), **single_image(m, mask), "seconds": round(sec, 4)})
    if per_image_csv is not None:
        write_rows(per_image_csv, rows)
    return {"method": method, "dataset": Path(dataset_path).name, "n_images": len(samples),
            **pooled.result(), "image_auroc": image_auroc(image_scores, defective),
            "seconds_per_image": seconds / len(samples),
            "preset": cfg.preset if cfg else None, "feature_extractor": cfg.features if cfg else None,
            "pixel_metrics": pooled.mode}


def write_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=PER_IMAGE_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in PER_IMAGE_FIELDS})
