"""How many fits to pack onto one GPU: measured, not guessed.

One fit of a 256x256 image uses a few hundred MB of a GPU that has tens of GB; packing K fits
(``map_for_arrays(..., pack=K)``) fills it. Memory caps K: the free memory divided by what one
fit of this configuration was measured to need on this very device. Within that cap a short
sweep times packs of 1, 2, 4, ... fits and takes the smallest K beyond which the fits per
minute stop growing: a larger pack only delays every result of it.
"""
from __future__ import annotations

import functools
import time
from typing import Any

import numpy as np
import torch

from .api import map_for_arrays, resolve_device
from .config import Config, ConfigError

MAX_PACK = 128  # the sweep's largest candidate
SWEEP_STEPS = 12  # steps of each timed fit: enough for the step time to dominate the set-up
KNEE_TOLERANCE = 0.1  # a pack within 10 % of the best rate is as good: take the smaller one


def describe_device(device: str = "auto") -> dict[str, Any]:
    """What a fit in this process would run on: ``device`` (e.g. ``cuda:0``), ``type`` (cpu,
    cuda), ``name``, ``free_bytes`` and ``total_bytes`` (CUDA only, else 0) and ``error`` (why
    ``device`` cannot be used here, else empty). A scan asks every worker this."""
    try:
        dev = resolve_device(device)
    except ConfigError as exc:
        return {"device": device, "type": "none", "name": "", "free_bytes": 0, "total_bytes": 0, "error": str(exc)}
    if dev.type != "cuda":
        return {"device": str(dev), "type": dev.type, "name": "", "free_bytes": 0, "total_bytes": 0, "error": ""}
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    free, total = torch.cuda.mem_get_info(index)
    return {"device": f"cuda:{index}", "type": "cuda", "name": torch.cuda.get_device_name(index),
            "free_bytes": int(free), "total_bytes": int(total), "error": ""}


def _probe_images(k: int, channels: int, height: int, width: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((height, width, channels), dtype=np.float32) for _ in range(k)]


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fit_bytes(cfg: Config, channels: int, height: int, width: int, device: torch.device) -> int:
    """Peak CUDA memory of one short fit plus its heatmap (K = 1) on ``device``."""
    _synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    map_for_arrays(_probe_images(1, channels, height, width), cfg.replace(steps=min(cfg.steps, 3),
                                                                          device=str(device)), pack=1)
    _synchronize(device)
    return max(1, torch.cuda.max_memory_allocated(device) - base)


def memory_cap(cfg: Config, channels: int, height: int, width: int, device: torch.device,
               budget: float = 0.5) -> int:
    """The most fits ``budget`` x the free memory holds (1 off CUDA), at most :data:`MAX_PACK`.

    ``budget`` leaves room for longer-than-square images, for the allocator's fragmentation and
    for other processes on the device.
    """
    if device.type != "cuda":
        return 1
    per_fit = fit_bytes(cfg, channels, height, width, device)
    free, _total = torch.cuda.mem_get_info(device)
    return int(max(1, min(MAX_PACK, budget * free // per_fit)))


def sweep(cfg: Config, packs: list[int], channels: int, height: int, width: int,
          steps: int = SWEEP_STEPS) -> dict[int, float]:
    """Fits per minute (fit and heatmap) of packs of each size in ``packs``: short fits of
    ``steps`` steps of random images, each timed after an untimed one-step fit of the same pack
    (kernels, allocator)."""
    short = cfg.replace(steps=min(cfg.steps, steps))
    device = resolve_device(cfg.device)
    rates = {}
    for k in packs:
        images = _probe_images(k, channels, height, width)
        map_for_arrays(images, short.replace(steps=1), pack=k)
        _synchronize(device)
        start = time.perf_counter()
        map_for_arrays(images, short, pack=k)
        _synchronize(device)
        rates[k] = 60 * k / (time.perf_counter() - start)
    return rates


def knee(rates: dict[int, float], tolerance: float = KNEE_TOLERANCE) -> int:
    """The smallest pack whose fits per minute are within ``tolerance`` of the best pack's."""
    best = max(rates.values())
    return min(k for k, r in rates.items() if r >= (1 - tolerance) * best)


def candidates(cap: int) -> list[int]:
    """Pack sizes the sweep times: 1, 2, 4, ... up to ``cap`` (and ``cap`` itself)."""
    out = [1]
    while out[-1] * 2 <= cap:
        out.append(out[-1] * 2)
    return out if out[-1] == cap else out + [cap]


@functools.lru_cache(maxsize=16)
def _measured(cfg: Config, channels: int, height: int, width: int, budget: float) -> int:
    """:func:`pack_size` on ``cfg.device``, a CUDA device named with its index (kept per process)."""
    cap = memory_cap(cfg, channels, height, width, torch.device(cfg.device), budget)
    if cap == 1:
        return 1
    return knee(sweep(cfg, candidates(cap), channels, height, width))


def pack_size(cfg: Config, channels: int = 3, height: int | None = None, width: int | None = None,
              device: torch.device | str | None = None, budget: float = 0.5) -> int:
    """Fits to pack per call: 1 off CUDA; on CUDA the knee of a measured sweep (:func:`sweep`,
    :func:`knee`) under the memory cap (:func:`memory_cap`).

    The probe images are ``height`` x ``width`` (the working size by default) with ``channels``
    channels (colour by default, the larger case). The answer is kept per process, so a worker
    sweeps once per configuration, not once per scan.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device or cfg.device)
    if dev.type != "cuda":
        return 1
    if dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())
    height, width = height or cfg.size, width or cfg.size
    return _measured(cfg.replace(device=str(dev)), channels, height, width, budget)
