import numpy as np
import pytest

import ssdnet
from ssdnet.synthetic import make_example

# Packed fits run the same arithmetic as grouped convolutions, rounded differently; the
# robust z-scores of the heatmap amplify that (measured up to 1.5e-3). The documented tolerance is
# relative to each map's range.
PACKED_RTOL = 5e-3


def test_packed_fits_match_single_fits(textured_image):
    cfg = ssdnet.resolve(preset="fast", steps=12, threads=1)
    images = [make_example(s, 48, 64)[0].astype(np.float32)[..., None] / 255 for s in range(3)]
    images.append(make_example(9, 40, 40)[0].astype(np.float32)[..., None] / 255)  # another shape
    packed = ssdnet.map_for_arrays(images, cfg, pack=4)
    for image, got in zip(images, packed):
        want = ssdnet.map_for_array(image, cfg)
        assert got.shape == want.shape == image.shape[:2]
        scale = float(want.max() - want.min())
        assert np.abs(got - want).max() <= PACKED_RTOL * scale


def test_packed_fits_stay_independent():
    # Packing an image with different companions must not change its map.
    cfg = ssdnet.resolve(preset="fast", steps=12, threads=1)
    a, b, c = (make_example(s, 48, 48)[0].astype(np.float32)[..., None] / 255 for s in (1, 2, 3))
    with_b = ssdnet.map_for_arrays([a, b], cfg, pack=2)[0]
    with_c = ssdnet.map_for_arrays([a, c], cfg, pack=2)[0]
    assert np.abs(with_b - with_c).max() <= PACKED_RTOL * float(with_b.max() - with_b.min())


def test_an_ensemble_is_the_mean_of_its_members_single_fits():
    # The texture map for every image: it differs more between seeds than the surface map, so
    # the check below that the members differ is far from the packing tolerance.
    cfg = ssdnet.resolve(preset="fast", steps=12, threads=1, seed=3, gate_low=-1, gate_high=-1)
    image = make_example(4, 48, 48)[0].astype(np.float32)[..., None] / 255
    both = ssdnet.map_for_array(image, cfg.replace(ensemble=2))
    members = [ssdnet.map_for_array(image, cfg.replace(seed=s)) for s in (3, 4)]
    want = (members[0] + members[1]) / 2
    assert np.abs(both - want).max() <= PACKED_RTOL * float(want.max() - want.min())
    # and the members really differ: different initialisations and patches
    assert np.abs(members[0] - members[1]).max() > 10 * PACKED_RTOL * float(want.max() - want.min())


def test_packed_ensembles_keep_each_image_apart():
    cfg = ssdnet.resolve(preset="fast", steps=12, threads=1, ensemble=2)
    images = [make_example(s, 48, 48)[0].astype(np.float32)[..., None] / 255 for s in (5, 6)]
    packed = ssdnet.map_for_arrays(images, cfg, pack=2)
    for image, got in zip(images, packed):
        want = ssdnet.map_for_array(image, cfg)
        assert np.abs(got - want).max() <= PACKED_RTOL * float(want.max() - want.min())


def test_more_images_of_one_shape_than_the_pack_each_get_their_map():
    # Two chunks of one shape group: the second chunk must still see the group's images.
    cfg = ssdnet.resolve(preset="fast", steps=3, threads=1, ensemble=2)
    images = [make_example(s, 32, 32)[0].astype(np.float32)[..., None] / 255 for s in (7, 8, 9)]
    maps = ssdnet.map_for_arrays(images, cfg, pack=1)
    assert [m.shape for m in maps] == [(32, 32)] * 3
    for image, got in zip(images, maps):
        want = ssdnet.map_for_array(image, cfg)
        assert np.abs(got - want).max() <= PACKED_RTOL * float(want.max() - want.min())


def test_an_ensembles_texture_share_is_the_mean_of_its_members():
    # Gates at the ends of their range: the share is (predictability + 1) / 2, never clipped to 0 or 1.
    cfg = ssdnet.resolve(preset="fast", steps=12, threads=1, seed=3, gate_low=-1, gate_high=1)
    image = make_example(4, 48, 48)[0].astype(np.float32)[..., None] / 255
    (both,), (share,) = ssdnet.maps_and_shares([image], cfg.replace(ensemble=2))
    members = [ssdnet.maps_and_shares([image], cfg.replace(seed=s)) for s in (3, 4)]
    assert all(0 < s < 1 for _, (s,) in members)
    assert share == pytest.approx((members[0][1][0] + members[1][1][0]) / 2, abs=1e-3)
    assert np.array_equal(both, ssdnet.map_for_array(image, cfg.replace(ensemble=2)))


def test_on_a_cpu_ensemble_members_are_fitted_one_by_one(monkeypatch):
    # Packed (grouped) convolutions are slower than plain ones on a CPU: unless the caller packs
    # images, each network is fitted alone there. The real fit runs; only the calls are counted.
    import ssdnet.api

    fit_many = ssdnet.api.fit_many
    fitted_at_once = []

    def counting(images, *args, **kwargs):
        fitted_at_once.append(images.shape[0])
        return fit_many(images, *args, **kwargs)

    monkeypatch.setattr(ssdnet.api, "fit_many", counting)
    cfg = ssdnet.resolve(preset="fast", steps=3, threads=1, ensemble=2, device="cpu")
    images = [make_example(s, 32, 32)[0].astype(np.float32)[..., None] / 255 for s in (1, 2)]
    ssdnet.map_for_arrays(images, cfg)
    assert fitted_at_once == [1, 1, 1, 1]
    fitted_at_once.clear()
    ssdnet.map_for_arrays(images, cfg, pack=2)
    assert fitted_at_once == [2, 2]
