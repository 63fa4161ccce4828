"""Generated textured images with injected defects: test fixtures, demo archives, bench inputs.

No downloads and no third-party data: every image is made from a seed.
"""
from __future__ import annotations

import numpy as np

TEXTURES = ("grid", "stripes", "noise", "weave")
DEFECTS = ("spot", "scratch", "hole", "stain")


def texture(kind: str, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A defect-free float image (H, W) in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    period = rng.uniform(8, 14)
    phase = rng.uniform(0, 2 * np.pi, size=2)
    if kind == "grid":
        img = 0.5 + 0.2 * (np.cos(2 * np.pi * x / period + phase[0]) > 0.6) \
            + 0.2 * (np.cos(2 * np.pi * y / period + phase[1]) > 0.6)
    elif kind == "stripes":
        angle = rng.uniform(0, np.pi)
        img = 0.5 + 0.25 * np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase[0])
    elif kind == "weave":
        img = 0.5 + 0.15 * np.sin(2 * np.pi * x / period + phase[0]) * np.sin(2 * np.pi * y / period + phase[1])
    elif kind == "noise":
        coarse = rng.normal(0, 1, size=(height // 4 + 2, width // 4 + 2))
        img = 0.5 + 0.1 * np.kron(coarse, np.ones((4, 4)))[:height, :width]
    else:
        raise ValueError(f"unknown texture {kind!r}")
    img = img + rng.normal(0, 0.02, size=img.shape)
    return np.clip(img, 0, 1).astype(np.float32)


def defect_mask(kind: str, height: int, width: int, rng: np.random.Generator, scale: float = 1.0,
                diameter: float | None = None) -> np.ndarray:
    """A boolean mask of one defect placed away from the border; ``scale`` grows it, and
    ``diameter`` (pixels) fixes its size whatever the image's (a spot's width, a scratch's
    length / 3)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    short = min(height, width)
    r = max(3.0, rng.uniform(0.04, 0.07) * short * scale)  # drawn always: a seed's image stays the same
    if diameter is not None:
        r = diameter / 2
    cy = rng.uniform(0.25, 0.75) * height
    cx = rng.uniform(0.25, 0.75) * width
    if kind in ("spot", "hole", "stain"):
        ry, rx = r * rng.uniform(0.7, 1.3), r * rng.uniform(0.7, 1.3)
        return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1
    if kind == "scratch":
        angle = rng.uniform(0, np.pi)
        length = 3 * r
        along = (x - cx) * np.cos(angle) + (y - cy) * np.sin(angle)
        across = -(x - cx) * np.sin(angle) + (y - cy) * np.cos(angle)
        return (np.abs(along) <= length) & (np.abs(across) <= max(1.5, r / 5))
    raise ValueError(f"unknown defect {kind!r}")


def inject(img: np.ndarray, mask: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    out = img.copy()
    if kind in ("spot", "scratch"):
        out[mask] = np.clip(out[mask] + rng.choice([-1, 1]) * rng.uniform(0.25, 0.35), 0, 1)
    elif kind == "hole":
        out[mask] = rng.uniform(0.05, 0.15)
    elif kind == "stain":
        # Texture kept, contrast flattened and shifted: subtle, like a glue or oil stain.
        out[mask] = 0.5 * out[mask] + rng.uniform(0.3, 0.45)
    return np.clip(out, 0, 1)


def make_example(seed: int, height: int = 128, width: int = 128, texture_kind: str | None = None,
                 defect: str | None = "random", rgb: bool = False,
                 defect_diameter: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One (image uint8 (H, W) or (H, W, 3), mask bool (H, W)) pair.

    ``defect=None`` makes a defect-free image (all-false mask). ``defect_diameter`` (pixels)
    fixes the defect's size; by default it grows with the image (8-14 % of its shorter side).
    """
    rng = np.random.default_rng(seed)
    kind = texture_kind or TEXTURES[rng.integers(len(TEXTURES))]
    img = texture(kind, height, width, rng)
    mask = np.zeros((height, width), dtype=bool)
    if defect is not None:
        dkind = DEFECTS[rng.integers(len(DEFECTS))] if defect == "random" else defect
        mask = defect_mask(dkind, height, width, rng, diameter=defect_diameter)
        img = inject(img, mask, dkind, rng)
    img8 = (img * 255 + 0.5).astype(np.uint8)
    if rgb:
        tint = np.array([1.0, 0.9, 0.75], dtype=np.float32)
        img8 = np.clip(img8[..., None] * tint, 0, 255).astype(np.uint8)
    return img8, mask


def write_dataset(root, count: int, size: int = 128, good: int = 0, seed: int = 0) -> list[str]:
    """Write ``root/images/<id>.png`` and ``root/masks/<id>.png`` (0/255); return the ids.

    The layout of ``../shared/datasets``: ``good`` of the ``count`` images are defect-free.
    """
    from pathlib import Path

    from PIL import Image

    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        is_good = i < good
        img, mask = make_example(seed + i, size, size, defect=None if is_good else "random")
        name = f"{'good' if is_good else 'defect'}_{i:03d}"
        Image.fromarray(img).save(root / "images" / f"{name}.png")
        Image.fromarray((mask * 255).astype(np.uint8)).save(root / "masks" / f"{name}.png")
        ids.append(name)
    return ids


def write_mvtec_category(root, size: int = 64, good: int = 2, per_defect: int = 2,
                         defects: tuple[str, ...] = ("hole", "scratch"), seed: int = 0) -> list[str]:
    """Write an MVTec AD category folder under ``root``; return the ids (``<defect>/<nnn>``).

    ``test/good/NNN.png`` without masks, ``test/<defect>/NNN.png`` with
    ``ground_truth/<defect>/NNN_mask.png`` (0/255), as MVTec AD ships them.
    """
    from pathlib import Path

    from PIL import Image

    root = Path(root)
    ids, n = [], seed
    for folder, kind, count in [("good", None, good)] + [(d, d, per_defect) for d in defects]:
        (root / "test" / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img, mask = make_example(n, size, size, defect=kind)
            n += 1
            Image.fromarray(img).save(root / "test" / folder / f"{i:03d}.png")
            if kind:
                (root / "ground_truth" / folder).mkdir(parents=True, exist_ok=True)
                Image.fromarray((mask * 255).astype(np.uint8)).save(root / "ground_truth" / folder / f"{i:03d}_mask.png")
            ids.append(f"{folder}/{i:03d}")
    return ids
