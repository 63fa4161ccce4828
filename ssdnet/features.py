"""Feature extractors for the inner-product (cosine) perceptual loss and error map.

Each extractor maps two image batches (B, C, H, W) in [0, 1] to a per-pixel cosine
similarity map (B, 1, H, W) in [-1, 1]. Extractors are fixed (never trained) and carry no
state that depends on the fitted image, so one instance serves a whole process.
"""
from __future__ import annotations

import glob
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .config import ConfigError

# Variance floor: a flat window has zero variance and its normalised correlation would be
# 0/0. With the floor a flat pair scores 0 similarity and a finite gradient.
_VAR_EPS = 1e-4


class Extractor(nn.Module):
    name = "base"

    def cosine_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="reflect"), k, stride=1)


class PatchNCC(Extractor):
    """Weight-free: the features of a pixel are its k x k neighbourhood minus the local mean.

    Their cosine is the local normalised cross-correlation, computed with box filters
    instead of unfolding (k*k*C channels would cost k*k more memory). Channels are pooled
    into one vector, so colour and gray images score on the same scale.
    """

    name = "patchncc"

    def __init__(self, kernel: int = 7):
        super().__init__()
        self.kernel = kernel

    def cosine_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        ma, mb = _box(a, k), _box(b, k)
        cov = (_box(a * b, k) - ma * mb).sum(1, keepdim=True)
        va = (_box(a * a, k) - ma * ma).clamp_min(0).sum(1, keepdim=True)
        vb = (_box(b * b, k) - mb * mb).clamp_min(0).sum(1, keepdim=True)
        return cov / torch.sqrt((va + _VAR_EPS) * (vb + _VAR_EPS))


def _cosine(fa: torch.Tensor, fb: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    cos = F.cosine_similarity(fa, fb, dim=1, eps=1e-6).unsqueeze(1)
    if cos.shape[-2:] != size:
        cos = F.interpolate(cos, size=size, mode="bilinear", align_corners=False)
    return cos


class RandConv(Extractor):
    """Weight-free: a two-level bank of fixed random 3x3 filters (seeded, never trained).

    Random convolutional features keep much of what a pretrained network's early layers
    measure (local structure at two scales) with no download.
    """

    name = "randconv"

    def __init__(self, channels: int = 1, width: int = 32, seed: int = 1234):
        super().__init__()
        # Drawn on the CPU, whatever the device: the same seed gives the same filters everywhere,
        # and buffers follow the module's .to(device).
        gen = torch.Generator().manual_seed(seed)
        w1 = torch.randn(width, channels, 3, 3, generator=gen, device="cpu") / (3 * channels) ** 0.5
        w2 = torch.randn(2 * width, width, 3, 3, generator=gen, device="cpu") / (3 * width) ** 0.5
        self.register_buffer("w1", w1 - w1.mean(dim=(1, 2, 3), keepdim=True))
        self.register_buffer("w2", w2)

    def cosine_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        size = a.shape[-2:]
        x = torch.cat([a, b])
        f1 = F.leaky_relu(F.conv2d(F.pad(x, (1,) * 4, mode="reflect"), self.w1), 0.1)
        f2 = F.leaky_relu(F.conv2d(F.pad(F.avg_pool2d(f1, 2), (1,) * 4, mode="reflect"), self.w2), 0.1)
        n = a.shape[0]
        return 0.5 * (_cosine(f1[:n], f1[n:], size) + _cosine(f2[:n], f2[n:], size))


# torchvision's vgg19().features layout up to relu3_1: (index, in, out) of each conv.
_VGG19_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256)]
_VGG19_TAPS = (3, 8, 11)  # after relu1_2, relu2_2, relu3_1
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class WeightsNotFound(ConfigError, FileNotFoundError):
    """The vgg19 extractor was asked for and no usable weights were found."""


def find_vgg19_weights(path: str = "") -> Path:
    """An explicit path, else a vgg19*.pth in torch hub's checkpoint cache."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFound(f"VGG19 weights {p}: no such file")
        return p
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(glob.glob(str(hub / "vgg19*.pth")))
    if not found:
        raise WeightsNotFound(
            f"no VGG19 weights: pass --vgg19-weights PATH or put torchvision's vgg19-dcbb9e9d.pth in {hub}"
        )
    return Path(found[0])


class VGG19(Extractor):
    """The first three blocks of VGG19, defined here so no torchvision is needed.

    Layer indices match ``torchvision.models.vgg19().features`` so its ImageNet state dict
    (keys ``features.N.weight``) loads directly.
    """

    name = "vgg19"

    def __init__(self, weights: str = ""):
        super().__init__()
        layers: list[nn.Module] = []
        convs = {i: (cin, cout) for i, cin, cout in _VGG19_CONVS}
        for i in range(_VGG19_TAPS[-1] + 1):
            if i in convs:
                layers.append(nn.Conv2d(*convs[i], 3, padding=1))
            elif i in (4, 9):
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        # Buffers: made on the CPU, moved with the module by .to(device).
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN, device="cpu").view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD, device="cpu").view(1, 3, 1, 1))
        self.weights_path = str(find_vgg19_weights(weights))
        self._load(self.weights_path)
        self.requires_grad_(False)

    def _load(self, path: str) -> None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - a corrupt file can raise many types
            raise WeightsNotFound(f"VGG19 weights {path}: cannot load ({exc})") from None
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        wanted = {}
        for i, cin, cout in _VGG19_CONVS:
            for kind in ("weight", "bias"):
                key = f"features.{i}.{kind}"
                if key not in state:
                    raise WeightsNotFound(f"VGG19 weights {path}: missing {key}; not a torchvision VGG19 file")
                wanted[f"{i}.{kind}"] = state[key]
        try:
            self.features.load_state_dict(wanted)
        except RuntimeError as exc:
            raise WeightsNotFound(f"VGG19 weights {path}: wrong shapes ({exc})") from None

    def cosine_map(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        size = a.shape[-2:]
        x = torch.cat([a, b])
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        n = a.shape[0]
        maps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _VGG19_TAPS:
                maps.append(_cosine(x[:n], x[n:], size))
        return torch.stack(maps).mean(0)


def build_extractor(name: str, channels: int, vgg19_weights: str = "") -> Extractor:
    if name == "patchncc":
        return PatchNCC()
    if name == "randconv":
        return RandConv(channels)
    if name == "vgg19":
        return VGG19(vgg19_weights)
    raise ValueError(f"unknown feature extractor {name!r}")
