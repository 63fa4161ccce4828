import numpy as np
import pytest

from ssdnet.synthetic import make_example


@pytest.fixture(scope="session")
def defect_images():
    """Generated textured images with one injected defect each: (uint8 image, bool mask) pairs."""
    return [make_example(seed, 96, 96) for seed in range(8)]


@pytest.fixture(scope="session")
def textured_image():
    return make_example(100, 64, 80, texture_kind="grid")[0].astype(np.float32) / 255
