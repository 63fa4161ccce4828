"""``ssdnet detect``'s work: fit each file, write its map and overlay, report one record each."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

import ssdnet
from ssdnet.overlay import blend


def unique_stems(paths: Iterable[str]) -> list[str]:
    """``<stem>``, then ``<stem>-2``, ``<stem>-3``... for inputs that share a stem."""
    taken: set[str] = set()
    out = []
    for p in paths:
        stem = Path(p).stem or "image"
        name, n = stem, 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}"
        taken.add(name)
        out.append(name)
    return out


def detect_files(paths: list[str], out_dir: str | os.PathLike, cfg: ssdnet.Config) -> Iterator[dict[str, Any]]:
    """Yield ``{"path", "map", scores..., "texture_share", "seconds", "feature_extractor"}``
    or ``{"path", "error"}``.

    A bad input yields its error and the next input runs: one file never stops the call.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for path, stem in zip(paths, unique_stems(paths)):
        try:
            image = ssdnet.load_image(path, cfg.max_pixels)
        except ssdnet.ImageError as exc:
            yield {"path": path, "error": exc.reason}
            continue
        result = ssdnet.detect(image, cfg)
        map_path = out / f"{stem}.npy"
        np.save(map_path, result.map)
        blend(image, result.map).save(out / f"{stem}_overlay.png")
        yield {"path": path, "map": str(map_path), **result.summary()}
