import pytest
import torch

from ssdnet.corruptions import add_noise, block_mask, corrupt, sample_patches, shuffle_tiles


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sample_patches_are_crops_of_the_image():
    image = torch.arange(3 * 20 * 30, dtype=torch.float32).view(3, 20, 30)
    patches = sample_patches(image, 8, 16, gen())
    assert patches.shape == (16, 3, 8, 8)
    for p in patches:
        # Value v at channel 0 sits at row v // 30, column v % 30: the crop must be contiguous.
        top = int(p[0, 0, 0].item())
        y, x = divmod(top, 30)
        assert torch.equal(p, image[:, y:y + 8, x:x + 8])


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_block_mask_blanks_the_requested_share(ratio):
    patches = torch.rand(32, 1, 64, 64)
    masked, mask = block_mask(patches, ratio, 8, gen())
    share = mask.mean(dim=(1, 2, 3))
    assert torch.allclose(share, torch.full_like(share, round(ratio * 64) / 64))
    # Masked pixels carry the patch mean, the others are untouched.
    fill = patches.mean(dim=(2, 3), keepdim=True).expand_as(patches)
    assert torch.allclose(masked[mask.bool().expand_as(patches)], fill[mask.bool().expand_as(patches)])
    assert torch.equal(masked[~mask.bool().expand_as(patches)], patches[~mask.bool().expand_as(patches)])


def test_block_mask_zero_ratio_is_identity():
    patches = torch.rand(4, 3, 32, 32)
    masked, mask = block_mask(patches, 0.0, 8, gen())
    assert torch.equal(masked, patches) and mask.sum() == 0


def _tiles(p, grid):
    t = p.shape[-1] // grid
    return [p[:, i * t:(i + 1) * t, j * t:(j + 1) * t] for i in range(grid) for j in range(grid)]


def test_shuffle_is_a_permutation_of_the_sub_tiles():
    patches = torch.rand(16, 2, 32, 32)
    out = shuffle_tiles(patches, 4, 1.0, gen())
    moved = 0
    for before, after in zip(patches, out):
        a, b = _tiles(before, 4), _tiles(after, 4)
        # Every output tile is exactly one input tile, each used once.
        match = [next(i for i, t in enumerate(a) if torch.equal(t, u)) for u in b]
        assert sorted(match) == list(range(16))
        moved += match != list(range(16))
    assert moved >= 15  # a random permutation of 16 tiles is almost never the identity


def test_shuffle_probability_leaves_the_rest_alone():
    patches = torch.rand(400, 1, 16, 16)
    out = shuffle_tiles(patches, 4, 0.5, gen())
    changed = (out != patches).flatten(1).any(1).float().mean().item()
    assert 0.4 < changed < 0.6


def test_shuffle_keeps_pixels_outside_full_tiles():
    patches = torch.rand(4, 1, 18, 18)
    out = shuffle_tiles(patches, 4, 1.0, gen())
    assert torch.equal(out[..., 16:, :], patches[..., 16:, :])
    assert torch.equal(out[..., :, 16:], patches[..., :, 16:])


def test_noise_has_the_requested_sigma():
    patches = torch.zeros(8, 1, 64, 64)
    noisy = add_noise(patches, 0.03, gen())
    assert abs(noisy.std().item() - 0.03) < 0.002
    assert abs(noisy.mean().item()) < 0.002


def test_corrupt_is_reproducible_from_the_generator():
    patches = torch.rand(4, 1, 32, 32)
    kw = dict(mask_ratio=0.3, mask_grid=8, shuffle_grid=4, shuffle_prob=0.5, noise_sigma=0.03)
    assert torch.equal(corrupt(patches, gen=gen(5), **kw), corrupt(patches, gen=gen(5), **kw))
    assert not torch.equal(corrupt(patches, gen=gen(5), **kw), corrupt(patches, gen=gen(6), **kw))
