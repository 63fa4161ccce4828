"""From a fitted network to the anomaly heatmap (working resolution)."""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .config import MAP_UNITS_POWER, Config
from .features import Extractor
from .fit import autocast
from .model import UNet


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    radius = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    # Reflect padding needs pad < size; replicate is the safe fallback on tiny maps.
    mode = "reflect" if radius < min(x.shape[-2:]) else "replicate"
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode=mode), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.conv2d(F.pad(x, (0, 0, radius, radius), mode=mode), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return x


def reconstruction_error(model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, factors: list[int]) -> torch.Tensor:
    """Pixel L2 error of the clean input's reconstruction, averaged over downscale factors.

    Coarser factors see a defect with more context around it, finer ones keep its edges.
    """
    h, w = image.shape[-2:]
    maps = []
    for f in factors:
        x = image if f == 1 else F.interpolate(image, scale_factor=1 / f, mode="area")
        if min(x.shape[-2:]) < 4:
            continue
        err = (model(x) - x).pow(2).mean(1, keepdim=True)
        if f != 1:
            err = F.interpolate(err, size=(h, w), mode="bilinear", align_corners=False)
        maps.append(err)
    return torch.stack(maps).mean(0)


def checkerboard_masks(h: int, w: int, block: int, device: torch.device) -> torch.Tensor:
    """Four masks (4, 1, H, W) that each blank a quarter of the blocks and together cover all."""
    by = (torch.arange(h, device=device) // block) % 2
    bx = (torch.arange(w, device=device) // block) % 2
    phase = by[:, None] * 2 + bx[None, :]
    return torch.stack([(phase == k).float() for k in range(4)]).unsqueeze(1)


def median_fill(image: torch.Tensor, masks: torch.Tensor, window: int, cell: int = 4,
                chunk: int = 4096) -> torch.Tensor:
    """Per mask, each pixel's fill: the median of the visible pixels in a ``window`` around it.

    ``image`` (1, C, H, W), ``masks`` (K, 1, H, W) with 1 = hidden; returns (K, C, H, W). Worked
    out on ``cell`` x ``cell`` averaged cells (blocks of 4 px or more are whole cells), so a
    window is a few hundred cells at most, and in bands of about ``chunk`` cell positions, so
    the unfolded windows stay small on large images. A median, not a mean: a step in brightness
    (an object's contour, a painted stripe) does not spread into the fill, and a defect in the
    surroundings does not shift it. A window with no visible cell falls back to the image mean.
    """
    h, w = image.shape[-2:]
    c, k = image.shape[1], masks.shape[0]
    coarse = F.avg_pool2d(image, cell, ceil_mode=True)  # (1, C, h', w')
    visible = (F.avg_pool2d(1 - masks, cell, ceil_mode=True) > 0.5).float()  # (K, 1, h', w')
    ch, cw = coarse.shape[-2:]
    cells = max(1, round(window / cell)) | 1  # odd, so the window is centred on its cell
    r = cells // 2
    coarse = F.pad(coarse, (r, r, r, r), mode="replicate")
    visible = F.pad(visible, (r, r, r, r))
    mean = float(image.mean())
    out = torch.empty(k, c, ch, cw, device=image.device)
    rows = max(1, chunk // cw)
    for y in range(0, ch, rows):
        band = slice(y, min(ch, y + rows) + 2 * r)  # the band's rows and their windows' margin
        values = F.unfold(coarse[:, :, band], cells).view(1, c, cells * cells, -1)
        seen = F.unfold(visible[:, :, band], cells).view(k, 1, cells * cells, -1) > 0.5
        med = values.expand(k, -1, -1, -1).masked_fill(~seen, float("nan")).nanmedian(2).values
        out[:, :, y:y + rows] = med.nan_to_num(nan=mean).view(k, c, -1, cw)
    return F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)


def inpainted(model: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, blocks: list[int],
              fill: torch.Tensor | None = None) -> list[torch.Tensor]:
    """The image rebuilt from its surroundings, one composite (1, C, H, W) per block size.

    Every block is hidden once (four checkerboard masks) and predicted from the visible
    blocks; the composite puts the predictions of the hidden blocks together. A hidden block
    is filled with the image mean, or with ``fill`` (4, C, H, W), a local fill made for the
    masks of the one block size given (:func:`local_fills`): training fills a block with its
    patch's mean, a local level.
    """
    h, w = image.shape[-2:]
    out = []
    for b in blocks:
        masks = checkerboard_masks(h, w, b, image.device)
        hidden = image * (1 - masks) + (image.mean(dim=(2, 3), keepdim=True) if fill is None else fill) * masks
        out.append((model(hidden) * masks).sum(0, keepdim=True))
    return out


def structural_error(composites: list[torch.Tensor], image: torch.Tensor, extractor: Extractor) -> torch.Tensor:
    """1 - the extractor's cosine between each composite and the image, averaged over block sizes."""
    return torch.stack([1.0 - extractor.cosine_map(c, image) for c in composites]).mean(0)


def intensity_error(composites: list[torch.Tensor], image: torch.Tensor) -> torch.Tensor:
    """Squared difference between each composite and the image (mean over channels), averaged."""
    return torch.stack([(c - image).pow(2).mean(1, keepdim=True) for c in composites]).mean(0)


def local_fills(x: torch.Tensor, cfg: Config) -> list[torch.Tensor]:
    """The surface map's local fills of ``x`` (1, C, H, W): one :func:`median_fill` per window of
    ``surface_windows``, for the masks of the largest inpainting block. They depend on the image
    alone, so the networks of an ensemble share them."""
    masks = checkerboard_masks(*x.shape[-2:], max(cfg.inpaint_block_list), x.device)
    return [median_fill(x, masks, window) for window in cfg.surface_window_list]


def predictability(structural: torch.Tensor) -> float:
    """How well the image's local structure is predicted from its surroundings: the median
    local correlation between inpainted and real image (1 - median structural error). The
    heatmap measures it on both images lightly blurred (``gate_sigma``, :func:`gate_share`).

    A regular texture (a woven grid) is predictable, 0.65-0.8 on mvtec_ad_grid through that blur
    (0.4-0.6 without); a random surface (asphalt, steel, a nut on a plain background) is not,
    about 0.25 or less: there the local correlation compares noise with noise, and its error
    says nothing about defects.
    """
    return 1.0 - float(structural.median())


def gate_predictability(composites: list[torch.Tensor], image: torch.Tensor, extractor: Extractor,
                        sigma: float) -> float:
    """:func:`predictability` of the composites (:func:`inpainted`) and the image, both blurred by ``sigma``.

    Noise the network does not reproduce (sensor noise, dead pixels) lowers the correlation of
    a regular texture although its structure is intact; a light blur removes the noise and
    keeps the structure, while a random surface stays unpredictable (its composite is about
    its fill, which no blur correlates with the surface).
    """
    blurred = [gaussian_blur(c, sigma) for c in composites]
    return predictability(structural_error(blurred, gaussian_blur(image, sigma), extractor))


def gate_share(composites: list[torch.Tensor], image: torch.Tensor, extractor: Extractor, cfg: Config) -> float:
    """The texture map's share in the heatmap: :func:`texture_weight` of the predictability
    measured through the ``gate_sigma`` blur (:func:`gate_predictability`)."""
    q = gate_predictability(composites, image, extractor, cfg.gate_sigma)
    return texture_weight(q, cfg.gate_low, cfg.gate_high)


def texture_weight(q: float, low: float, high: float) -> float:
    """Share of the texture map in the heatmap of an image of predictability ``q``."""
    if q >= high:
        return 1.0
    if q <= low:
        return 0.0
    return (q - low) / (high - low)


def robust_z(m: torch.Tensor) -> torch.Tensor:
    """(m - median) / MAD over the image: each error map in units of its own typical spread."""
    med = m.median()
    mad = (m - med).abs().median().clamp_min(1e-12)
    return (m - med) / mad


def border_calibrate(m: torch.Tensor, width: int, floor: float = 0.0) -> torch.Tensor:
    """Bring the pixels within ``width`` of the image edge down to the interior's level.

    A fitted network's errors run higher along the image edge (measured on the good grid
    images: 1.3-1.6x the interior mean in the outer 4 pixels), and a smoothed, z-scored map
    turns that band into false alarms on every image. Each line of pixels at the same
    distance from the same side is divided by its own median and multiplied by the
    interior's: a line is long and a defect covers little of it, so its median measures the
    edge effect, not the defect, and a defect that touches the edge still stands out within
    its line. Sides are treated apart because lighting or framing can differ per side. A line
    quieter than the interior is left alone: scaling it up (a flat dark background, whose
    median error is near zero) would turn its noise into false alarms.
    """
    h, w = m.shape[-2:]
    width = min(width, (min(h, w) - 1) // 2)
    if width <= 0:
        return m
    ys = torch.arange(h, device=m.device)[:, None].expand(h, w)
    xs = torch.arange(w, device=m.device)[None, :].expand(h, w)
    sides = torch.stack([ys, h - 1 - ys, xs, w - 1 - xs])  # distance to top, bottom, left, right
    dist, side = sides.min(0)
    group = torch.where(dist < width, side * width + dist, -1).flatten()
    # The band's pixels sorted by line once: each line's median is then taken on its own slice,
    # not found by scanning the whole map once per line (4 x width scans).
    band = (group >= 0).nonzero().squeeze(1)
    band = band[group[band].argsort(stable=True)]
    counts = torch.bincount(group[band], minlength=4 * width).tolist()
    flat = m.reshape(-1, h * w)
    out = flat.clone()
    for i in range(flat.shape[0]):
        interior = flat[i][group < 0].median().clamp_min(1e-12)
        medians = torch.stack([flat[i][line].median() for line in band.split(counts)])
        # Only ever scaled down: a quiet line (a dark background's edge) must not be blown up.
        factor = (interior / medians.clamp_min(1e-12)).clamp(min=floor, max=1.0)
        out[i][band] = flat[i][band] * factor[group[band]]
    return out.reshape(m.shape)


def calibrated(m: torch.Tensor, border: int, sigma: float, floor: float = 0.0) -> torch.Tensor:
    """An error map edge-calibrated, then smoothed: the first steps of every map the heatmap uses."""
    return gaussian_blur(border_calibrate(m, border, floor), sigma)


def ratio_to_mean(m: torch.Tensor) -> torch.Tensor:
    """The map in units of its own image-wide mean: 3 means three times the image's typical error."""
    return m / m.mean().clamp_min(1e-12)


def ratio_to_median(m: torch.Tensor) -> torch.Tensor:
    """The map in units of its own median: unlike the mean, not raised by a defect that covers
    much of the image."""
    return m / m.median().clamp_min(1e-12)


def aggregate(pixel: torch.Tensor, perceptual: torch.Tensor, how: str, sigma: float, border: int = 0,
              floor: float = 0.0) -> torch.Tensor:
    """Combine the two error maps (each (1, 1, H, W)) into the smoothed anomaly map.

    Both maps are first edge-calibrated and smoothed. ``meanmax`` (default): each is divided
    by its own image-wide mean and the two are joined by their pointwise maximum. The two maps
    fail on different defects: the pixel error misses a defect of normal texture that the
    network copies (a loose thread on the grid: pixel AUROC 0.25, perceptual 0.96), the
    perceptual error is weak on a change of intensity with intact texture, so a union keeps
    both kinds; dividing by the mean puts both on one scale and makes images comparable
    (pooled metrics, archive-level flags). ``zmax`` uses robust z-scores ((m - median) / MAD)
    instead: as good on a uniform texture, but where half the image is a flat background the
    MAD is tiny and the whole object lights up (hazelnut_toy AUPRC 0.59 vs 0.72).
    ``medianmax`` divides by the median instead of the mean; ``zmean`` averages the z-scores;
    ``product`` multiplies the raw maps (the reference recipe: it removes what only one map
    sees, and so also the defects only one map sees).
    """
    pixel = calibrated(pixel, border, sigma, floor)
    perceptual = calibrated(perceptual, border, sigma, floor).clamp_min(0)
    if how == "product":
        return pixel * perceptual
    if how == "meanmax":
        return torch.maximum(ratio_to_mean(pixel), ratio_to_mean(perceptual))
    if how == "medianmax":
        return torch.maximum(ratio_to_median(pixel), ratio_to_median(perceptual))
    p, q = robust_z(pixel), robust_z(perceptual)
    return torch.maximum(p, q) if how == "zmax" else 0.5 * (p + q)


def heatmap(model: UNet, image: torch.Tensor, cfg: Config, extractor: Extractor) -> torch.Tensor:
    """(H, W) anomaly map of ``image`` (C, H, W) at working resolution (see :func:`heatmap_and_share`)."""
    return heatmap_and_share(model, image, cfg, extractor)[0]


@torch.inference_mode()
def heatmap_and_share(model: UNet, image: torch.Tensor, cfg: Config, extractor: Extractor,
                      fills: Callable[[], list[torch.Tensor]] | None = None) -> tuple[torch.Tensor, float]:
    """(H, W) anomaly map of ``image`` (C, H, W) at working resolution, and the texture map's share in it.

    ``fills`` gives :func:`local_fills` of the image when the surface map needs them (a cached
    callable lets the networks of an ensemble share one computation); by default they are made
    here.

    Two maps, and a gate between them (docs/METHOD.md, "Texture or surface"): the texture map
    joins the clean-input pixel error and the structural inpainting error, smoothed widely; the
    surface map is the intensity inpainting error, smoothed little. Which one an image gets
    depends on how predictable its local structure is (:func:`predictability`): the share is
    1 for the texture map only, 0 for the surface map only, a blend in between.
    """
    x = image.unsqueeze(0)
    if x.device.type == "cpu":
        # On a CPU the channels-last layout of the weights spares the memory reordering around
        # every convolution (docs/PERFORMANCE.md); the maps stay equal within float32 rounding.
        model = model.to(memory_format=torch.channels_last)

    def net(t: torch.Tensor) -> torch.Tensor:
        with autocast(cfg, t.device):
            return model(t).float()

    composites = inpainted(net, x, cfg.inpaint_block_list)
    intensity = intensity_error(composites, x)
    share = gate_share(composites, x, extractor, cfg)
    out = torch.zeros_like(intensity)
    if share > 0:  # the clean-input pass and the structural error only serve the texture map
        pixel = reconstruction_error(net, x, cfg.infer_scale_list)
        structural = structural_error(composites, x, extractor)
        out = out + share * aggregate(pixel, structural, cfg.aggregation, cfg.smooth_sigma, cfg.border_width,
                                       cfg.border_floor)
    if share < 1:
        local = fills() if fills is not None else local_fills(x, cfg)
        out = out + (1 - share) * surface_map(net, x, intensity, local, cfg)
    power = MAP_UNITS_POWER[cfg.map_units]
    if power:
        # Every map above is in multiples of its own image's typical error, which dims an image the
        # network cannot rebuild anywhere (a defect over a third of it) next to a clean one; the
        # pooled metrics and the archive's flags compare images. Chosen under leave-one-set-out
        # (docs/RESULTS.md); the mean squared error is the intensity map's, already computed.
        out = out * intensity.mean() ** power
    return out[0, 0], share


def surface_map(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, intensity: torch.Tensor,
                fills: list[torch.Tensor], cfg: Config) -> torch.Tensor:
    """The intensity inpainting error under each fill, each over its image mean, averaged.

    ``intensity`` is the image-mean fill's error (the pass the gate already ran); each of
    ``fills`` (:func:`local_fills`: blocks filled by the median of their surroundings, largest
    inpainting block only, as the block size barely changes this map) adds its own. The fills
    see defects of different sizes: a local level keeps a thin crack apart from uneven lighting
    or a painted stripe; the image mean keeps a defect larger than the window whole. With
    ``surface_level`` the local fills' level maps (:func:`level_error`), averaged, join as one
    more map: a faint stain whose shift is below the surface's grain. With ``surface_grain`` the
    grain map (:func:`grain_error`) joins too, weighted by how strong the image's typical grain
    is (:data:`GRAIN_RAMP`): a region whose grain runs across a ground surface's streaks. With
    ``surface_contrast`` the contrast map (:func:`contrast_error`) joins at its weight: a region
    rougher or smoother than the rest of the surface. With ``surface_region`` the region map
    (:func:`region_error`) joins at its weight too: a wider neighbourhood whose statistics
    together depart from the surface's. ``surface_weights`` weighs these four maps against the
    inpainting errors' weight 1 each.
    """
    def in_units(m: torch.Tensor) -> torch.Tensor:
        return ratio_to_mean(calibrated(m, cfg.border_width, cfg.surface_sigma, cfg.border_floor))

    level_w, grain_w, contrast_w, region_w = cfg.surface_weight_list  # 0: that map is not made
    maps = [in_units(intensity)]
    levels = []
    block = max(cfg.inpaint_block_list)
    for fill in fills:
        (composite,) = inpainted(net, x, [block], fill)
        maps.append(in_units(intensity_error([composite], x)))
        if cfg.surface_level > 0 and level_w > 0:
            levels.append(in_units(level_error(composite, x, cfg.surface_level)))
    weights = [1.0] * len(maps)
    if levels:  # one map, the fills' level maps averaged: one level map per fill cost hazelnut_toy more
        maps.append(torch.stack(levels).mean(0))
        weights.append(level_w)
    if cfg.surface_grain > 0 and grain_w > 0:
        # Only where the surface has a typical grain to depart from (a ground tile's streaks): on
        # an isotropic surface (a nut on a plain background) every outline would stand out.
        grain, strength = grain_error(x, cfg.surface_grain)
        weight = texture_weight(strength, *GRAIN_RAMP)
        if weight > 0:
            maps.append(in_units(grain))
            weights.append(grain_w * weight)
    if cfg.surface_contrast > 0 and contrast_w > 0:
        maps.append(in_units(contrast_error(x, cfg.surface_contrast)))
        weights.append(contrast_w)
    if cfg.surface_region > 0 and region_w > 0:
        maps.append(in_units(region_error(x, cfg.surface_region)))
        weights.append(region_w)
    w = torch.tensor(weights, dtype=intensity.dtype, device=intensity.device).view(-1, 1, 1, 1, 1)
    return (torch.stack(maps) * w).sum(0) / w.sum()


def level_error(composite: torch.Tensor, image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Squared local mean of the signed residual (image - composite), mean over channels.

    The squared error of each pixel holds the surface's grain, which a faint stain (a region
    a little brighter, its grain flattened) does not exceed; averaged before squaring, the
    grain cancels over a ``sigma`` neighbourhood and the region's shift stays.
    """
    return gaussian_blur(image - composite, sigma).pow(2).mean(1, keepdim=True)


# The typical grain's strength (:func:`grain_error`) below which the grain map has no weight in
# the surface map and above which it has a full one, linear in between. On the development
# images (bench/grain_strength.py, sigma 4): hazelnut_toy 0.01-0.08, crackforest 0.04-0.19,
# neu_seg 0.05-0.44, magnetic_tile 0.23-0.63.
GRAIN_RAMP = (0.1, 0.3)


def grain_vector(image: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The local grain of the gray image as a vector field (a, b), each (1, 1, H, W).

    The structure tensor (the gradients' outer products, Gaussian-smoothed by ``sigma``) as
    (Jxx - Jyy, 2 Jxy) / (Jxx + Jyy): its angle is twice the dominant direction, its length the
    coherence (0 isotropic, 1 one direction).
    """
    g = image.mean(1, keepdim=True)
    gx = F.pad(g[..., :, 2:] - g[..., :, :-2], (1, 1, 0, 0), mode="replicate")
    gy = F.pad(g[..., 2:, :] - g[..., :-2, :], (0, 0, 1, 1), mode="replicate")
    jxx, jyy, jxy = (gaussian_blur(t, sigma) for t in (gx * gx, gy * gy, gx * gy))
    trace = (jxx + jyy).clamp_min(1e-12)
    return (jxx - jyy) / trace, 2 * jxy / trace


def grain_error(image: torch.Tensor, sigma: float) -> tuple[torch.Tensor, float]:
    """How far the local grain differs from the image's typical grain (1, 1, H, W), and how
    strong that typical grain is (0..1).

    The map is the squared distance of each pixel's :func:`grain_vector` from the image's median
    vector: a chipped region whose scratches run across a ground surface's streaks, or a smooth
    patch among them. The median vector's length says how much of a typical grain there is to
    depart from.
    """
    a, b = grain_vector(image, sigma)
    a0, b0 = a.median(), b.median()
    return (a - a0).pow(2) + (b - b0).pow(2), float(torch.hypot(a0, b0))


# The detail whose energy the contrast map measures: the gray image minus its Gaussian blur of
# this sigma (working px), the finest grain. Chosen with the map on the development images
# (docs/RESULTS.md, "Rough or smooth regions: the contrast map").
CONTRAST_DETAIL = 1.0


def log_contrast(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """The local contrast's log ratio to the image's median contrast (1, 1, H, W): above 0
    rougher than the typical surface, below 0 smoother.

    The local contrast is the energy of the gray image's finest detail (the image minus its
    :data:`CONTRAST_DETAIL` blur, squared), Gaussian-smoothed by ``sigma``.
    """
    g = image.mean(1, keepdim=True)
    energy = gaussian_blur((g - gaussian_blur(g, CONTRAST_DETAIL)).pow(2), sigma).clamp_min(1e-12)
    return (energy / energy.median()).log()


def contrast_error(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """How far the local contrast departs from the image's typical contrast (1, 1, H, W): the
    squared :func:`log_contrast`, so a region twice as rough and one half as rough depart alike
    (a band of stronger grinding streaks on a ground tile, a smooth frayed patch, a colour spot
    on a plain nut). Like the grain map it reads the image alone and holds what a reconstruction
    error does not: a region of intact but other grain is predicted well from its own
    surroundings.
    """
    return log_contrast(image, sigma).pow(2)


# The share of pixels, those nearest the image's typical neighbourhood, whose spread the region
# map measures distances in: the rest are the candidates for defects, left out so that a large
# region does not widen the spread it is measured against.
REGION_INLIERS = 0.8


def region_error(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """How far each pixel's neighbourhood departs from the image's typical neighbourhood in its
    statistics taken together (1, 1, H, W): a robust Mahalanobis distance.

    Three statistics over a Gaussian neighbourhood of ``sigma``: the roughness
    (:func:`log_contrast`) and the grain (:func:`grain_vector`'s two components). Each is centred
    on its image median and scaled by its median absolute deviation; their covariance comes from
    the :data:`REGION_INLIERS` pixels nearest the centre. Where the contrast and grain maps each
    see one statistic at a fine scale, this map weighs them against their joint spread over a
    wider neighbourhood, so a region a little rougher and of a little other grain at once departs
    further than either statistic alone says (docs/RESULTS.md, "Regions: the region map").
    """
    stats = torch.cat([log_contrast(image, sigma), *grain_vector(image, sigma)], 1).flatten(2)[0]
    centre = stats.median(1, keepdim=True).values
    spread = 1.4826 * (stats - centre).abs().median(1, keepdim=True).values + 1e-6
    z = (stats - centre) / spread
    d0 = z.pow(2).sum(0)
    # torch.quantile refuses more than 16 M values: above 100 k pixels a strided subsample of
    # 100-200 k of them sets the cut.
    cut = torch.quantile(d0[:: max(1, d0.numel() // 100_000)], REGION_INLIERS)
    inliers = z[:, d0 <= cut]
    # A small ridge keeps the solve defined on a flat image, where every statistic is constant.
    cov = inliers @ inliers.T / max(1, inliers.shape[1]) + 1e-3 * torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
    return (z * torch.linalg.solve(cov, z)).sum(0).view(1, 1, *image.shape[-2:])
