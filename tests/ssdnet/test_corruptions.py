import pytest
import torch

from ssdnet.corruptions import add_noise, block_mask, corrupt, sample_patches, shuffle_tiles
from ssdnet.streams import Streams


def rng(*seeds):
    return Streams.from_seeds(list(seeds or [0]), "cpu")


def test_sample_patches_are_crops_of_each_image():
    images = torch.arange(2 * 3 * 20 * 30, dtype=torch.float32).view(2, 3, 20, 30)
    patches = sample_patches(images, 8, 16, rng(0, 1))
    assert patches.shape == (2, 16, 3, 8, 8)
    corners = set()
    for i in range(2):
        for p in patches[i]:
            # Value v of image i's channel 0 sits at row (v - i * 1800) // 30: the crop must be
            # a contiguous window of image i itself, all three channels.
            y, x = divmod(int(p[0, 0, 0].item()) - i * 1800, 30)
            assert torch.equal(p, images[i, :, y:y + 8, x:x + 8])
            corners.add((i, y, x))
    assert len(corners) > 20  # positions vary


def test_sample_patches_reach_every_offset():
    # 3 x 3 possible offsets: all drawn in 400 crops, none out of range (an off-by-one would raise).
    image = torch.arange(10 * 10, dtype=torch.float32).view(1, 1, 10, 10)
    corners = {int(p[0, 0, 0]) for p in sample_patches(image, 8, 400, rng())[0]}
    assert corners == {y * 10 + x for y in range(3) for x in range(3)}


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5])
def test_block_mask_blanks_the_requested_share(ratio):
    patches = torch.rand(2, 32, 1, 64, 64)
    masked, mask = block_mask(patches, ratio, 8, rng(0, 1))
    assert mask.shape == (2, 32, 1, 64, 64)
    share = mask.mean(dim=(2, 3, 4))
    assert torch.equal(share, torch.full_like(share, round(ratio * 64) / 64))
    # Masked pixels carry the patch mean, the others are untouched.
    fill = patches.mean(dim=(3, 4), keepdim=True).expand_as(patches)
    on = mask.bool().expand_as(patches)
    assert torch.allclose(masked[on], fill[on])
    assert torch.equal(masked[~on], patches[~on])


def test_block_mask_blanks_whole_blocks_also_when_the_grid_does_not_divide_the_patch():
    patches = torch.rand(1, 64, 1, 20, 20)
    _, mask = block_mask(patches, 0.5, 8, rng())
    # 20 pixels over 8 blocks: pixel i lies in block i * 8 // 20; every block is all on or all off.
    block = torch.arange(20) * 8 // 20
    for m in mask[0, :, 0]:
        per_block = torch.zeros(8, 8).index_put_((block[:, None].expand(20, 20), block[None, :].expand(20, 20)),
                                                 m, accumulate=True)
        sizes = torch.zeros(8, 8).index_put_((block[:, None].expand(20, 20), block[None, :].expand(20, 20)),
                                             torch.ones(20, 20), accumulate=True)
        assert ((per_block == 0) | (per_block == sizes)).all()
        assert int((per_block > 0).sum()) == 32


def test_block_mask_zero_ratio_is_identity():
    patches = torch.rand(1, 4, 3, 32, 32)
    masked, mask = block_mask(patches, 0.0, 8, rng())
    assert torch.equal(masked, patches) and mask.sum() == 0


def test_block_mask_choices_are_uniform_over_blocks():
    # 4000 patches, 16 of 64 blocks each: every block is chosen about 1000 times.
    _, mask = block_mask(torch.rand(1, 4000, 1, 8, 8), 0.25, 8, rng(3))
    counts = mask[0, :, 0].sum(0).flatten()
    assert counts.sum() == 4000 * 16
    assert ((counts - 1000).abs() < 150).all(), counts


def _tiles(p, grid):
    t = p.shape[-1] // grid
    return [p[:, i * t:(i + 1) * t, j * t:(j + 1) * t] for i in range(grid) for j in range(grid)]


def test_shuffle_is_a_permutation_of_the_sub_tiles():
    patches = torch.rand(2, 8, 2, 32, 32)
    out = shuffle_tiles(patches, 4, 1.0, rng(0, 1))
    moved = 0
    for before, after in zip(patches.flatten(0, 1), out.flatten(0, 1)):
        a, b = _tiles(before, 4), _tiles(after, 4)
        # Every output tile is exactly one input tile, each used once.
        match = [next(i for i, t in enumerate(a) if torch.equal(t, u)) for u in b]
        assert sorted(match) == list(range(16))
        moved += match != list(range(16))
    assert moved >= 15  # a random permutation of 16 tiles is almost never the identity


def test_shuffle_probability_leaves_the_rest_alone():
    patches = torch.rand(2, 400, 1, 16, 16)
    out = shuffle_tiles(patches, 4, 0.5, rng(0, 1))
    changed = (out != patches).flatten(2).any(2).float().mean(1)
    assert ((changed > 0.4) & (changed < 0.6)).all(), changed


def test_shuffle_keeps_pixels_outside_full_tiles():
    patches = torch.rand(1, 4, 1, 18, 18)
    out = shuffle_tiles(patches, 4, 1.0, rng())
    assert torch.equal(out[..., 16:, :], patches[..., 16:, :])
    assert torch.equal(out[..., :, 16:], patches[..., :, 16:])


def test_noise_has_the_requested_sigma():
    patches = torch.zeros(2, 8, 1, 64, 64)
    noisy = add_noise(patches, 0.03, rng(0, 1))
    for image in noisy:
        assert abs(image.std().item() - 0.03) < 0.002
        assert abs(image.mean().item()) < 0.002


def test_corrupt_is_reproducible_from_the_seed():
    patches = torch.rand(1, 4, 1, 32, 32)
    kw = dict(mask_ratio=0.3, mask_grid=8, shuffle_grid=4, shuffle_prob=0.5, noise_sigma=0.03)
    assert torch.equal(corrupt(patches, rng=rng(5).split(3), **kw), corrupt(patches, rng=rng(5).split(3), **kw))
    assert not torch.equal(corrupt(patches, rng=rng(5).split(3), **kw), corrupt(patches, rng=rng(6).split(3), **kw))


def test_an_images_corruptions_do_not_depend_on_its_pack_companions():
    patches = torch.rand(3, 4, 2, 32, 32)
    kw = dict(mask_ratio=0.5, mask_grid=8, shuffle_grid=4, shuffle_prob=0.5, noise_sigma=0.03)
    packed = corrupt(patches, rng=rng(7, 8, 9).split(3), **kw)
    alone = corrupt(patches[1:2], rng=rng(8).split(3), **kw)
    other_pack = corrupt(patches[[2, 1]], rng=rng(42, 8).split(3), **kw)
    assert torch.equal(packed[1], alone[0]) and torch.equal(packed[1], other_pack[1])
    images = torch.rand(3, 1, 40, 40)
    assert torch.equal(sample_patches(images, 16, 5, rng(7, 8, 9))[1], sample_patches(images[1:2], 16, 5, rng(8))[0])
