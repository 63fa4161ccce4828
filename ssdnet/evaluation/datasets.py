"""Evaluation sets on disk: (id, image path, mask path or None, defect class) per image.

Two layouts are read:

* ``images/<id>.<ext>`` + ``masks/<id>.png`` (mask 0/255, or 0/1; no mask = defect-free), optionally a
  ``manifest.csv`` with ``id`` and ``defect`` columns - the layout of ``../shared/datasets``;
* an MVTec AD category folder: ``test/<defect>/<n>.png``, ``ground_truth/<defect>/<n>_mask.png``,
  ``test/good/`` without masks.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ssdnet.imageio import IMAGE_EXTENSIONS

GOOD = "good"


class DatasetError(ValueError):
    """A folder that is not an evaluation set; the message says why."""


@dataclass(frozen=True)
class Sample:
    id: str
    image: Path
    mask: Path | None
    defect: str


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _manifest_defects(root: Path) -> dict[str, str]:
    path = root / "manifest.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["id"]: row.get("defect") or "" for row in csv.DictReader(f) if "id" in row}


def _folder_layout(root: Path) -> list[Sample]:
    defects = _manifest_defects(root)
    samples = []
    for image in _images_in(root / "images"):
        mask = root / "masks" / f"{image.stem}.png"
        mask = mask if mask.is_file() else None
        defect = defects.get(image.stem)
        if not defect:
            # Without a manifest the class is all the mask can tell: defective or not.
            defect = "defect" if mask is not None and read_mask(mask).any() else GOOD
        samples.append(Sample(image.stem, image, mask, defect))
    return samples


def _mvtec_layout(root: Path) -> list[Sample]:
    samples = []
    for folder in sorted(p for p in (root / "test").iterdir() if p.is_dir()):
        for image in _images_in(folder):
            mask = root / "ground_truth" / folder.name / f"{image.stem}_mask.png"
            if folder.name != GOOD and not mask.is_file():
                raise DatasetError(f"{image}: no mask {mask}")
            samples.append(Sample(f"{folder.name}/{image.stem}", image, mask if mask.is_file() else None,
                                  folder.name))
    return samples


def list_samples(root: str | Path) -> list[Sample]:
    """Every image of the set at ``root``, sorted by id within its layout."""
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such directory")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    if (root / "images").is_dir():
        samples = _folder_layout(root)
    elif (root / "test").is_dir():
        samples = _mvtec_layout(root)
    else:
        raise DatasetError(f"{root}: neither images/ + masks/ nor an MVTec AD category (test/, ground_truth/)")
    if not samples:
        raise DatasetError(f"{root}: no images found")
    return samples


def stratified(samples: list[Sample], limit: int | None) -> list[Sample]:
    """A fixed subset of ``limit`` samples spread over the defect classes (good included).

    Round-robin over the classes in name order, each class in id order: the same subset on
    every run, and every class represented once ``limit`` reaches the number of classes.
    """
    if limit is None or limit >= len(samples):
        return samples
    if limit < 1:
        raise DatasetError(f"limit must be positive (got {limit})")
    by_class: dict[str, list[Sample]] = {}
    for s in sorted(samples, key=lambda s: s.id):
        by_class.setdefault(s.defect, []).append(s)
    order = [s for row in zip_longest(*(by_class[k] for k in sorted(by_class))) for s in row if s is not None]
    return sorted(order[:limit], key=lambda s: s.id)


def development(samples: list[Sample], limit: int, n: int) -> list[Sample]:
    """The development split: ``n`` samples, stratified like :func:`stratified`, among those NOT in
    the ``limit`` test subset, so a choice made on them leaves that subset unseen."""
    held = {s.id for s in stratified(samples, limit)}
    rest = [s for s in samples if s.id not in held]
    if not rest:
        raise DatasetError(f"no development images: the limit-{limit} test subset takes all {len(samples)}")
    return stratified(rest, n)


def selected(samples: list[Sample], limit: int | None, dev: int | None = None) -> list[Sample]:
    """The images a run scores: the ``limit`` test subset (:func:`stratified`), or with ``dev``
    that many development images from outside it (:func:`development`)."""
    if dev is None:
        return stratified(samples, limit)
    if not limit:
        raise ValueError("dev needs the limit of the test subset it stays out of")
    return development(samples, limit, dev)


def read_mask(path: Path | None, shape: tuple[int, int] | None = None) -> np.ndarray | None:
    """A boolean defect mask (0 normal, 255 defect; above half counts as defect).

    A mask whose largest value is 1 is a 0/1 mask: its 1s are the defect (read as 0/255 they
    would all be normal, a defective image scored as a good one). A 0/255 mask reads as before.
    ``shape`` (H, W), when given, must match: masks are compared at the image's own resolution.
    A file that is not a readable image is a :class:`DatasetError` naming it.
    """
    if path is None:
        return None
    try:
        with Image.open(path) as img:
            gray = np.asarray(img.convert("L"))
    except UnidentifiedImageError:
        raise DatasetError(f"{path}: mask is not a recognised image format") from None
    except Image.DecompressionBombError as exc:
        raise DatasetError(f"{path}: mask is too large ({exc})") from None
    except OSError as exc:
        if exc.errno is not None:  # the machine's (no permission, I/O error): not the file's content
            raise
        raise DatasetError(f"{path}: mask cannot be decoded ({exc})") from None
    except (ValueError, SyntaxError) as exc:  # PIL raises these too for broken headers
        raise DatasetError(f"{path}: mask cannot be decoded ({exc})") from None
    mask = gray > 0 if gray.size and gray.max() == 1 else gray > 127
    if shape is not None and mask.shape != shape:
        raise DatasetError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]}, image is {shape[1]}x{shape[0]}")
    return mask
