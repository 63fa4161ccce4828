import numpy as np

from ssdnet.evaluation.robustness import degrade


def test_dropout_blanks_the_asked_share_of_pixels_in_every_channel():
    image = np.full((100, 120, 3), 0.5, np.float32)
    out = degrade(image, "a.png", dropout=0.2)
    dead = (out == 0).all(axis=2)
    assert abs(dead.mean() - 0.2) < 0.02
    assert ((out == 0).any(axis=2) == dead).all()  # a dead pixel is dead in all channels
    assert np.array_equal(out[~dead], image[~dead])


def test_noise_has_the_asked_sigma_and_stays_in_range():
    image = np.full((200, 200, 1), 0.5, np.float32)
    out = degrade(image, "b.png", noise_sigma=0.05)
    assert abs(float((out - image).std()) - 0.05) < 0.005
    assert out.min() >= 0 and out.max() <= 1


def test_same_key_same_damage_other_key_other_damage_and_identity_when_off():
    image = np.random.default_rng(0).random((32, 32, 1)).astype(np.float32)
    a = degrade(image, "x", noise_sigma=0.1, dropout=0.1)
    assert np.array_equal(a, degrade(image, "x", noise_sigma=0.1, dropout=0.1))
    assert not np.array_equal(a, degrade(image, "y", noise_sigma=0.1, dropout=0.1))
    assert degrade(image, "x") is image
