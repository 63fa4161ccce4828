"""How many fits to pack onto one GPU: measured, not guessed.

One fit of a 256x256 image uses a few hundred MB of a GPU that has tens of GB; packing K
fits (``map_for_arrays(..., pack=K)``) fills it. K comes from the memory that is free now
divided by what one fit of this configuration was measured to need on this very device.
"""
from __future__ import annotations

import numpy as np
import torch

from .api import map_for_arrays, resolve_device
from .config import Config

MAX_PACK = 64  # beyond this the device is saturated anyway; bigger packs only delay results


def fit_bytes(cfg: Config, channels: int, height: int, width: int, device: torch.device) -> int:
    """Peak CUDA memory of one short fit plus its heatmap (K = 1) on ``device``."""
    probe = np.random.default_rng(0).random((height, width, channels), dtype=np.float32)
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    map_for_arrays([probe], cfg.replace(steps=min(cfg.steps, 3), device=str(device)), pack=1)
    torch.cuda.synchronize(device)
    return max(1, torch.cuda.max_memory_allocated(device) - base)


def pack_size(cfg: Config, channels: int = 3, height: int | None = None, width: int | None = None,
              device: torch.device | str | None = None, budget: float = 0.5) -> int:
    """Fits to pack per call: 1 off CUDA; on CUDA, ``budget`` x free memory / one fit's peak.

    The probe is a ``size`` x ``size`` image with ``channels`` channels (colour by default,
    the larger case); ``budget`` leaves room for longer-than-square images, for the
    allocator's fragmentation and for other processes on the device.
    """
    dev = device if isinstance(device, torch.device) else resolve_device(device or cfg.device)
    if dev.type != "cuda":
        return 1
    height, width = height or cfg.size, width or cfg.size
    per_fit = fit_bytes(cfg, channels, height, width, dev)
    free, _total = torch.cuda.mem_get_info(dev)
    return int(max(1, min(MAX_PACK, budget * free // per_fit)))
