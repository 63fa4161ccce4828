import numpy as np
import pytest
from PIL import Image

from ssdnet.imageio import ImageError, load_image, working_shape


def save(tmp_path, name, arr, mode=None, **kw):
    p = tmp_path / name
    (Image.fromarray(arr, mode) if mode else Image.fromarray(arr)).save(p, **kw)
    return p


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp"])
def test_reads_common_formats(tmp_path, ext):
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    arr = load_image(save(tmp_path, f"a.{ext}", rgb))
    assert arr.shape == (20, 30, 3) and arr.dtype == np.float32
    assert 0 <= arr.min() and arr.max() <= 1


def test_gray_palette_rgba_and_16_bit(tmp_path):
    gray = np.arange(600, dtype=np.uint8).reshape(20, 30)
    assert load_image(save(tmp_path, "g.png", gray)).shape == (20, 30, 1)
    pal = Image.fromarray(np.random.default_rng(1).integers(0, 255, (20, 30, 3), dtype=np.uint8)).convert("P")
    pal.save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (20, 30, 3)
    rgba = np.dstack([np.random.default_rng(2).integers(0, 255, (20, 30, 3), dtype=np.uint8),
                      np.full((20, 30), 128, np.uint8)])
    assert load_image(save(tmp_path, "a.png", rgba)).shape == (20, 30, 3)
    deep = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100)
    Image.fromarray(deep).save(tmp_path / "d.png")
    arr = load_image(tmp_path / "d.png")
    assert arr.shape == (20, 30, 1)
    # 16-bit keeps its range: the brightest pixel is 59900/65535, not clipped to 1.
    assert abs(arr.max() - 59900 / 65535) < 1e-4


def test_rgb_of_a_gray_scene_becomes_one_channel(tmp_path):
    gray = np.random.default_rng(0).integers(0, 255, (10, 12), dtype=np.uint8)
    assert load_image(save(tmp_path, "c.png", np.dstack([gray] * 3))).shape == (10, 12, 1)


@pytest.mark.parametrize("content,reason", [
    (None, "no such file"), (b"", "empty file"), (b"hello, not an image", "not a recognised image"),
])
def test_bad_files_have_one_line_reasons(tmp_path, content, reason):
    p = tmp_path / "bad.png"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(ImageError, match=reason) as info:
        load_image(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_truncated_file_is_reported(tmp_path):
    p = save(tmp_path, "t.png", np.random.default_rng(0).integers(0, 255, (64, 64), dtype=np.uint8))
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(ImageError, match="truncated|corrupt|decode"):
        load_image(p)


def test_max_pixels_refuses_before_decoding(tmp_path):
    p = save(tmp_path, "big.png", np.zeros((100, 100), np.uint8))
    with pytest.raises(ImageError, match="more than --max-pixels 5000"):
        load_image(p, max_pixels=5000)


def test_working_shape_scales_the_shorter_side_and_never_upsamples():
    assert working_shape(1024, 1024, 256) == (256, 256)
    assert working_shape(256, 4096, 256) == (256, 4096)
    assert working_shape(512, 2048, 256) == (256, 1024)
    assert working_shape(100, 80, 256) == (100, 80)
