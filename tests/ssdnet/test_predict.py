import math
import pytest
import torch

import ssdnet
from ssdnet.features import build_extractor
from ssdnet.model import UNet
from ssdnet.predict import (GRAIN_RAMP, aggregate, border_calibrate, calibrated, checkerboard_masks, contrast_error,
                            gate_share, gaussian_blur, grain_error, heatmap, heatmap_and_share, inpainted,
                            intensity_error, level_error, log_contrast, median_fill, predictability, ratio_to_mean,
                            reconstruction_error, region_error, structural_error, texture_weight)


def _edge_heavy(h: int = 64, w: int = 80) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    m = torch.rand(1, 1, h, w, generator=gen) + 1.0
    m[..., :3, :] *= 3.0  # an edge effect on the top three rows
    m[..., :, -2:] *= 2.0
    return m


def test_border_calibration_flattens_an_edge_band():
    m = _edge_heavy()
    out = border_calibrate(m, 8)
    interior = out[..., 8:-8, 8:-8].median()
    for ring in (out[..., 0, 8:-8], out[..., 2, 8:-8], out[..., 8:-8, -1]):
        assert abs(float(ring.median() / interior) - 1.0) < 0.05
    # the raw map's top row is three times the interior
    assert float(m[..., 0, 8:-8].median() / m[..., 8:-8, 8:-8].median()) > 2.5


def test_a_defect_touching_the_edge_still_stands_out():
    m = _edge_heavy()
    m[..., 0:4, 30:36] += 20.0
    out = border_calibrate(m, 8)
    inside = out[..., 0:4, 30:36].min()
    elsewhere = torch.cat([out[..., 0:4, :28].flatten(), out[..., 0:4, 38:].flatten()])
    assert inside > elsewhere.max()


def test_the_floor_limits_how_far_a_noisy_edge_line_is_scaled_down():
    m = _edge_heavy()
    m[..., 0, :] *= 10.0  # a bevel: the top row thirty times the interior, its content and not an edge effect
    m[..., 0, 30:34] += 100.0  # a blowhole on it
    m[..., 20:40, 40] = 8.0  # a bright streak inside: the interior's own largest errors
    interior = float(m[..., 8:-8, 8:-8].median())
    free, floored = border_calibrate(m, 8), border_calibrate(m, 8, floor=0.25)
    assert float(free[..., 0, 8:-8].median()) == pytest.approx(interior, rel=0.05)  # brought down all the way
    assert torch.allclose(floored[..., 0, 8:-8], m[..., 0, 8:-8] * 0.25)  # never below a quarter
    # A line three times the interior (factor 1/3) is above the floor: scaled as before.
    assert torch.equal(floored[..., 2, 8:-8], free[..., 2, 8:-8])
    # Brought all the way down, the blowhole sinks below the streak; floored, it stays above.
    assert float(free[..., 0, 30:34].max()) < 8.0 < float(floored[..., 0, 30:34].min())


def test_border_calibration_off_and_tiny_maps():
    m = _edge_heavy(8, 8)
    assert torch.equal(border_calibrate(m, 0), m)
    assert border_calibrate(m, 50).shape == m.shape  # width clamped to what the map allows
    assert torch.isfinite(border_calibrate(torch.zeros(1, 1, 5, 5), 2)).all()


def test_edge_band_no_longer_dominates_the_heatmap():
    m = _edge_heavy()
    raw = aggregate(m, m.clone(), "meanmax", 2.0, border=0)
    fixed = aggregate(m, m.clone(), "meanmax", 2.0, border=8)
    assert raw.flatten().argmax() // 80 < 3  # the raw maximum sits in the edge band
    assert fixed[..., :3, :].max() < raw[..., :3, :].max()


def test_a_quiet_edge_is_not_amplified():
    m = _edge_heavy()
    m[..., :, :4] *= 1e-3  # a dark, nearly error-free background along the left side
    out = border_calibrate(m, 8)
    assert torch.equal(out[..., 8:-8, :4], m[..., 8:-8, :4])


