import pytest
import torch

from ssdnet.features import PatchNCC, RandConv
from ssdnet.losses import perceptual_loss, pixel_loss, total_loss


@pytest.fixture(params=["patchncc", "randconv"])
def extractor(request):
    return PatchNCC() if request.param == "patchncc" else RandConv(channels=1)


def test_cosine_of_an_image_with_itself_is_one(extractor):
    a = torch.rand(2, 1, 32, 32)
    cos = extractor.cosine_map(a, a)
    assert cos.shape == (2, 1, 32, 32)
    # patchncc's variance floor keeps self-similarity a hair below 1 on textured windows.
    tol = 0.05 if extractor.name == "patchncc" else 1e-3
    assert (cos > 1 - tol).all() and (cos <= 1 + 1e-5).all()


def test_cosine_is_symmetric_and_bounded(extractor):
    a, b = torch.rand(2, 1, 24, 24), torch.rand(2, 1, 24, 24)
    ab, ba = extractor.cosine_map(a, b), extractor.cosine_map(b, a)
    assert torch.allclose(ab, ba, atol=1e-5)
    assert ab.min() >= -1 - 1e-5 and ab.max() <= 1 + 1e-5


def test_patchncc_is_invariant_to_gain_and_offset_and_flips_with_sign():
    a = torch.rand(1, 1, 32, 32)
    ext = PatchNCC()
    same = ext.cosine_map(a, 3 * a + 0.5)
    opposite = ext.cosine_map(a, -a)
    inner = (slice(None), slice(None), slice(4, -4), slice(4, -4))
    assert same[inner].mean() > 0.95
    assert opposite[inner].mean() < -0.95


def test_patchncc_is_finite_on_flat_images_with_finite_gradient():
    flat = torch.full((1, 1, 16, 16), 0.5, requires_grad=True)
    loss = perceptual_loss(flat, torch.full((1, 1, 16, 16), 0.5), PatchNCC())
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(flat.grad).all()


def test_perceptual_loss_zero_for_identical_and_grows_with_difference():
    ext = RandConv(channels=1)
    a = torch.rand(1, 1, 32, 32)
    assert perceptual_loss(a, a, ext).abs() < 1e-5
    small = perceptual_loss(a + 0.01 * torch.randn_like(a), a, ext)
    large = perceptual_loss(torch.rand_like(a), a, ext)
    assert 0 < small < large


def test_total_loss_weights_its_terms():
    ext = PatchNCC()
    a, b = torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16)
    px, pc = pixel_loss(a, b), perceptual_loss(a, b, ext)
    assert torch.allclose(total_loss(a, b, ext, 100.0, 0.0), 100 * px)
    assert torch.allclose(total_loss(a, b, ext, 2.0, 3.0), 2 * px + 3 * pc)


def test_trimmed_loss_leaves_the_worst_pixels_out_of_the_gradient(extractor):
    target = torch.rand(2, 1, 32, 32)
    out = (target + 0.01 * torch.randn_like(target)).requires_grad_()
    with torch.no_grad():
        out[:, :, 4:8, 4:8] += 5.0  # a blob the network has not learned: 16 of 1024 pixels per patch
    blob = (slice(None), slice(None), slice(4, 8), slice(4, 8))
    plain = total_loss(out, target, extractor, 100.0, 1.0)
    plain_grad = torch.autograd.grad(plain, out)[0]
    trimmed = total_loss(out, target, extractor, 100.0, 1.0, trim=0.05)
    trimmed_grad = torch.autograd.grad(trimmed, out)[0]
    assert trimmed < 0.05 * plain
    # Only the perceptual windows of kept pixels around the blob still reach into it.
    assert trimmed_grad[blob].abs().max() < 0.01 * plain_grad[blob].abs().max()
    assert trimmed_grad.abs().sum() > 0
    pixel_only = total_loss(out, target, extractor, 100.0, 0.0, trim=0.05)
    assert torch.autograd.grad(pixel_only, out)[0][blob].abs().max() == 0


def test_trim_zero_is_the_plain_loss(extractor):
    a, b = torch.rand(2, 1, 24, 24), torch.rand(2, 1, 24, 24)
    assert torch.equal(total_loss(a, b, extractor, 100.0, 1.0, trim=0.0), total_loss(a, b, extractor, 100.0, 1.0))
