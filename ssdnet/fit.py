"""Fitting fresh U-Nets, each to one image alone: multi-scale corrupted patches -> the clean patch.

``fit_many`` trains K networks at once (stacked weights through ``torch.func.vmap``, which
turns every convolution into one grouped convolution): on a GPU one small fit leaves the
device mostly idle, packed fits fill it. Each network still sees only its own image, its own
random stream's patches and its own gradient; ``fit`` is the K = 1 case of the same code, except
that on a CPU that one network is called directly, in the channels-last layout vmap cannot run
(faster there: docs/PERFORMANCE.md). The patches and corruptions of all K images are drawn
together, on the images' device (:mod:`ssdnet.streams`): no per-image loop, no host sync.
"""
from __future__ import annotations

import copy

import torch
from torch.func import functional_call, stack_module_state, vmap

from .config import Config
from .corruptions import corrupt, sample_patches
from .features import Extractor
from .losses import total_loss
from .model import UNet
from .streams import Streams

MIN_PATCH = 16
MAX_GRAD_NORM = 1.0


def patch_count(batch: int, largest: int, size: int) -> int:
    """Patches of side ``size`` per step: ``batch`` at the ``largest`` side, more at smaller
    sides, so every step sees about the same number of pixels."""
    return max(1, round(batch * (largest / size) ** 2))


def patch_sizes(height: int, width: int, scales: list[int]) -> list[int]:
    """Patch side for each scale: the shorter image side divided by the scale, global to local."""
    short = min(height, width)
    sizes = [min(short, max(MIN_PATCH, short // s)) for s in scales]
    return sorted(set(sizes), reverse=True)


def autocast(cfg: Config, device: torch.device):
    """bfloat16 autocast of the network's arithmetic when ``cfg.precision`` asks for it."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bfloat16")


def new_model(channels: int, cfg: Config, device: torch.device, seed: int | None = None) -> UNet:
    torch.manual_seed(cfg.seed if seed is None else seed)  # network initialisation (callers fork the RNG)
    return UNet(channels=channels, width=cfg.width).to(device)


def _adam(params: list[torch.Tensor], lr: float) -> torch.optim.Adam:
    """Adam as one fused kernel per step where torch has one for the device (CUDA; CPU since
    torch 2.4), else one op per step for all tensors (foreach).

    The default per-tensor loop runs a dozen small ops per weight tensor: on the 2-core Intel
    Xeon (1 thread) a step of the ``fast`` network's Adam took 0.63 ms so, 0.43 foreach, 0.13 fused.
    """
    try:
        return torch.optim.Adam(params, lr=lr, fused=True)
    except RuntimeError:  # no fused kernel for this device in this torch
        return torch.optim.Adam(params, lr=lr, foreach=True)


def _clip_per_model(params: dict[str, torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` applied to each stacked model separately.

    All on the device: the norms are never read on the host, every model is scaled by its own
    (clamped) factor, so a step queues its kernels without waiting for them.
    """
    grads = [p.grad for p in params.values() if p.grad is not None]
    k = grads[0].shape[0]
    norms = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.reshape(k, -1), dim=1)
                                                  for g in grads]), dim=0)
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))


def fit_many(images: torch.Tensor, cfg: Config, extractor: Extractor, gens: list[torch.Generator],
             seeds: list[int] | None = None) -> list[UNet]:
    """Train one network per image of ``images`` (K, C, H, W) and return them in eval mode.

    Network i starts from ``seeds[i]`` (``cfg.seed`` by default) and draws its patches and
    corruptions from the stream keyed by ``gens[i].initial_seed()`` (only the generator's seed
    is used, its state is not advanced): the same image twice with two seeds is a two-network
    ensemble.

    Each step uses one patch scale, cycling largest to smallest. The patch count is scaled
    so every step sees about the same number of pixels: small patches are cheap, and
    without more of them the local scale would be undertrained.
    """
    k, c, h, w = images.shape
    models = [new_model(c, cfg, images.device, None if seeds is None else seeds[i]) for i in range(k)]
    params, buffers = stack_module_state(models)
    template = copy.deepcopy(models[0]).to("meta")

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    # One network on a CPU runs without vmap, in the channels-last layout vmap cannot run: there
    # that layout spares the memory reordering around every convolution (bench/step_speed.py:
    # a width-12 step 37 -> 25 ms on an Intel Xeon, docs/PERFORMANCE.md).
    batched = _one_channels_last(template) if k == 1 and images.device.type == "cpu" else vmap(forward)
    opt = _adam(list(params.values()), cfg.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=0.3)
    sizes = patch_sizes(h, w, cfg.scale_list)
    kept = max(1, round(cfg.average * cfg.steps)) if cfg.average > 0 else 0  # last steps averaged
    averaged = {name: torch.zeros_like(t) for name, t in params.items()} if kept else {}
    # Every step's four draws (patches, shuffle, mask, noise) of every image, keyed in one op.
    streams = Streams.from_seeds([g.initial_seed() for g in gens], images.device).split(cfg.steps, 4)
    for step in range(cfg.steps):
        p = sizes[step % len(sizes)]
        count = patch_count(cfg.batch, sizes[0], p)
        draws = streams[step]
        clean = sample_patches(images, p, count, draws[0])
        noisy = corrupt(clean, mask_ratio=cfg.mask_ratio, mask_grid=cfg.mask_grid, shuffle_grid=cfg.shuffle_grid,
                        shuffle_prob=cfg.shuffle_prob, noise_sigma=cfg.noise_sigma, rng=draws[1:])
        with autocast(cfg, images.device):
            out = batched(params, buffers, noisy).float()
        # Mean over all K*count patches times K = the sum of the K models' own losses, so each
        # model's gradient is exactly that of its own loss.
        loss = k * total_loss(out.flatten(0, 1), clean.flatten(0, 1), extractor,
                              cfg.pixel_weight, cfg.perceptual_weight, cfg.trim)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _clip_per_model(params, MAX_GRAD_NORM)
        opt.step()
        sched.step()
        if step >= cfg.steps - kept:
            torch._foreach_add_(list(averaged.values()), [t.detach() for t in params.values()], alpha=1.0 / kept)
    params = {**params, **averaged}
    for i, model in enumerate(models):
        model.load_state_dict({name: t[i].detach() for name, t in {**params, **buffers}.items()})
        model.eval()
    return models


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def _one_channels_last(template: torch.nn.Module):
    """The batched forward of ``fit_many`` for K = 1: the stacked weights' only network called
    directly, its convolution weights and input in the channels-last layout (copies inside the
    autograd graph, so the gradients still reach the stacked weights)."""
    def forward(params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        weights = {name: _channels_last(t[0]) for name, t in params.items()}
        state = {name: t[0] for name, t in buffers.items()}
        return functional_call(template, (weights, state), (_channels_last(x[0]),))[None].contiguous()
    return forward


def fit(image: torch.Tensor, cfg: Config, extractor: Extractor, gen: torch.Generator) -> UNet:
    """Train a new network on ``image`` (C, H, W) alone."""
    return fit_many(image[None], cfg, extractor, [gen])[0]
