"""The scan store's layout: its variables, groups and attributes, for readers and the writer alike.

Light on purpose: numpy and zarr only (no torch, no Dask), so that reading a store
(``pipeline.open_index``, ``open_map``, ``review``) needs none of the compute stack.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import warnings
from typing import Any, Iterator

import numpy as np
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
# What each variable is (CF conventions: long_name, units where meaningful, description), so a
# reader that knows nothing of ssdnet (xarray, napari, CF tools) can say what it holds.
VAR_ATTRS: dict[str, dict[str, str]] = {
    "image": {"long_name": "image id", "description": "the image's path in its source (archive member, file)"},
    "path": {"long_name": "source path", "description": "where the image was read from"},
    "sha256": {"long_name": "SHA-256 of the image file", "description": "hex digest of the bytes the map was made from"},
    "worker": {"long_name": "worker", "description": "the Dask worker (or process) that made the map"},
    "error": {"long_name": "error", "description": "why the image failed; empty when it did not"},
    "height": {"long_name": "image height", "units": "pixel"},
    "width": {"long_name": "image width", "units": "pixel"},
    "score_max": {"long_name": "maximum anomaly score", "units": "1", "description": "the map's maximum"},
    "score_p99": {"long_name": "99th percentile anomaly score", "units": "1",
                  "description": "the map's 99th percentile: the image score flags rank by"},
    "score_mean": {"long_name": "mean anomaly score", "units": "1", "description": "the map's mean"},
    "texture_share": {"long_name": "texture share", "units": "1",
                      "description": "share of the heatmap's weight on the texture map (0: surface map alone)"},
    "seconds": {"long_name": "fit and heatmap time", "units": "s", "description": "wall time of the image's fit and map"},
    # Plain units, no "since": xarray leaves mtime_ns an integer (a tar member's or a zip's time is
    # a fingerprint compared for equality, not always a true clock).
    "size_bytes": {"long_name": "size of the source image", "units": "bytes",
                   "description": "with mtime_ns, what a rescan compares to skip an unchanged image (-1: unknown)"},
    "mtime_ns": {"long_name": "modification time of the source image (ns since 1970-01-01 UTC)", "units": "ns"},
    MAP_CRC: {"long_name": "map checksum", "description": "CRC-32 of the stored map's bytes (-1: none)"},
    TIME_VAR: {"long_name": "time the row was written", **TIME_ATTRS},
    STATUS: {"long_name": "row status", "description": "ok or failed once the row is done; empty while pending"},
    "anomaly_z": {"long_name": "robust z-score of score_p99", "units": "1",
                  "description": "of log score_p99 (median and MAD) over the store's ok images; NaN: not ok"},
    "is_anomalous": {"long_name": "flagged as anomalous",
                     "description": "anomaly_z reached the store's flag rule (root attribute flag_rule)"},
    "anomaly_map": {"long_name": "anomaly score", "units": "1",
                    "description": "per-pixel anomaly score at the image's full resolution (higher: more anomalous)"},
    "thumbnail": {"long_name": "thumbnail", "description": "the image, RGB, its longer side at most 256 px"},
}

# The shape group's anomaly maps at a lower resolution, for browsing (napari, OME-Zarr tools):
# a child group, so that its y and x keep their names (OME-Zarr asks that) without clashing
# with the full-size map's in xarray.
BROWSE = "browse/anomaly_map"
BROWSE_SIDE = 256


def browse_factor(height: int, width: int) -> int:
    """The browse level's downsampling: a power of two, at least 2, its longer side at most 256."""
    return 2 ** max(1, math.ceil(math.log2(max(height, width) / BROWSE_SIDE)))


def browse_shape(height: int, width: int) -> tuple[int, int]:
    f = browse_factor(height, width)
    return -(-height // f), -(-width // f)


def downsample(a: np.ndarray, factor: int) -> np.ndarray:
    """Block means (NaN-aware) of a (..., y, x) array, partial blocks at the far edges included."""
    h, w = a.shape[-2:]
    ph, pw = -h % factor, -w % factor
    pad = np.pad(a.astype("float32", copy=False), [(0, 0)] * (a.ndim - 2) + [(0, ph), (0, pw)],
                 constant_values=np.nan)
    blocks = pad.reshape(*a.shape[:-2], (h + ph) // factor, factor, (w + pw) // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN block (a failed row) stays NaN
        return np.nanmean(blocks, axis=(-3, -1))


def ome_attrs(height: int, width: int) -> dict[str, Any]:
    """OME-Zarr 0.5 multiscales of a shape group: the full-size maps and the browse level."""
    f = float(browse_factor(height, width))
    axes = [{"name": "image", "type": "other"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}]
    levels = [("anomaly_map", 1.0), (BROWSE, f)]
    return {"version": "0.5", "multiscales": [{"name": "anomaly_map", "axes": axes, "datasets": [
        {"path": path, "coordinateTransformations": [{"type": "scale", "scale": [1.0, s, s]}]}
        for path, s in levels]}]}


def bound_config(attrs: dict[str, Any]) -> dict[str, Any]:
    """The config a store was made with: nested attrs since they replaced a JSON string, which
    stores written before still hold."""
    config = attrs.get("config", {})
    return json.loads(config) if isinstance(config, str) else dict(config)


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


def browse_spec(height: int, width: int) -> dict[str, Any]:
    """The browse level's creation arguments but its length (a worker stages its chunk too)."""
    return {"chunks": (1, *browse_shape(height, width)), "dtype": "float32", "fill_value": float("nan"),
            "dimension_names": ["image", "y", "x"], "compressors": COMPRESSORS}


def thumb_spec(height: int, width: int) -> dict[str, Any]:
    ty, tx = thumb_shape(height, width)
    return {"chunks": (1, ty, tx, 3), "dtype": "uint8", "fill_value": 0,
            "dimension_names": ["image", "ty", "tx", "channel"], "compressors": COMPRESSORS}


def thumb_shape(height: int, width: int) -> tuple[int, int]:
    """A thumbnail's shape: the image's with its longer side at most THUMB_MAX pixels."""
    scale = min(1.0, THUMB_MAX / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))

