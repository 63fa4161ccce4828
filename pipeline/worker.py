"""What runs on a Dask worker: the per-image task and the plugin that sets torch's threads.

Workers get a descriptor of each image (:mod:`pipeline.reading`), read its bytes from the source
themselves, hash them there, fit, and write its map and thumbnail chunks into the store's
``.incoming`` folder (:mod:`pipeline.chunks`); they return only the index row. Where that folder
is not reachable, the row carries the map and thumbnail to the client instead.
"""
from __future__ import annotations

import os
import signal
import time
from typing import Any

import numpy as np
from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from PIL import Image

import ssdnet
from cluster.gpu import WORKERS_PER_JOB_ENV, device_for
from pipeline.chunks import stage
from pipeline.integrity import MAP_CRC, map_checksum
from pipeline.layout import browse_factor, browse_spec, downsample, map_spec, thumb_shape, thumb_spec
from pipeline.malloc import keep_freed_memory
from pipeline.reading import Descriptor, ReadError, read_and_hash
from ssdnet.overlay import to_rgb8


def thumbnail(image: np.ndarray) -> np.ndarray:
    """uint8 (ty, tx, 3): the image with its longer side at most ``pipeline.layout.THUMB_MAX`` pixels."""
    rgb = to_rgb8(image)
    ty, tx = thumb_shape(*rgb.shape[:2])
    if (ty, tx) == rgb.shape[:2]:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((tx, ty), Image.Resampling.BOX))


def now_ns() -> int:
    return time.time_ns()


def gpu_index(worker_name: Any, count: int, spread: bool) -> int:
    """The CUDA device a worker that sees ``count`` devices fits on.

    ``spread``: the workers of a cluster the scan started on this machine all see every GPU, and
    each takes the one its name (0..n-1) gives. Elsewhere the cluster has placed its workers
    already: dask-cuda lists a worker's own GPU first in its CUDA_VISIBLE_DEVICES, and a batch
    job's preload (``cluster.gpu``) keeps only the worker's own; a job's workers that still see
    several GPUs pick theirs by the ``-<i>`` suffix of their names, as that preload does.
    """
    if count <= 1:
        return 0
    if spread:
        return (worker_name if isinstance(worker_name, int) else 0) % count
    per_job = int(os.environ.get(WORKERS_PER_JOB_ENV, "1") or 1)
    return int(device_for(str(worker_name), per_job, [str(i) for i in range(count)])) % count


class TorchThreads(WorkerPlugin):
    """Give each worker process ``threads`` torch threads and, where it sees a GPU, its own GPU
    (:func:`gpu_index`), then warm torch up with one tiny fit.

    The nanny starts workers with OMP_NUM_THREADS=1, so torch has to be told in the worker.
    A process's first fit costs seconds more than the next (kernel set-up); done here, before
    the worker takes tasks (it handles none until its plugins are set up), it never counts
    against --timeout, also on a worker the nanny has just restarted.
    """

    name = "ssdnet-torch-threads"

    def __init__(self, threads: int, spread: bool = False, cfg: ssdnet.Config | None = None,
                 ignore_interrupt: bool = False):
        self.threads = threads
        self.spread = spread
        self.cfg = cfg
        self.ignore_interrupt = ignore_interrupt

    def setup(self, worker: Any) -> None:
        import torch

        if self.ignore_interrupt:
            # Workers of a cluster this process started share its terminal: Ctrl-C reaches them
            # too, and each would print a traceback. The scan handles Ctrl-C and stops them.
            try:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            except ValueError:
                pass  # not the worker's main thread: leave it
        keep_freed_memory()
        if self.threads > 0:
            torch.set_num_threads(self.threads)
        wants_cuda = self.cfg is None or self.cfg.device in ("auto", "cuda")  # cuda:N names its own
        if wants_cuda and torch.cuda.is_available():
            torch.cuda.set_device(gpu_index(worker.name, torch.cuda.device_count(), self.spread))
        if self.cfg is not None and not ssdnet.describe_device(self.cfg.device)["error"]:
            texture = np.random.default_rng(0).random((32, 32, 1), dtype=np.float32)
            ssdnet.map_for_array(texture, self.cfg.replace(steps=2))


def _announce(topic: str, token: str, message: dict[str, Any]) -> None:
    """Tell the client about a task: ``{"kind": "start", "shape": ...}`` when its fit starts (the
    client measures --timeout from then: time queued on the cluster does not count), and
    ``{"kind": "map", "done": n}`` as each of its images' maps is made (a long pack's progress)."""
    if not topic:
        return
    try:
        worker = get_worker()
    except ValueError:
        return  # not on a worker (called directly): nobody is listening
    worker.log_event(topic, {"token": token, "worker": worker.address, **message})


def _record(image_id: str, worker: str, image: np.ndarray, m: np.ndarray, texture_share: float,
            map_dtype: str, seconds: float) -> dict[str, Any]:
    smax, sp99, smean = ssdnet.map_scores(m)
    h, w = image.shape[:2]
    return {"id": image_id, "worker": worker, "height": h, "width": w, "status": "ok", "error": "",
            "map": m.astype(map_dtype, copy=False), "thumbnail": thumbnail(image), "score_max": smax,
            "score_p99": sp99, "score_mean": smean, "texture_share": texture_share, "seconds": seconds,
            "finished_at": now_ns()}


