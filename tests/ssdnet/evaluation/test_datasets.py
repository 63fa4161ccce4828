import numpy as np
import pytest
from PIL import Image

from ssdnet.evaluation.datasets import DatasetError, Sample, development, list_samples, read_mask, stratified


def test_folder_layout_pairs_images_with_masks(folder_set):
    samples = list_samples(folder_set)
    assert [s.id for s in samples] == ["defect_002", "defect_003", "defect_004", "defect_005", "good_000", "good_001"]
    by_id = {s.id: s for s in samples}
    assert by_id["good_000"].mask is None and by_id["good_000"].defect == "good"  # no mask file
    assert by_id["good_001"].defect == "good"  # an all-zero mask is defect-free too
    assert by_id["defect_002"].defect == "defect"
    assert read_mask(by_id["defect_002"].mask).any()


def test_folder_layout_takes_defect_classes_from_the_manifest(tmp_path, folder_set):
    root = tmp_path / "set"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for s in list_samples(folder_set)[:2]:
        (root / "images" / s.image.name).write_bytes(s.image.read_bytes())
    (root / "manifest.csv").write_text("id,category,defect\ndefect_002,x,crack\ndefect_003,x,stain\n")
    assert [s.defect for s in list_samples(root)] == ["crack", "stain"]


def test_mvtec_layout(mvtec_set):
    samples = list_samples(mvtec_set)
    assert [s.id for s in samples] == ["good/000", "good/001", "hole/000", "hole/001", "scratch/000"]
    assert [s.mask is None for s in samples] == [True, True, False, False, False]
    assert samples[2].mask == mvtec_set / "ground_truth" / "hole" / "000_mask.png"
    assert [s.defect for s in samples] == ["good", "good", "hole", "hole", "scratch"]


def test_mvtec_layout_refuses_a_defect_image_without_mask(tmp_path, mvtec_set):
    root = tmp_path / "broken"
    (root / "test" / "hole").mkdir(parents=True)
    (root / "test" / "hole" / "000.png").write_bytes((mvtec_set / "test" / "hole" / "000.png").read_bytes())
    with pytest.raises(DatasetError, match="no mask"):
        list_samples(root)


@pytest.mark.parametrize("make, why", [
    (lambda p: p / "missing", "no such directory"),
    (lambda p: (p / "file.txt").write_text("x") and p / "file.txt", "not a directory"),
    (lambda p: p, "neither images/"),
])
def test_not_a_set_is_refused_with_the_reason(tmp_path, make, why):
    with pytest.raises(DatasetError, match=why):
        list_samples(make(tmp_path))


def test_stratified_limit_is_fixed_and_spread_over_classes():
    samples = [Sample(f"{c}_{i}", None, None, c) for c in ("a", "b", "good") for i in range(5)]
    samples += [Sample("c_0", None, None, "c")]
    picked = stratified(samples, 5)
    # Round-robin over classes in name order, lowest ids first: a, b, c, good, then a again.
    assert [s.id for s in picked] == ["a_0", "a_1", "b_0", "c_0", "good_0"]
    assert stratified(list(reversed(samples)), 5) == picked  # input order does not matter
    assert stratified(samples, None) == samples and stratified(samples, 99) == samples
    with pytest.raises(DatasetError):
        stratified(samples, 0)


def test_the_development_split_stays_out_of_the_test_subset():
    samples = [Sample(f"{c}_{i}", None, None, c) for c in ("a", "b", "good") for i in range(4)]
    test = {s.id for s in stratified(samples, 5)}
    dev = development(samples, 5, 4)
    # The rest, stratified in turn: a_2 and b_2 are the lowest ids left of a and b, good_1 of good.
    assert [s.id for s in dev] == ["a_2", "a_3", "b_2", "good_1"] and not test & {s.id for s in dev}
    assert development(list(reversed(samples)), 5, 4) == dev
    with pytest.raises(DatasetError, match="test subset takes all 12"):
        development(samples, 12, 2)


def test_mask_must_match_the_image_size(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.full((8, 10), 255, np.uint8)).save(path)
    assert read_mask(path, (8, 10)).all()
    with pytest.raises(DatasetError, match="mask is 10x8, image is 12x8"):
        read_mask(path, (8, 12))


def test_mask_values_0_255_and_0_1(tmp_path):
    path = tmp_path / "m.png"
    grey = np.array([[0, 1, 127, 128, 255]], np.uint8)
    Image.fromarray(grey).save(path)
    assert read_mask(path).tolist() == [[False, False, False, True, True]]  # 0/255: above half
    Image.fromarray(np.array([[0, 1, 1, 0]], np.uint8)).save(path)
    assert read_mask(path).tolist() == [[False, True, True, False]]  # a 0/1 mask: 1 is defect
    Image.fromarray(np.zeros((2, 3), np.uint8)).save(path)
    assert not read_mask(path).any()
    Image.fromarray(np.array([[0, 1], [1, 0]], bool)).save(path)  # mode "1" reads as 0/255
    assert read_mask(path).tolist() == [[False, True], [True, False]]


@pytest.mark.parametrize("data, why", [(b"junk\n", "mask is not a recognised image format"),
                                       (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "mask")])
def test_a_mask_that_is_not_an_image_is_a_dataset_error(tmp_path, data, why):
    path = tmp_path / "m.png"
    path.write_bytes(data)
    with pytest.raises(DatasetError, match=why) as info:
        read_mask(path)
    assert str(info.value).startswith(f"{path}: ")


def test_a_truncated_mask_is_a_dataset_error(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(DatasetError, match="mask cannot be decoded"):
        read_mask(path)