def test_medianmax_is_not_raised_by_a_defect_covering_much_of_the_image():
    large = torch.ones(1, 1, 64, 64)
    large[..., :, :24] = 5.0  # a defect over 37 % of the image, 5x the normal error
    by_mean = aggregate(large, large.clone(), "meanmax", 0.0)[0, 0]
    by_median = aggregate(large, large.clone(), "medianmax", 0.0)[0, 0]
    assert by_mean[32, 10] < 0.5 * 5.0  # the defect itself raises the mean and dilutes its score
    assert torch.isclose(by_median[32, 10], torch.tensor(5.0)) and torch.isclose(by_median[32, 40], torch.tensor(1.0))


def test_texture_weight_ramps_between_the_gates():
    assert texture_weight(0.1, 0.2, 0.4) == 0.0
    assert texture_weight(0.2, 0.2, 0.4) == 0.0
    assert abs(texture_weight(0.3, 0.2, 0.4) - 0.5) < 1e-9
    assert texture_weight(0.4, 0.2, 0.4) == 1.0
    assert texture_weight(0.5, 0.5, 0.5) == 1.0  # equal gates: a step
    assert texture_weight(-1.0, -1.0, -1.0) == 1.0  # -1, -1: the texture map always


def _stripes(h: int = 48, w: int = 48) -> torch.Tensor:
    ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    return (0.5 + 0.4 * torch.sin(ys * 1.3)).view(1, 1, h, w)


def _inpainting_errors(model, image, blocks, extractor=None, fill=None):
    """(structural, intensity) errors of one set of inpainted composites, as the heatmap makes them."""
    composites = inpainted(model, image, blocks, fill)
    structural = structural_error(composites, image, extractor) if extractor is not None else None
    return structural, intensity_error(composites, image)


def test_an_oracle_inpainting_is_fully_predictable_and_noise_is_not():
    image = _stripes()
    extractor = build_extractor("patchncc", 1)
    structural, intensity = _inpainting_errors(lambda t: image.expand_as(t), image, [4, 8], extractor)
    assert predictability(structural) > 0.95
    assert float(intensity.max()) == 0.0
    gen = torch.Generator().manual_seed(0)
    structural, intensity = _inpainting_errors(lambda t: torch.rand(t.shape, generator=gen), image, [4, 8], extractor)
    assert abs(predictability(structural)) < 0.2
    assert float(intensity.mean()) > 0.01


def test_the_gate_sees_a_regular_texture_through_dead_pixels_and_not_a_random_surface():
    clean = _stripes(64, 64)
    gen = torch.Generator().manual_seed(1)
    damaged = clean.masked_fill(torch.rand(clean.shape, generator=gen) < 0.2, 0.0)  # 20 % dead pixels
    extractor = build_extractor("patchncc", 1)
    # A network that rebuilds the texture and not the damage, as a fit on the damaged image does.
    composites = inpainted(lambda t: clean.expand_as(t), damaged, [4, 8])
    raw = predictability(structural_error(composites, damaged, extractor))
    blurred = predictability(structural_error([gaussian_blur(c, 1.0) for c in composites],
                                              gaussian_blur(damaged, 1.0), extractor))
    assert raw < 0.75 and blurred > raw + 0.15
    cfg = ssdnet.resolve(preset="fast")
    assert cfg.gate_sigma == 1.0
    assert gate_share(composites, damaged, extractor, cfg) == texture_weight(blurred, cfg.gate_low, cfg.gate_high)
    # A random surface: the composite is about its fill, and no blur makes it correlate.
    surface = 0.5 + 0.1 * torch.randn(1, 1, 64, 64, generator=gen)
    copy_fill = inpainted(lambda t: t, surface, [4, 8])
    assert gate_share(copy_fill, surface, extractor, cfg) == 0.0


