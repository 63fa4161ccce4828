"""The pack size: a measured sweep's knee under a memory cap; 1 off CUDA."""
from __future__ import annotations

import pytest

import ssdnet
from ssdnet import packing


def test_the_knee_is_the_smallest_pack_near_the_best_rate():
    # Fits per minute as a GPU gives them: growing, then flat (the device is full).
    rates = {1: 15.3, 2: 29.0, 4: 40.5, 8: 80.0, 16: 106.3, 32: 110.0, 64: 111.0}
    assert packing.knee(rates) == 16
    assert packing.knee(rates, tolerance=0.0) == 64
    assert packing.knee({1: 30.0, 2: 20.0, 4: 10.0}) == 1  # packing only hurts: no packing
    assert packing.knee({1: 10.0}) == 1


def test_the_sweep_times_powers_of_two_up_to_the_memory_cap():
    assert packing.candidates(1) == [1]
    assert packing.candidates(64) == [1, 2, 4, 8, 16, 32, 64]
    assert packing.candidates(48) == [1, 2, 4, 8, 16, 32, 48]


def test_a_sweep_measures_every_pack_it_is_given():
    cfg = ssdnet.resolve(preset="fast", steps=3, threads=1, device="cpu")
    rates = packing.sweep(cfg, [1, 2], channels=1, height=32, width=32, steps=2)
    assert sorted(rates) == [1, 2]
    assert all(r > 0 for r in rates.values())


def test_off_cuda_nothing_is_packed_or_measured():
    cfg = ssdnet.resolve(preset="fast", device="cpu")
    assert ssdnet.pack_size(cfg) == 1


def test_a_worker_says_what_it_would_fit_on():
    here = ssdnet.describe_device("cpu")
    assert (here["type"], here["error"], here["free_bytes"]) == ("cpu", "", 0)
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal below cannot happen here")
    missing = ssdnet.describe_device("cuda")
    assert missing["type"] == "none" and "CUDA is not available" in missing["error"]
