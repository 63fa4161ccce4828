"""The application: archive scans, the Zarr store and its index, review, the command line.

The only package that imports both ``ssdnet`` (the method) and ``cluster`` (Dask clusters).
"""

# Lazy: ``import pipeline`` stays light (no dask, zarr or torch until a scan is asked for).
_LAZY = {"scan": "pipeline.scanner", "open_index": "pipeline.results", "open_map": "pipeline.results",
         "open_tree": "pipeline.results"}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__  # what tab completion offers: the lazy names too
