import pytest

from ssdnet.synthetic import write_dataset, write_mvtec_category


@pytest.fixture(scope="session")
def folder_set(tmp_path_factory):
    """images/ + masks/ layout: 2 defect-free, 4 defective, 64 px; one good image without a mask file."""
    root = tmp_path_factory.mktemp("folder_set")
    ids = write_dataset(root, 6, size=64, good=2, seed=10)
    (root / "masks" / f"{ids[0]}.png").unlink()
    return root


@pytest.fixture(scope="session")
def mvtec_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec") / "grid"
    write_mvtec_category(root, size=64, good=2, per_defect=2, defects=("hole", "scratch"))
    (root / "test" / "scratch" / "001.png").unlink()  # classes of unequal size
    return root
