import torch

import ssdnet
from ssdnet.features import build_extractor
from ssdnet.model import UNet
from ssdnet.predict import (aggregate, border_calibrate, gaussian_blur, heatmap, inpainting_errors, predictability,
                            ratio_to_mean, reconstruction_error, texture_weight)


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


def test_an_oracle_inpainting_is_fully_predictable_and_noise_is_not():
    image = _stripes()
    extractor = build_extractor("patchncc", 1)
    structural, intensity = inpainting_errors(lambda t: image.expand_as(t), image, [4, 8], extractor)
    assert predictability(structural) > 0.95
    assert float(intensity.max()) == 0.0
    gen = torch.Generator().manual_seed(0)
    structural, intensity = inpainting_errors(lambda t: torch.rand(t.shape, generator=gen), image, [4, 8], extractor)
    assert abs(predictability(structural)) < 0.2
    assert float(intensity.mean()) > 0.01


def _maps(cfg, model, x, extractor):
    """The two maps heatmap() blends, built here from the documented parts."""
    structural, intensity = inpainting_errors(model, x[None], cfg.inpaint_block_list, extractor)
    pixel = reconstruction_error(model, x[None], cfg.infer_scale_list)
    texture = aggregate(pixel, structural, cfg.aggregation, cfg.smooth_sigma, cfg.border_width)[0, 0]
    surface = ratio_to_mean(gaussian_blur(border_calibrate(intensity, cfg.border_width), cfg.surface_sigma))[0, 0]
    return predictability(structural), texture, surface


def test_the_heatmap_is_the_gated_blend_of_texture_and_surface_maps():
    torch.manual_seed(0)
    model = UNet(1, 4).eval()
    x = _stripes(40, 56)[0] + 0.05 * torch.rand(1, 40, 56)
    extractor = build_extractor("patchncc", 1)
    cfg = ssdnet.resolve(preset="fast")
    with torch.inference_mode():
        q, texture, surface = _maps(cfg, model, x, extractor)
        always_texture = heatmap(model, x, cfg.replace(gate_low=-1.0, gate_high=-1.0), extractor)
        always_surface = heatmap(model, x, cfg.replace(gate_low=1.0, gate_high=1.0), extractor)
        blended = heatmap(model, x, cfg.replace(gate_low=q - 0.5, gate_high=q + 0.5), extractor)
    assert torch.allclose(always_texture, texture, atol=1e-5)
    assert torch.allclose(always_surface, surface, atol=1e-5)
    assert torch.allclose(blended, 0.5 * texture + 0.5 * surface, atol=1e-5)
    assert not torch.allclose(texture, surface, atol=1e-2)  # the two maps really differ
