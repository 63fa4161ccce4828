"""``ssdnet export``: an image's map, overlay and source picture at full size, out of the store.

The map is written as it is stored (float32 TIFF, one score per source pixel) and as colours;
the overlay is drawn on the source image itself, read again from where the scan read it (a file,
or a member of a tar or zip archive) and checked against the SHA-256 the store recorded. When the
source is gone or changed, the overlay falls back to the stored thumbnail and the result says so:
a map is never drawn over other bytes than the ones it was made from.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.exitcodes import Refused
from pipeline.ids import unescaped
from pipeline.pictures import StoreImages, draw, picture_key


@dataclass
class Exported:
    image_id: str
    files: list[str]
    source: str  # "source" (drawn on the re-read image) or why the thumbnail stands in


def read_source(path: str) -> bytes:
    """The bytes at an index ``path``: a file, or ``archive:member`` of a tar or zip archive."""
    if not os.path.exists(path):
        path = unescaped(path)  # a name that is not UTF-8 is stored escaped (a member's too)
    if os.path.isfile(path):
        return Path(path).read_bytes()
    # An archive member: the archive is the longest prefix before a ':' that is a file.
    for cut in [i for i, ch in enumerate(path) if ch == ":"][::-1]:
        archive, member = path[:cut], path[cut + 1:]
        if not os.path.isfile(archive):
            continue
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        with tarfile.open(archive) as tf:
            f = tf.extractfile(member)
            if f is None:
                raise OSError(f"{member} is not a file in {archive}")
            return f.read()
    raise FileNotFoundError(path)


def _source_rgb(path: str, sha256: str, shape: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    try:
        data = read_source(path)
    except (OSError, KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
        return None, f"source not readable ({type(exc).__name__}: {exc}); overlay on the thumbnail"
    if sha256 and hashlib.sha256(data).hexdigest() != sha256:
        return None, "source changed since the scan; overlay on the thumbnail"
    try:
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
    except OSError as exc:
        return None, f"source not decodable ({exc}); overlay on the thumbnail"
    if rgb.shape[:2] != shape:
        return None, f"source is {rgb.shape[1]}x{rgb.shape[0]}, the map {shape[1]}x{shape[0]}; overlay on the thumbnail"
    return rgb, "source"


def export_images(store: str | os.PathLike, image_ids: list[str], out: str | os.PathLike) -> list[Exported]:
    """Write, per image, ``<key>-map.tif`` (float32 scores), ``-heat.png``, ``-overlay.png`` and,
    when the source can be read unchanged, ``-source.png``, all at the image's full size.
    ``image_ids`` may be unique tails of ids (``img_05.png``); Refused names the unknown ones."""
    if not (Path(store) / "zarr.json").exists():
        raise Refused(f"{os.fspath(store)} is not a scan store")
    images = StoreImages(store)
    # Every id is resolved before anything is written: a refusal leaves no half-done export.
    resolved, unknown = [], []
    for asked in image_ids:
        try:
            resolved.append(images.resolve(asked))
        except Refused as exc:
            unknown.append(str(exc))
    if unknown:
        raise Refused("; ".join(unknown))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for image_id in resolved:
        m, thumb = images.load(image_id)  # Refused for a lost map
        group, row = images.where[image_id]
        g = images.root[group]
        path, sha = str(g["path"][row]), str(g["sha256"][row])
        rgb, source = _source_rgb(path, sha, m.shape)
        pics = draw(m, rgb if rgb is not None else thumb)
        key = picture_key(image_id, sha)
        files = {f"{key}-map.tif": Image.fromarray(m.astype(np.float32), mode="F"),
                 f"{key}-heat.png": pics.heat, f"{key}-overlay.png": pics.overlay}
        if rgb is not None:
            files[f"{key}-source.png"] = Image.fromarray(rgb)
        for name, picture in files.items():
            picture.save(out / name)
        done.append(Exported(image_id, sorted(str(out / n) for n in files), source))
    return done
