import pytest
import torch

import ssdnet
from ssdnet.features import VGG19, WeightsNotFound, build_extractor, find_vgg19_weights

# torchvision's vgg19().features conv layers: (index, in, out); the full file also has the
# deeper layers and the classifier, which a real checkpoint carries and the loader must ignore.
_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256)]


def write_torchvision_vgg19(path, seed=0):
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for i, cin, cout in _CONVS:
        state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=gen) * 0.05
        state[f"features.{i}.bias"] = torch.randn(cout, generator=gen) * 0.01
    state["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(state, path)
    return state


def test_vgg19_loads_torchvision_weights_from_a_file(tmp_path):
    state = write_torchvision_vgg19(tmp_path / "vgg19.pth")
    net = VGG19(str(tmp_path / "vgg19.pth"))
    assert torch.equal(net.features[10].weight, state["features.10.weight"])
    assert torch.equal(net.features[0].bias, state["features.0.bias"])
    a = torch.rand(1, 1, 32, 32)
    assert torch.allclose(net.cosine_map(a, a), torch.ones(1, 1, 32, 32), atol=1e-4)


def test_vgg19_finds_weights_in_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    write_torchvision_vgg19(hub / "vgg19-dcbb9e9d.pth", seed=3)
    assert find_vgg19_weights("") == hub / "vgg19-dcbb9e9d.pth"
    assert isinstance(build_extractor("vgg19", 1), VGG19)


def test_missing_weights_give_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(WeightsNotFound, match="--vgg19-weights"):
        VGG19("")
    with pytest.raises(WeightsNotFound, match="no such file"):
        VGG19(str(tmp_path / "nope.pth"))


def test_wrong_file_is_refused(tmp_path):
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "x.pth")
    with pytest.raises(WeightsNotFound, match="missing|wrong shapes"):
        VGG19(str(tmp_path / "x.pth"))
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(WeightsNotFound, match="cannot load"):
        VGG19(str(tmp_path / "junk.pth"))


def test_detect_records_the_extractor_that_ran(tmp_path):
    write_torchvision_vgg19(tmp_path / "w.pth")
    img = torch.rand(40, 40).numpy()
    r = ssdnet.detect(img, preset="fast", steps=3, features="vgg19", vgg19_weights=str(tmp_path / "w.pth"))
    assert r.feature_extractor == "vgg19" and r.config.features == "vgg19"
    r2 = ssdnet.detect(img, preset="fast", steps=3, features="randconv")
    assert r2.feature_extractor == "randconv"
    assert r.map.shape == r2.map.shape == (40, 40)
