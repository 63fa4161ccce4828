"""GPU discovery without CUDA libraries, and one device per worker process.

``dask_setup`` is a worker preload (``dask worker --preload cluster.gpu``): a batch job with
N GPUs runs N worker processes (``--nworkers N``), which all inherit the job's
CUDA_VISIBLE_DEVICES; each keeps only its own entry, before any task can initialise CUDA.
"""
from __future__ import annotations

import os
import shutil
import subprocess

WORKERS_PER_JOB_ENV = "SSDNET_WORKERS_PER_JOB"
# Set per srun task (from SLURM_LOCALID) by batch scripts that start one worker per task.
GPU_INDEX_ENV = "SSDNET_GPU_INDEX"


def visible_devices() -> list[str] | None:
    """Entries of CUDA_VISIBLE_DEVICES; None when unset (every device is visible)."""
    raw = os.environ.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return None
    return [d.strip() for d in raw.split(",") if d.strip() and d.strip() != "-1"]


def count_gpus() -> int:
    """NVIDIA GPUs this process could use: CUDA_VISIBLE_DEVICES, else ``nvidia-smi -L``."""
    devices = visible_devices()
    if devices is not None:
        return len(devices)
    smi = shutil.which("nvidia-smi")
    if not smi:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def device_for(worker_name: str, per_job: int, devices: list[str] | None) -> str:
    """The one device a worker keeps: by the ``-<i>`` suffix dask worker --nworkers gives names."""
    devices = devices or [str(i) for i in range(per_job)]
    index = 0
    if per_job > 1:
        suffix = str(worker_name).rsplit("-", 1)[-1]
        index = int(suffix) if suffix.isdigit() else 0
    return devices[index % len(devices)]


def dask_setup(worker) -> None:  # noqa: ANN001 - distributed's preload hook
    per_job = int(os.environ.get(WORKERS_PER_JOB_ENV, "1") or 1)
    name = worker.name
    if os.environ.get(GPU_INDEX_ENV, "").isdigit():
        name = f"task-{os.environ[GPU_INDEX_ENV]}"
    os.environ["CUDA_VISIBLE_DEVICES"] = device_for(name, per_job, visible_devices())
