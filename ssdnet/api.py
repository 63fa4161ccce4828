"""``ssdnet.detect``: one image in, one heatmap at the image's own resolution out."""
from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .config import Config, ConfigError, resolve
from .features import Extractor, build_extractor
from .fit import fit_many
from .imageio import ImageSource, load_image, working_shape
from . import tiling
from .predict import heatmap_and_share, local_fills


@dataclass
class Result:
    map: np.ndarray  # float32 (H, W), the original image's height x width
    score_max: float
    score_p99: float
    score_mean: float
    seconds: float
    config: Config
    feature_extractor: str
    # Share of the texture map in the heatmap, 0..1: 1 = regular texture, 0 = random surface
    # (docs/METHOD.md, heatmap step 5).
    texture_share: float
    fit_seconds: float = float("nan")  # of ``seconds``: the network's fit
    heatmap_seconds: float = float("nan")  # of ``seconds``: the heatmap from the fitted network

    def summary(self) -> dict[str, Any]:
        return {"score_max": self.score_max, "score_p99": self.score_p99, "score_mean": self.score_mean,
                "texture_share": self.texture_share, "seconds": self.seconds, "fit_seconds": self.fit_seconds,
                "heatmap_seconds": self.heatmap_seconds, "feature_extractor": self.feature_extractor}

    def __repr__(self) -> str:
        # The map is summarised: its repr would print the whole array.
        h, w = self.map.shape
        return (f"Result(map=<{h}x{w} {self.map.dtype}>, score_max={self.score_max:.4g}, "
                f"texture_share={self.texture_share:.3g}, seconds={self.seconds:.3g}, "
                f"config=<preset {self.config.preset!r}>)")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name}: CUDA is not available on this machine")
    return torch.device(name)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (0: leave as is), restoring the previous count."""
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_EXTRACTORS: dict[tuple, Extractor] = {}


def get_extractor(cfg: Config, channels: int, device: torch.device) -> Extractor:
    """Extractors are fixed, so one per (name, channels, device) is kept per process."""
    key = (cfg.features, channels, str(device), cfg.vgg19_weights)
    if key not in _EXTRACTORS:
        _EXTRACTORS[key] = build_extractor(cfg.features, channels, cfg.vgg19_weights).to(device).eval()
    return _EXTRACTORS[key]


def to_working(image: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    h, w, _ = image.shape
    x = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).to(device)
    wh, ww = working_shape(h, w, size)
    if (wh, ww) != (h, w):
        x = F.interpolate(x, size=(wh, ww), mode="area")
    return x[0]


def map_for_array(image: np.ndarray, cfg: Config) -> np.ndarray:
    """The heatmap of a decoded image (H, W, C) float32, at its own resolution."""
    return map_for_arrays([image], cfg)[0]


def map_for_arrays(images: list[np.ndarray], cfg: Config, pack: int = 1) -> list[np.ndarray]:
    """Heatmaps of several decoded images: :func:`maps_and_shares` without the shares."""
    return maps_and_shares(images, cfg, pack)[0]


def maps_and_shares(images: list[np.ndarray], cfg: Config, pack: int = 1,
                    on_map: Callable[[int], None] | None = None,
                    timings: dict[str, float] | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Heatmaps of several decoded images, fitting up to ``pack`` of them at once, and each
    image's texture share (the texture map's share in its heatmap, 0..1; with ``cfg.ensemble``
    = n the mean over its n networks, as its map is their mean).

    ``on_map(i)`` is called as soon as image ``i``'s map is made: a pack's maps come one by one
    after its joint fit, so a caller can report progress within a long pack. ``timings``, when
    given, gains the seconds spent in fits (``fit_seconds``) and in heatmaps (``heatmap_seconds``),
    measured with the device synchronised.

    An image whose shorter side exceeds ``cfg.tile_above`` (when set) is fitted at native
    resolution in overlapping tiles (:mod:`ssdnet.tiling`), which pack like images; its map is
    their blend and its share their mean.

    Packed fits need the same working shape and channel count, so images are grouped by
    those; within a group each image keeps its own network(s), patches and gradient; with
    ``cfg.ensemble`` = n a pack of K images fits K x n networks, all at once on CUDA and K at
    a time elsewhere. Maps of
    packed and single fits agree to float rounding (see tests/ssdnet/test_packed.py).
    """
    device = resolve_device(cfg.device)
    out: list[np.ndarray | None] = [None] * len(images)
    shares = [float("nan")] * len(images)
    with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
        # Late in the fit tiny values take the CPU's slow denormal path (5x slower measured).
        torch.set_flush_denormal(True)
        # What gets fitted: each image at working resolution, or a large one's native tiles
        # (ssdnet/tiling.py), each tile an image of its own to the fit and the packing.
        parts: list[tuple[int, torch.Tensor, tuple[int, int, int, int] | None]] = []
        canvases: dict[int, tuple[tiling.Canvas, list[int]]] = {}
        for i, im in enumerate(images):
            h, w = im.shape[:2]
            if tiling.needs_tiles(h, w, cfg.size, cfg.tile_above):
                native = to_working(im, max(h, w), device)  # as is: the shorter side is never resized up
                boxes = tiling.tile_boxes(h, w, cfg.size)
                canvases[i] = (tiling.Canvas(h, w, cfg.size, device), [len(boxes)])
                parts += [(i, native[:, y:y + th, x:x + tw], (y, x, th, tw)) for y, x, th, tw in boxes]
            else:
                parts.append((i, to_working(im, cfg.size, device), None))
        groups: dict[tuple, list[int]] = {}
        for n, (_, x, _) in enumerate(parts):
            groups.setdefault(tuple(x.shape), []).append(n)
        for members in groups.values():
            for start in range(0, len(members), max(1, pack)):
                chunk = members[start:start + max(1, pack)]
                extractor = get_extractor(cfg, parts[chunk[0]][1].shape[0], device)
                # Every part's ensemble members: member j uses seed + j.
                nets = [(n, cfg.seed + j) for n in chunk for j in range(cfg.ensemble)]
                # A GPU fits them all side by side. A CPU gains nothing from that: its packed
                # (grouped) convolutions are slower than plain ones (`accurate` took 2.2x
                # `fused`'s seconds packed, 1.86x one by one, docs/PERFORMANCE.md), so there
                # networks go len(chunk) at a time: one by one unless the caller packs images.
                per_call = len(nets) if device.type == "cuda" else len(chunk)
                models = []
                clock = _Clock(device, timings)
                for first in range(0, len(nets), per_call):
                    part = nets[first:first + per_call]
                    models += fit_many(torch.stack([parts[n][1] for n, _ in part]), cfg, extractor,
                                       [torch.Generator().manual_seed(seed) for _, seed in part],
                                       [seed for _, seed in part])
                clock.lap("fit_seconds")
                for k, n in enumerate(chunk):
                    i, x, box = parts[n]
                    own = models[k * cfg.ensemble:(k + 1) * cfg.ensemble]
                    # The local fills depend on the image alone: made once, shared by its networks.
                    fills = functools.cache(functools.partial(local_fills, x.unsqueeze(0), cfg))
                    maps, member_shares = zip(*(heatmap_and_share(m, x, cfg, extractor, fills) for m in own))
                    hm, share = torch.stack(maps).mean(0), float(np.mean(member_shares))
                    clock.lap("heatmap_seconds")
                    if box is not None:
                        canvas, left = canvases[i]
                        canvas.add(box, hm, share)
                        left[0] -= 1
                        if left[0]:
                            continue
                        hm, share = canvas.result()
                        del canvases[i]
                    out[i] = _to_original(hm, images[i].shape[:2])
                    shares[i] = share
                    if on_map is not None:
                        on_map(i)
    return out, shares  # type: ignore[return-value]


