"""Scan test inputs: small generated images, archives of them, and their reference maps."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import ssdnet
from ssdnet.synthetic import make_example

# Small images and few steps: each fit well under a second on one thread.
FAST = {"preset": "fast", "steps": 10}
CFG = ssdnet.resolve(preset="fast", steps=10, threads=1)


def png_bytes(seed: int, height: int = 48, width: int = 48, rgb: bool = False) -> bytes:
    img, _ = make_example(seed, height, width, rgb=rgb)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def write_images(root: Path, count: int, first_seed: int = 0, shapes: dict[int, tuple[int, int]] | None = None,
                 sub: str = "") -> list[Path]:
    out = []
    for i in range(count):
        h, w = (shapes or {}).get(i, (48, 48))
        path = root / sub / f"img_{first_seed + i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png_bytes(first_seed + i, h, w, rgb=i % 3 == 1))
        out.append(path)
    return out


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith(".gz") else "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@lru_cache(maxsize=64)
def reference(data: bytes) -> tuple[np.ndarray, float]:
    """The map and texture share ``ssdnet detect`` gives for these bytes with the tests' config."""
    (m,), (share,) = ssdnet.maps_and_shares([ssdnet.load_image(data, CFG.max_pixels)], CFG)
    return m, share


def reference_map(data: bytes) -> np.ndarray:
    """What ``ssdnet detect`` gives for these bytes with the tests' config."""
    return reference(data)[0]


@pytest.fixture(scope="session")
def client(dask_client):
    """The session cluster, with both workers up (each scan's plugin warms them up)."""
    dask_client.wait_for_workers(2, timeout=120)
    return dask_client


def scheduler_args(client) -> list[str]:
    return ["--scheduler", client.scheduler.address]


def run_cli(args: list[str]) -> int:
    """``ssdnet ARGS`` in this process; its exit code."""
    from pipeline.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code


def tree_files(root: Path) -> set[str]:
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}
