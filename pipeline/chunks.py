"""Map and thumbnail chunks that the workers write and the client puts in place (docs/STORE.md).

A worker encodes each map and thumbnail as the whole chunk its row will hold (one chunk per
image: no chunk is ever shared, no shard partially written: zarr-python's rule for safe
concurrent writes) and writes it under ``STORE/.incoming/<scan>/``, a folder of the store's own
filesystem. It returns only the index row naming those files. The client, which alone knows
the row an image gets, renames them into place (whole and atomic, as a rename in one
filesystem is) and then commits the index row, status last. So the map bytes never pass
through the client, and a crash anywhere leaves at worst unreferenced files in ``.incoming``,
which the next scan removes.

Where the store is not reachable from the workers (no shared filesystem, checked with a probe
file), maps travel back to the client, which writes them: ``map_writes = "client"``.
"""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.storage import MemoryStore

log = logging.getLogger("ssdnet.scan")

INCOMING = ".incoming"
PROBE = "probe"


def new_scan_folder(store: str | os.PathLike) -> str:
    """A fresh folder for this scan's chunks. Leftovers of killed scans go first: the caller holds
    the store's lock, so no other scan is writing there."""
    root = Path(store, INCOMING)
    shutil.rmtree(root, ignore_errors=True)
    folder = root / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return str(folder)


def remove_incoming(store: str | os.PathLike) -> None:
    """What cancelled or timed-out tasks staged and nobody placed."""
    shutil.rmtree(Path(store, INCOMING), ignore_errors=True)


def encode_chunk(value: np.ndarray, spec: dict[str, Any]) -> bytes | None:
    """``value``'s bytes as the chunk of an array made with ``spec`` (pipeline.layout) stores
    them, encoded by zarr itself; None where zarr stores no chunk (all fill value)."""
    held: dict[str, Any] = {}
    arr = zarr.create_array(MemoryStore(held), shape=spec["chunks"], **spec)
    arr[0] = value
    buf = held.get("c/" + "/".join("0" * len(spec["chunks"])))
    return None if buf is None else buf.to_bytes()


def stage(folder: str, value: np.ndarray, spec: dict[str, Any]) -> str:
    """Write ``value``'s chunk into ``folder`` under a new name and return it ('' for no chunk).
    The name reaches the client only with the task's result, after the write has ended."""
    data = encode_chunk(value, spec)
    if data is None:
        return ""
    path = os.path.join(folder, uuid.uuid4().hex)
    with open(path, "wb") as f:
        f.write(data)
    return path


def place(staged: str, dest: Path) -> None:
    """Put a staged chunk at its row's place by a rename, or remove the row's chunk where none was
    staged (all fill value: zarr reads a missing chunk as the fill value)."""
    if staged:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, dest)
    else:
        dest.unlink(missing_ok=True)


def sees_probe(folder: str, token: str) -> bool:
    """Run on a worker: whether it sees the probe the client wrote (the same filesystem, not a
    folder of the same name on its own disk) and can write beside it."""
    try:
        with open(os.path.join(folder, PROBE), encoding="utf-8") as f:
            if f.read() != token:
                return False
        check = os.path.join(folder, f"{PROBE}-{uuid.uuid4().hex}")
        with open(check, "w", encoding="utf-8"):
            pass
        os.remove(check)
        return True
    except OSError:
        return False


def unreachable_workers(client: Any, folder: str) -> list[str]:
    """The workers that cannot write into ``folder`` of the store (all of them, where none answers)."""
    token = uuid.uuid4().hex
    with open(os.path.join(folder, PROBE), "w", encoding="utf-8") as f:
        f.write(token)
    seen = client.run(sees_probe, folder, token)
    return sorted(w for w, ok in seen.items() if not ok) if seen else ["(none answered)"]