class _Clock:
    """Laps of work on ``device`` added to ``into`` (nothing, not even a sync, without it)."""

    def __init__(self, device: torch.device, into: dict[str, float] | None):
        self.device, self.into = device, into
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        if self.into is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.into[name] = self.into.get(name, 0.0) + now - self.last
        self.last = now


def _to_original(hm: torch.Tensor, shape: tuple[int, int]) -> np.ndarray:
    if tuple(hm.shape) != tuple(shape):
        hm = F.interpolate(hm[None, None], size=shape, mode="bilinear", align_corners=False)[0, 0]
    return hm.float().cpu().numpy().astype(np.float32)


def map_scores(m: np.ndarray) -> tuple[float, float, float]:
    """(score_max, score_p99, score_mean) of a heatmap: the scores every result reports."""
    return float(m.max()), float(np.percentile(m, 99)), float(m.mean())


def detect(image: ImageSource, config: Config | dict | None = None, **overrides: Any) -> Result:
    """Fit SSDnet to one image and return its anomaly heatmap.

    ``image`` is a path, bytes, a file object, a PIL image or an array (H, W[, C]).
    ``config`` and keyword overrides follow :func:`ssdnet.config.resolve`.
    Raises :class:`ssdnet.ImageError` for input that cannot be analysed.
    """
    cfg = resolve(config, **overrides)
    start = time.perf_counter()
    arr = load_image(image, cfg.max_pixels)
    timings: dict[str, float] = {}
    (m,), (share,) = maps_and_shares([arr], cfg, timings=timings)
    smax, sp99, smean = map_scores(m)
    return Result(map=m, score_max=smax, score_p99=sp99, score_mean=smean,
                  seconds=time.perf_counter() - start, config=cfg, feature_extractor=cfg.features,
                  texture_share=share, fit_seconds=timings["fit_seconds"],
                  heatmap_seconds=timings["heatmap_seconds"])