def _reference_median_fill(image, masks, window, cell=4):
    """median_fill spelled out cell by cell in numpy (the reference its fast path must match)."""
    import numpy as np
    coarse = torch.nn.functional.avg_pool2d(image, cell, ceil_mode=True)[0].numpy()  # (C, h, w)
    visible = (torch.nn.functional.avg_pool2d(1 - masks, cell, ceil_mode=True) > 0.5)[:, 0].numpy()
    cells = max(1, round(window / cell)) | 1
    r = cells // 2
    c, h, w = coarse.shape
    padded = np.pad(coarse, ((0, 0), (r, r), (r, r)), mode="edge")
    out = np.zeros((masks.shape[0], c, h, w), np.float32)
    for k in range(masks.shape[0]):
        seen = np.pad(visible[k], r, constant_values=False)
        for y in range(h):
            for x in range(w):
                keep = seen[y:y + cells, x:x + cells]
                for ch in range(c):
                    values = padded[ch, y:y + cells, x:x + cells][keep]
                    # torch's median of an even count is the lower middle value
                    out[k, ch, y, x] = np.sort(values)[(len(values) - 1) // 2] if len(values) else image.mean()
    return torch.nn.functional.interpolate(torch.from_numpy(out), size=image.shape[-2:], mode="bilinear",
                                           align_corners=False)


def test_median_fill_matches_a_cell_by_cell_reference():
    gen = torch.Generator().manual_seed(3)
    image = torch.rand(1, 2, 36, 44, generator=gen)
    masks = checkerboard_masks(36, 44, 8, image.device)
    masks[0] = 1.0  # one mask hides everything: its fill falls back to the image mean
    fast = median_fill(image, masks, 20, chunk=7)  # small chunks: the chunking must not change the result
    assert torch.allclose(fast, _reference_median_fill(image, masks, 20), atol=1e-6)
    assert torch.allclose(fast[0], image.mean().expand(2, 36, 44))


def test_median_fill_keeps_a_brightness_step_apart():
    image = torch.full((1, 1, 64, 64), 0.2)
    image[..., 32:] = 0.8  # a contour: a mean of the surroundings would blur the two levels
    masks = checkerboard_masks(64, 64, 8, image.device)
    fill = median_fill(image, masks, 24)
    assert torch.allclose(fill[..., 8:24, :24], torch.tensor(0.2))
    assert torch.allclose(fill[..., 8:24, 40:], torch.tensor(0.8))


def _maps(cfg, model, x, extractor):
    """The two maps heatmap() blends, built here from the documented parts."""
    structural, intensity = _inpainting_errors(model, x[None], cfg.inpaint_block_list, extractor)
    pixel = reconstruction_error(model, x[None], cfg.infer_scale_list)
    texture = aggregate(pixel, structural, cfg.aggregation, cfg.smooth_sigma, cfg.border_width)[0, 0]
    block = max(cfg.inpaint_block_list)
    masks = checkerboard_masks(*x.shape[-2:], block, x.device)
    local = [inpainted(model, x[None], [block], median_fill(x[None], masks, w))[0] for w in cfg.surface_window_list]
    def in_units(m):
        return ratio_to_mean(gaussian_blur(border_calibrate(m, cfg.border_width), cfg.surface_sigma))

    maps = [in_units(m) for m in [intensity] + [(c - x[None]).pow(2).mean(1, keepdim=True) for c in local]]
    if cfg.surface_level > 0:  # the level maps, averaged: one more map
        maps.append(torch.stack([in_units(gaussian_blur(x[None] - c, cfg.surface_level).pow(2).mean(1, keepdim=True))
                                 for c in local]).mean(0))
    surface = torch.stack(maps).mean(0)[0, 0]
    return predictability(structural), texture, surface


def test_a_local_fill_inpaints_a_lit_surface_that_the_image_mean_cannot():
    ys = torch.arange(64, dtype=torch.float32)[:, None].expand(64, 64)
    image = (0.2 + 0.6 * ys / 63).view(1, 1, 64, 64)  # uneven lighting, nothing else
    copy_fill = lambda t: t  # a network that returns its input: the error is the fill's own
    _, mean_fill = _inpainting_errors(copy_fill, image, [8])
    _, local_fill = _inpainting_errors(copy_fill, image, [8],
                                       fill=median_fill(image, checkerboard_masks(64, 64, 8, image.device), 24))
    assert float(local_fill.mean()) < 0.05 * float(mean_fill.mean())


def _gate_case():
    """An untrained network on noisy stripes: (model, image, extractor, fast config)."""
    torch.manual_seed(0)
    model = UNet(1, 4).eval()
    x = _stripes(40, 56)[0] + 0.05 * torch.rand(1, 40, 56)
    # Without the grain, contrast and region maps, which the tests that build the surface map by hand
    # leave out (their own tests add them), and in mean units, the units those maps are built in
    # (the rms units' own test scales them).
    return model, x, build_extractor("patchncc", 1), ssdnet.resolve(preset="fast", surface_grain=0.0,
                                                                   surface_contrast=0.0, surface_region=0.0,
                                                                   map_units="mean")


@torch.inference_mode()
def _surface_heatmap(model, x, extractor, cfg, **changes) -> torch.Tensor:
    """The heatmap with the gate forced to the surface map, under ``cfg`` with ``changes``."""
    return heatmap(model, x, cfg.replace(gate_low=1.0, gate_high=1.0, **changes), extractor)


def test_the_heatmap_is_the_gated_blend_of_texture_and_surface_maps():
    model, x, extractor, cfg = _gate_case()
    with torch.inference_mode():
        q, texture, surface = _maps(cfg, model, x, extractor)
        always_texture = heatmap(model, x, cfg.replace(gate_low=-1.0, gate_high=-1.0), extractor)
        always_surface = heatmap(model, x, cfg.replace(gate_low=1.0, gate_high=1.0), extractor)
        blended, share = heatmap_and_share(model, x, cfg.replace(gate_low=q - 0.5, gate_high=q + 0.5), extractor)
    assert torch.allclose(always_texture, texture, atol=1e-5)
    assert torch.allclose(always_surface, surface, atol=1e-5)
    # q is measured without the gate's light blur, so the share is about, not exactly, a half
    assert share == pytest.approx(0.5, abs=1e-3)
    assert torch.allclose(blended, share * texture + (1 - share) * surface, atol=1e-5)
    assert not torch.allclose(texture, surface, atol=1e-2)  # the two maps really differ
    assert cfg.surface_window_list  # the default surface map averages local fills too
    mean_only = heatmap(model, x, cfg.replace(gate_low=1.0, gate_high=1.0, surface_windows="0"), extractor)
    assert not torch.allclose(mean_only, surface, atol=1e-3)


def test_heatmap_and_share_gives_the_heatmap_and_the_gate_share():
    model, x, extractor, cfg = _gate_case()
    with torch.inference_mode():  # the gate measures on both images blurred by gate_sigma
        composites = [gaussian_blur(c, cfg.gate_sigma) for c in inpainted(model, x[None], cfg.inpaint_block_list)]
        q = predictability(structural_error(composites, gaussian_blur(x[None], cfg.gate_sigma), extractor))
    for low, high, want in [(cfg.gate_low, cfg.gate_high, None), (q - 0.3, q + 0.1, 0.75),
                            (-1.0, -1.0, 1.0), (1.0, 1.0, 0.0)]:
        gated = cfg.replace(gate_low=low, gate_high=high)
        m, share = heatmap_and_share(model, x, gated, extractor)
        assert isinstance(share, float)
        assert share == texture_weight(q, low, high)
        if want is not None:
            assert share == pytest.approx(want)
        assert torch.equal(m, heatmap(model, x, gated, extractor))


def _pair_auroc(score: torch.Tensor, inside: torch.Tensor) -> float:
    """Share of (inside, outside) pixel pairs the score orders correctly."""
    a, b = score[inside], score[~inside]
    return float((a[:, None] > b[None, :]).float().mean())


def test_the_level_map_finds_a_faint_stain_that_the_squared_error_misses():
    # A grainy surface (4 px grains, sd 0.1) with a stain: brighter by about 0.13, grain halved.
    gen = torch.Generator().manual_seed(0)
    grain = torch.randn(1, 1, 24, 24, generator=gen).repeat_interleave(4, 2).repeat_interleave(4, 3)
    image = 0.5 + 0.1 * grain
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    stain = ((ys - 48) ** 2 + (xs - 48) ** 2 <= 14 ** 2).view(1, 1, 96, 96)
    image = torch.where(stain, 0.5 * image + 0.38, image)
    composite = torch.full_like(image, 0.5)  # a fill that knows the surface's level
    squared = intensity_error([composite], image)
    level = level_error(composite, image, 4.0)
    assert _pair_auroc(squared, stain) < 0.85
    assert _pair_auroc(level, stain) > 0.95


def test_the_local_fills_level_maps_join_the_surface_map_as_one_map():
    model, x, extractor, cfg = _gate_case()
    plain = _surface_heatmap(model, x, extractor, cfg, surface_level=0.0)
    levelled = _surface_heatmap(model, x, extractor, cfg, surface_level=3.0)
    mean_fill_only = [_surface_heatmap(model, x, extractor, cfg, surface_windows="0", surface_level=lv)
                      for lv in (0.0, 3.0)]
    with torch.inference_mode():
        block = max(cfg.inpaint_block_list)
        masks = checkerboard_masks(*x.shape[-2:], block, x.device)
        composites = [inpainted(model, x[None], [block], median_fill(x[None], masks, w))[0]
                      for w in cfg.surface_window_list]
        levels = [ratio_to_mean(calibrated(level_error(c, x[None], 3.0), cfg.border_width, cfg.surface_sigma))[0, 0]
                  for c in composites]
    n = 1 + len(cfg.surface_window_list)  # the image-mean fill's map and one per local fill
    assert torch.allclose(levelled, (n * plain + sum(levels) / len(levels)) / (n + 1), atol=1e-5)
    assert torch.equal(mean_fill_only[0], mean_fill_only[1])  # the image-mean fill adds no level map


def _streaked(across: bool = False, size: int = 96) -> torch.Tensor:
    """A ground surface: random vertical streaks (or the same turned across), (1, 1, H, W)."""
    gen = torch.Generator().manual_seed(0)
    streaks = 0.5 + 0.1 * torch.randn(1, 1, 1, size, generator=gen).expand(1, 1, size, size)
    return streaks.transpose(-1, -2) if across else streaks


def test_the_grain_map_finds_a_patch_whose_scratches_cross_the_surface_streaks():
    # A chipped patch: the streaks turned across, so it keeps the surface's brightness and
    # contrast and differs only in direction.
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    patch = ((ys - 48).abs() <= 14) & ((xs - 48).abs() <= 14)
    image = torch.where(patch.view(1, 1, 96, 96), _streaked(across=True), _streaked()).expand(1, 3, 96, 96)
    grain, strength = grain_error(image, 3.0)
    assert grain.shape == (1, 1, 96, 96) and strength > 0.9  # one direction nearly everywhere
    assert _pair_auroc(grain[0, 0], patch) > 0.95
    # The same surface without the patch: nothing departs from its grain.
    plain, _ = grain_error(_streaked(), 3.0)
    assert float(plain[..., 8:-8, 8:-8].max()) < 0.05 * float(grain.max())


def test_an_isotropic_surface_has_no_typical_grain():
    gen = torch.Generator().manual_seed(1)
    _, strength = grain_error(torch.rand(1, 1, 96, 96, generator=gen), 4.0)
    assert strength < 0.1 <= GRAIN_RAMP[0]


@pytest.mark.parametrize("part", range(4))
def test_surface_weights_weigh_each_statistics_map_in_the_surface_map(part):
    # The surface map is (A + w o P) / (B + w o) in the weight w of one map P (o: its own weight
    # at w = 1, the grain ramp's for the grain map; A, B: the other maps' weighted sum and
    # weights): the maps at w = 0 and 1 give o P, and so the map at w = 2.
    model, x, extractor, cfg = _gate_case()
    cfg = cfg.replace(surface_level=5.0, surface_grain=4.0, surface_contrast=1.0, surface_region=4.0)

    def at(w: float) -> torch.Tensor:
        return _surface_heatmap(model, x, extractor, cfg,
                                surface_weights=",".join(f"{w:g}" if i == part else "1" for i in range(4)))

    own = [1.0, texture_weight(grain_error(x[None], 4.0)[1], *GRAIN_RAMP), 1.0, 1.0]
    assert own[1] > 0  # noisy stripes have a grain
    others = 1 + len(cfg.surface_window_list) + sum(own) - own[part]
    none, one, two = at(0.0), at(1.0), at(2.0)
    weighted = (others + own[part]) * one - others * none
    assert torch.allclose(two, (others * none + 2 * weighted) / (others + 2 * own[part]), atol=1e-5)
    assert not torch.allclose(two, one, atol=1e-3)


def test_the_grain_map_joins_the_surface_map_weighted_by_the_typical_grain():
    model, x, extractor, cfg = _gate_case()
    plain = _surface_heatmap(model, x, extractor, cfg, surface_grain=0.0)
    grained = _surface_heatmap(model, x, extractor, cfg, surface_grain=4.0)
    grain, strength = grain_error(x[None], 4.0)
    w = texture_weight(strength, *GRAIN_RAMP)
    assert w > 0  # noisy stripes have a grain
    grain = ratio_to_mean(calibrated(grain, cfg.border_width, cfg.surface_sigma))[0, 0]
    n = 1 + len(cfg.surface_window_list) + (cfg.surface_level > 0)  # the fills' maps and the level map
    assert torch.allclose(grained, (n * plain + w * grain) / (n + w), atol=1e-5)
    # On an isotropic image the grain map has no weight: the heatmap is the one without it.
    noise = torch.rand(1, 40, 56, generator=torch.Generator().manual_seed(2))
    assert torch.equal(_surface_heatmap(model, noise, extractor, cfg, surface_grain=4.0),
                       _surface_heatmap(model, noise, extractor, cfg, surface_grain=0.0))


def test_the_contrast_map_finds_a_rougher_and_a_smoother_region():
    gen = torch.Generator().manual_seed(3)
    ys, xs = torch.meshgrid(torch.arange(96.0), torch.arange(96.0), indexing="ij")
    rough = ((ys - 28).abs() <= 10) & ((xs - 28).abs() <= 10)
    smooth = ((ys - 66).abs() <= 10) & ((xs - 66).abs() <= 10)
    # One brightness everywhere; the grain's strength differs: three times in one patch, a
    # third in the other. A region of other contrast counts whichever way it differs.
    sd = torch.full((96, 96), 0.05).masked_fill(rough, 0.15).masked_fill(smooth, 0.05 / 3)
    image = (0.5 + sd * torch.randn(96, 96, generator=gen)).view(1, 1, 96, 96).expand(1, 3, 96, 96)
    contrast = contrast_error(image, 2.0)
    assert contrast.shape == (1, 1, 96, 96)
    assert _pair_auroc(contrast[0, 0], rough) > 0.95
    assert _pair_auroc(contrast[0, 0], smooth) > 0.9  # 0.951
    # Squared, because the signed ratio ranks the smooth patch below everything (0.002).
    signed = log_contrast(image, 2.0)[0, 0]
    assert _pair_auroc(signed, rough) > 0.95 and _pair_auroc(signed, smooth) < 0.05
    assert torch.equal(contrast[0, 0], signed.pow(2))
    # The same surface at one contrast: nothing departs as far as the patches did.
    plain = contrast_error((0.5 + 0.05 * torch.randn(1, 1, 96, 96, generator=gen)), 2.0)
    assert float(plain.quantile(0.99)) < 0.25 * float(contrast[0, 0][rough | smooth].median())


def test_the_contrast_map_joins_the_surface_map_at_full_weight():
    model, x, extractor, cfg = _gate_case()
    plain = _surface_heatmap(model, x, extractor, cfg, surface_contrast=0.0)
    with_contrast = _surface_heatmap(model, x, extractor, cfg, surface_contrast=2.0)
    contrast = ratio_to_mean(calibrated(contrast_error(x[None], 2.0), cfg.border_width, cfg.surface_sigma))[0, 0]
    n = 1 + len(cfg.surface_window_list) + (cfg.surface_level > 0)  # the fills' maps and the level map
    assert torch.allclose(with_contrast, (n * plain + contrast) / (n + 1), atol=1e-5)
    assert not torch.allclose(with_contrast, plain, atol=1e-3)


def _angled_streaks(angle: float, size: int) -> torch.Tensor:
    """(size, size) sinusoidal grinding streaks at ``angle`` radians from vertical."""
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    return 0.06 * torch.sin(0.9 * (xs * math.cos(angle) + ys * math.sin(angle)))


def test_the_region_map_finds_a_large_region_of_other_grain_or_roughness():
    size = 128
    gen = torch.Generator().manual_seed(4)
    ys, xs = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    # A third of the image: its spread must not set the spread it is measured against.
    region = ((ys - 64).abs() <= 36) & ((xs - 64).abs() <= 36)
    grain = 0.03 * torch.randn(size, size, generator=gen)
    turned = 0.5 + torch.where(region, _angled_streaks(0.35, size), _angled_streaks(0.0, size)) + grain
    rougher = 0.5 + _angled_streaks(0.0, size) + torch.where(region, 1.5, 1.0) * grain
    inner = (slice(12, -12), slice(12, -12))  # the blur's edge effects aside
    for image in (turned, rougher):
        m = region_error(image.view(1, 1, size, size).expand(1, 3, size, size), 6.0)
        assert m.shape == (1, 1, size, size)
        # 0.947 turned, 0.972 rougher: the blur rounds the region's edge.
        assert _pair_auroc(m[0, 0][inner], region[inner]) > 0.9
    # A flat image has no neighbourhood unlike the others.
    assert torch.equal(region_error(torch.full((1, 1, 32, 32), 0.5), 4.0), torch.zeros(1, 1, 32, 32))


def test_the_region_map_joins_the_surface_map_at_full_weight():
    model, x, extractor, cfg = _gate_case()
    plain = _surface_heatmap(model, x, extractor, cfg)
    with_region = _surface_heatmap(model, x, extractor, cfg, surface_region=4.0)
    region = ratio_to_mean(calibrated(region_error(x[None], 4.0), cfg.border_width, cfg.surface_sigma))[0, 0]
    n = 1 + len(cfg.surface_window_list) + (cfg.surface_level > 0)  # the fills' maps and the level map
    assert torch.allclose(with_region, (n * plain + region) / (n + 1), atol=1e-5)
    assert not torch.allclose(with_region, plain, atol=1e-3)


def test_rms_units_scale_each_image_by_the_networks_rms_inpainting_error():
    # map_units=rms is the mean-units map times one number per image, the root of the network's
    # mean squared inpainting error: it moves images against each other, not pixels within one;
    # sqrt-rms times the root of that root.
    model, x, extractor, cfg = _gate_case()
    with torch.inference_mode():
        mean_units, share = heatmap_and_share(model, x, cfg.replace(map_units="mean"), extractor)
        rms, rms_share = heatmap_and_share(model, x, cfg.replace(map_units="rms"), extractor)
        sqrt_rms, sqrt_share = heatmap_and_share(model, x, cfg.replace(map_units="sqrt-rms"), extractor)
        scale = intensity_error(inpainted(model, x[None], cfg.inpaint_block_list), x[None]).mean().sqrt()
    assert share == rms_share == sqrt_share
    assert torch.allclose(rms, mean_units * scale, rtol=1e-4, atol=1e-7)
    assert torch.allclose(sqrt_rms, mean_units * scale.sqrt(), rtol=1e-4, atol=1e-7)
    assert abs(float(scale) - 1.0) > 0.1  # the units really differ here
