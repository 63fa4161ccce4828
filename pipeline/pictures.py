"""Pictures of one stored image: its thumbnail, heatmap and overlay with the hottest region outlined.

Maps are stored at full resolution, thumbnails at most 256 px: pictures are drawn at the map's
resolution (capped by ``max_side``) with the thumbnail upscaled, so small hot spots keep their
shape. Colours run from the map's median (its background) to its maximum: relative within one
image, like ``ssdnet detect``'s overlays; images are compared by their scores, not colours.
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import zarr
from PIL import Image
from scipy import ndimage

from ssdnet.overlay import colormap, normalise

from pipeline.exitcodes import Refused
from pipeline.integrity import MAP_CRC, NO_CRC, lost_map, lost_map_message, refuse_damage
from pipeline.ids import UnknownId, match_id
from pipeline.layout import STATUS, quiet_zarr

OUTLINE_RGB = (0, 255, 255)
ALPHA = 0.5
# Bumped when the drawing changes: names then change, and old files are not reused.
STYLE = "v1"


@dataclass
class Region:
    """The hottest region: the connected area around the maximum above half of (max - median)."""
    level: float
    x0: int
    y0: int
    x1: int
    y1: int
    pixels: int


class StoreImages:
    """Maps and thumbnails of a store by image id; one pass over the ids, then direct reads."""

    def __init__(self, store: str | os.PathLike):
        self.path = os.fspath(store)
        with quiet_zarr(), refuse_damage(self.path):
            self.root = zarr.open_group(self.path, mode="r")
            self.where: dict[str, tuple[str, int]] = {}
            self.crc: dict[str, np.ndarray] = {}  # each group's map_crc32, checked per map served
            for name in sorted(self.root.group_keys()):
                g = self.root[name]
                if "anomaly_map" not in g:
                    continue
                with refuse_damage(self.path, arr=g["image"]):
                    ids = g["image"][:]
                with refuse_damage(self.path, arr=g[STATUS]):
                    status = g[STATUS][:]
                if MAP_CRC in g:
                    with refuse_damage(self.path, arr=g[MAP_CRC]):
                        self.crc[name] = np.asarray(g[MAP_CRC][:])
                for row, (iid, st) in enumerate(zip(ids, status)):
                    if st == "ok":
                        self.where[str(iid)] = (name, row)

    def resolve(self, image_id: str) -> str:
        """The stored id that ``image_id`` names: itself, or the one id whose path ends with it
        (:func:`pipeline.ids.match_id`); Refused for an id without a map."""
        if image_id in self.where:
            return image_id
        try:
            return match_id(image_id, self.where, "image id with a map")
        except UnknownId as exc:
            raise Refused(str(exc)) from None

    def load(self, image_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(map float32 (H, W), thumbnail uint8 (ty, tx, 3)); Refused for an id without a map.
        ``image_id`` may be the tail of an id's path (:func:`pipeline.ids.match_id`)."""
        image_id = self.resolve(image_id)
        name, row = self.where[image_id]
        g = self.root[name]
        maps, thumbs = g["anomaly_map"], g["thumbnail"]
        with quiet_zarr():
            with refuse_damage(self.path, f"image {image_id}: map chunk of row {row} in {maps.path}"):
                stored = maps[row]
            crc = int(self.crc[name][row]) if name in self.crc else NO_CRC
            lost = lost_map(self.path, name, row, stored, crc, str(maps.dtype))
            if lost:
                raise Refused(lost_map_message(image_id, self.path, lost))
            with refuse_damage(self.path, f"image {image_id}: thumbnail chunk of row {row} in {thumbs.path}"):
                thumb = np.asarray(thumbs[row])
            return np.asarray(stored, dtype=np.float32), thumb


def display_shape(shape: tuple[int, int], max_side: int | None, min_side: int = 0) -> tuple[int, int]:
    h, w = shape
    scale = 1.0 if not max_side else min(1.0, max_side / max(h, w))
    # Small maps are drawn larger so that the outline stays thin next to the region it marks.
    scale = max(scale, min_side / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_map(m: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if m.shape == shape:
        return m
    smaller = shape[0] < m.shape[0]
    how = Image.Resampling.BOX if smaller else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(m.astype(np.float32)).resize(shape[::-1], how))


def hottest_region(m: np.ndarray) -> tuple[np.ndarray, Region]:
    """The region's mask and extent (in ``m``'s pixels)."""
    peak = np.unravel_index(int(np.argmax(m)), m.shape)
    median, top = float(np.median(m)), float(m[peak])
    level = median + 0.5 * (top - median)
    labels, _ = ndimage.label(m >= level)
    mask = labels == labels[peak]
    ys, xs = np.nonzero(mask)
    return mask, Region(level, int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1, int(mask.sum()))


def outline(mask: np.ndarray) -> np.ndarray:
    """The mask's border, two pixels wide so it stays visible when the picture is scaled down."""
    edge = mask & ~ndimage.binary_erosion(mask, border_value=0)
    return ndimage.binary_dilation(edge, iterations=1) if min(mask.shape) >= 32 else edge


@dataclass
class Pictures:
    thumb: Image.Image
    heat: Image.Image
    overlay: Image.Image
    region: Region
    lo: float
    hi: float


def draw(m: np.ndarray, thumb: np.ndarray, max_side: int | None = None, min_side: int = 0) -> Pictures:
    """Thumbnail, heatmap and outlined overlay of one image at its display size."""
    shape = display_shape(m.shape, max_side, min_side)
    heat = resize_map(m, shape)
    lo, hi = float(np.median(m)), float(np.max(m))
    colour = colormap(normalise(heat, lo, hi))
    base = np.asarray(Image.fromarray(thumb).resize(shape[::-1], Image.Resampling.BILINEAR), dtype=np.float32)
    over = (base * (1 - ALPHA) + colour.astype(np.float32) * ALPHA + 0.5).astype(np.uint8)
    mask, region = hottest_region(heat)
    over[outline(mask)] = OUTLINE_RGB
    sy, sx = m.shape[0] / shape[0], m.shape[1] / shape[1]
    # Report the region in the map's own pixels, whatever size it was drawn at.
    region = Region(region.level, int(region.x0 * sx), int(region.y0 * sy), int(np.ceil(region.x1 * sx)),
                    int(np.ceil(region.y1 * sy)), int(round(region.pixels * sx * sy)))
    return Pictures(Image.fromarray(thumb), Image.fromarray(colour), Image.fromarray(over), region, lo, hi)


def picture_key(image_id: str, sha256: str) -> str:
    """A file-name-safe, unique name: readable stem plus a hash of id, content and drawing style."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id.rsplit("/", 1)[-1])[:40]
    digest = hashlib.sha1(f"{image_id}\0{sha256}\0{STYLE}".encode()).hexdigest()[:12]
    return f"{stem}-{digest}"


def write_once(path: Path, make) -> bool:
    """Write ``make()`` (a PIL image) to ``path`` unless it exists; True when written."""
    if path.exists():
        return False
    tmp = path.with_name(path.name + ".tmp")
    make().save(tmp, format="PNG")
    os.replace(tmp, path)
    return True


def save_overlay(store: str | os.PathLike, image_id: str, out: str | os.PathLike) -> Region:
    """``ssdnet show``: one image's overlay at the map's full resolution, outline included."""
    if not (Path(store) / "zarr.json").exists():
        raise Refused(f"{os.fspath(store)} is not a scan store")
    m, thumb = StoreImages(store).load(image_id)
    pics = draw(m, thumb)
    pics.overlay.save(out, format="PNG")
    return pics.region
