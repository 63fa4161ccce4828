"""How a scan gets its Dask cluster. Knows nothing about images."""
from .connect import ClusterError, connect
from .spec import ClusterSpec

__all__ = ["ClusterError", "ClusterSpec", "connect"]
