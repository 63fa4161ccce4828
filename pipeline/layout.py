"""The scan store's layout: its variables, groups and attributes, for readers and the writer alike.

Light on purpose: numpy and zarr only (no torch, no Dask), so that reading a store
(``pipeline.open_index``, ``open_map``, ``review``) needs none of the compute stack.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import Any, Iterator

import zarr

from pipeline.integrity import MAP_CRC, NO_CRC

FAILED = "failed"
STR_VARS = ("path", "sha256", "worker", "error")
INT_VARS = ("height", "width")
FLOAT_VARS = ("score_max", "score_p99", "score_mean", "texture_share", "seconds")
TIME_VAR = "finished_at"
# Written last: the commit marker.
STATUS = "status"
INDEX_VARS = ("image", *STR_VARS, *INT_VARS, *FLOAT_VARS, MAP_CRC, TIME_VAR, STATUS)
# Index variables that stores written by earlier versions lack, and the value their rows get
# (when read, and in the arrays a scan creates when it opens such a store).
ADDED_VARS = {"texture_share": float("nan"), MAP_CRC: NO_CRC}
# Index chunks (rows per chunk file). A scan's commit rewrites the chunks its new rows land
# in; open_index reads every chunk. Measured at 1,000,000 rows (bench/index_chunks.py, 2 cores):
# a string chunk of 4,096 rows reads in 0.23 s against 0.40 s at 1,024, and an append of 256 rows
# costs 3.7 ms against 2.5 ms (17 ms at 65,536); numbers (8 bytes a row) read in 0.03 s at
# 16,384 against 0.17 s at 1,024, appends 1.8 ms either way. Arrays keep the chunks they were
# made with: stores from before still read and append.
STR_CHUNK = 4096
NUM_CHUNK = 16384


def index_chunk(name: str) -> int:
    """Rows per chunk of index variable ``name`` (flags included) in arrays a scan creates."""
    return STR_CHUNK if name in ("image", STATUS, *STR_VARS) else NUM_CHUNK


TIME_ATTRS = {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian"}


def group_name(height: int, width: int) -> str:
    return f"{height}x{width}" if height > 0 else FAILED


@contextlib.contextmanager
def quiet_zarr() -> Iterator[None]:
    """Zarr warns about the lock file and about consolidated metadata in v3; neither matters here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not recognized as a component of a Zarr hierarchy")
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


def store_attrs(store: str | os.PathLike) -> dict[str, Any]:
    """A store's attributes (its bound config, version, map dtype), read without writing."""
    with quiet_zarr():
        return dict(zarr.open_group(os.fspath(store), mode="r").attrs)


THUMB_MAX = 256


def thumb_shape(height: int, width: int) -> tuple[int, int]:
    """A thumbnail's shape: the image's with its longer side at most THUMB_MAX pixels."""
    scale = min(1.0, THUMB_MAX / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))
