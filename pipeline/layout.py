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
# The source's size and mtime when it was read: a rescan skips an image whose pair is unchanged
# without reading it (docs/STORE.md, change detection). -1: unknown (rows from before they were
# recorded, a source that gives none), which never matches.
STAT_VARS = ("size_bytes", "mtime_ns")
NO_STAT = -1
# Written last: the commit marker.
STATUS = "status"
INDEX_VARS = ("image", *STR_VARS, *INT_VARS, *FLOAT_VARS, MAP_CRC, *STAT_VARS, TIME_VAR, STATUS)
# Index variables that stores written by earlier versions lack, and the value their rows get
# (when read, and in the arrays a scan creates when it opens such a store).
ADDED_VARS = {"texture_share": float("nan"), MAP_CRC: NO_CRC, "size_bytes": NO_STAT, "mtime_ns": NO_STAT}
INDEX_CHUNK = 1024
TIME_ATTRS = {"units": "nanoseconds since 1970-01-01", "calendar": "proleptic_gregorian"}
# Plain units, no "since": xarray leaves mtime_ns an integer (a tar member's or a zip's time is a
# fingerprint compared for equality, not always a true clock).
VAR_ATTRS = {"size_bytes": {"long_name": "size of the source image", "units": "bytes"},
             "mtime_ns": {"long_name": "modification time of the source image (ns since 1970-01-01 UTC)",
                          "units": "ns"}}


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
# Spelled out, not left to zarr's defaults: a worker encodes its map's chunk for an array the
# client creates (pipeline/chunks.py), and both must agree whatever zarr version each runs.
COMPRESSORS = ({"name": "zstd", "configuration": {"level": 0, "checksum": False}},)


def map_spec(height: int, width: int, map_dtype: str) -> dict[str, Any]:
    """The anomaly_map array's creation arguments but its length: one chunk per image, written
    whole (never a partial chunk or shard)."""
    return {"chunks": (1, height, width), "dtype": map_dtype, "fill_value": float("nan"),
            "dimension_names": ["image", "y", "x"], "compressors": COMPRESSORS}


def thumb_spec(height: int, width: int) -> dict[str, Any]:
    ty, tx = thumb_shape(height, width)
    return {"chunks": (1, ty, tx, 3), "dtype": "uint8", "fill_value": 0,
            "dimension_names": ["image", "ty", "tx", "channel"], "compressors": COMPRESSORS}


def thumb_shape(height: int, width: int) -> tuple[int, int]:
    """A thumbnail's shape: the image's with its longer side at most THUMB_MAX pixels."""
    scale = min(1.0, THUMB_MAX / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))