def _failure(image_id: str, worker: str, shape: tuple[int, int], error: str, seconds: float) -> dict[str, Any]:
    return {"id": image_id, "worker": worker, "height": shape[0], "width": shape[1], "status": "failed",
            "error": error, "seconds": seconds, "finished_at": now_ns()}


def fit_images(token: str, topic: str, items: list[tuple[str, Descriptor, str]], cfg: ssdnet.Config,
               map_dtype: str, incoming: str = "") -> list[dict[str, Any]]:
    """Read, hash, decode, fit and summarise a few images, packed onto the device together.

    ``items``: (id, descriptor, sha256 of the store's ok row or ''). An image whose bytes hash to
    its ok row's is not fitted: its row says ``unchanged`` (a touched file, ``--verify``).
    Any failure is a row, never an exception. When the packed fit fails (out of memory, say),
    each image is fitted alone, so one bad image costs only its own row. ``seconds`` of a
    packed image is its share of the pack's time. Every row carries the sha256 of what was read.
    ``incoming``: the store's folder for this scan's chunks, where this worker writes them.
    """
    start = time.perf_counter()
    try:
        worker = get_worker().address
    except ValueError:
        worker = ""
    rows: dict[str, dict[str, Any]] = {}
    images: dict[str, np.ndarray] = {}
    shas: dict[str, str] = {}
    for image_id, desc, known in items:
        try:
            data, shas[image_id] = read_and_hash(desc)
            if known and shas[image_id] == known:
                rows[image_id] = {"id": image_id, "status": "unchanged", "worker": worker}
                continue
            images[image_id] = ssdnet.load_image(data, cfg.max_pixels)
        except ReadError as exc:
            rows[image_id] = _failure(image_id, worker, (0, 0), exc.reason, time.perf_counter() - start)
        except ssdnet.ImageError as exc:
            rows[image_id] = _failure(image_id, worker, (0, 0), exc.reason, time.perf_counter() - start)
    single = next(iter(images.values())).shape[:2] if len(images) == 1 else None
    _announce(topic, token, {"kind": "start", "shape": list(single) if single else None})
    rows.update(_fit(token, topic, images, cfg, map_dtype, worker, start, len(items)))
    # Checked on the worker itself: a worker that joined after the client's probe may not see it.
    writes = bool(incoming) and os.path.isdir(incoming)
    for image_id, row in rows.items():
        row["sha256"] = shas.get(image_id, "")
        if writes and "map" in row:
            _stage_row(row, incoming, map_dtype)
    return [rows[image_id] for image_id, _, _ in items]


def _stage_row(row: dict[str, Any], incoming: str, map_dtype: str) -> None:
    """Write the row's map and thumbnail chunks and name them in the row instead of carrying them.
    Should the write fail (a full disk on the worker's side), the row carries them after all."""
    try:
        h, w = row["height"], row["width"]
        map_file = stage(incoming, row["map"], map_spec(h, w, map_dtype))
        thumb_file = stage(incoming, row["thumbnail"], thumb_spec(h, w))
        browse_file = stage(incoming, downsample(row["map"], browse_factor(h, w)), browse_spec(h, w))
    except OSError:
        return
    # finished_at after the chunks exist
    row.update(map_file=map_file, thumb_file=thumb_file, browse_file=browse_file, finished_at=now_ns())
    row[MAP_CRC] = map_checksum(row.pop("map"), map_dtype)
    del row["thumbnail"]


def _fit(token: str, topic: str, images: dict[str, np.ndarray], cfg: ssdnet.Config, map_dtype: str,
         worker: str, start: float, count: int) -> dict[str, dict[str, Any]]:
    """The rows of decoded images, fitted as one pack (or one by one, should the pack fail)."""
    made = 0

    def one_more(_index: int) -> None:
        nonlocal made
        made += 1
        _announce(topic, token, {"kind": "map", "done": made})

    rows: dict[str, dict[str, Any]] = {}
    if not images:
        return rows
    ids = list(images)
    began = time.perf_counter()
    try:
        maps, texture_shares = ssdnet.maps_and_shares([images[i] for i in ids], cfg, pack=len(ids),
                                                      on_map=one_more if len(ids) > 1 else None)
        each = (time.perf_counter() - began) / len(ids)
        for i, m, texture_share in zip(ids, maps, texture_shares):
            rows[i] = _record(i, worker, images[i], m, texture_share, map_dtype, each + (began - start) / count)
    except Exception as exc:  # noqa: BLE001 - one image's failure must not end the scan
        if len(ids) == 1:
            i = ids[0]
            rows[i] = _failure(i, worker, images[i].shape[:2], f"fit failed: {type(exc).__name__}: {exc}",
                               time.perf_counter() - start)
        else:
            for i in ids:
                rows.update(_fit(token, "", {i: images[i]}, cfg, map_dtype, worker, time.perf_counter(), 1))
    return rows
