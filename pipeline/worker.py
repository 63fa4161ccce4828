"""What runs on a Dask worker: the per-image task and the plugin that sets torch's threads.

Workers are pure compute: they get an image's bytes and return its map, thumbnail and scores.
They never touch the sources or the store, so a cluster needs no shared filesystem.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from PIL import Image

import ssdnet
from ssdnet.overlay import to_rgb8

THUMB_MAX = 256


def thumb_shape(height: int, width: int) -> tuple[int, int]:
    scale = min(1.0, THUMB_MAX / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def thumbnail(image: np.ndarray) -> np.ndarray:
    """uint8 (ty, tx, 3): the image with its longer side at most THUMB_MAX pixels."""
    rgb = to_rgb8(image)
    ty, tx = thumb_shape(*rgb.shape[:2])
    if (ty, tx) == rgb.shape[:2]:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((tx, ty), Image.Resampling.BOX))


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Let glibc keep freed memory for reuse instead of handing it back to the OS at once.

    The nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed's
    ``pre-spawn-environ``). Setting it fixes glibc's mmap threshold at 128 KiB, so every
    tensor of a fit is a fresh mmap and its pages fault in again on first touch: measured,
    a `fast` fit took 8.4 s in such a process against 4.1-4.6 s without it. A fit allocates
    the same tensors step after step; keeping them is both faster and bounded (one fit's
    working set). Returns False where there is no glibc (nothing to change).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(_M_TRIM_THRESHOLD, 256 << 20))


def now_ns() -> int:
    return time.time_ns()


class TorchThreads(WorkerPlugin):
    """Give each worker process ``threads`` torch threads and, with CUDA, its own GPU, then warm
    torch up with one tiny fit.

    The nanny starts workers with OMP_NUM_THREADS=1, so torch has to be told in the worker.
    A process's first fit costs seconds more than the next (kernel set-up); done here, before
    the worker takes tasks (it handles none until its plugins are set up), it never counts
    against --timeout, also on a worker the nanny has just restarted.
    """

    name = "ssdnet-torch-threads"

    def __init__(self, threads: int, gpu: bool = False, cfg: ssdnet.Config | None = None):
        self.threads = threads
        self.gpu = gpu
        self.cfg = cfg

    def setup(self, worker: Any) -> None:
        import torch

        keep_freed_memory()
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        if self.gpu and torch.cuda.is_available():
            # LocalCluster names its workers 0..n-1: one GPU each.
            index = worker.name if isinstance(worker.name, int) else 0
            torch.cuda.set_device(index % torch.cuda.device_count())
        if self.cfg is not None:
            texture = np.random.default_rng(0).random((32, 32, 1), dtype=np.float32)
            ssdnet.map_for_array(texture, self.cfg.replace(steps=2))


def _announce(topic: str, token: str, shape: tuple[int, int] | None) -> None:
    # The client measures --timeout from this event: time queued on the cluster does not count.
    try:
        worker = get_worker()
    except ValueError:
        return  # not on a worker (called directly): nobody is timing us
    worker.log_event(topic, {"token": token, "worker": worker.address, "shape": list(shape) if shape else None})


def fit_image(token: str, topic: str, image_id: str, data: bytes, cfg: ssdnet.Config,
              map_dtype: str) -> dict[str, Any]:
    """Decode, fit and summarise one image; any failure is a result, never an exception."""
    start = time.perf_counter()
    try:
        worker = get_worker().address
    except ValueError:
        worker = ""
    out: dict[str, Any] = {"id": image_id, "worker": worker, "height": 0, "width": 0}
    try:
        image = ssdnet.load_image(data, cfg.max_pixels)
    except ssdnet.ImageError as exc:
        _announce(topic, token, None)
        return {**out, "status": "failed", "error": exc.reason,
                "seconds": time.perf_counter() - start, "finished_at": now_ns()}
    h, w = image.shape[:2]
    out.update(height=h, width=w)
    _announce(topic, token, (h, w))
    try:
        m = ssdnet.map_for_array(image, cfg)
    except Exception as exc:  # noqa: BLE001 - one image's failure must not end the scan
        return {**out, "status": "failed", "error": f"fit failed: {type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - start, "finished_at": now_ns()}
    smax, sp99, smean = ssdnet.map_scores(m)
    return {**out, "status": "ok", "error": "", "map": m.astype(map_dtype, copy=False),
            "thumbnail": thumbnail(image), "score_max": smax, "score_p99": sp99, "score_mean": smean,
            "seconds": time.perf_counter() - start, "finished_at": now_ns()}
