"""How a scan gets its Dask cluster. Knows nothing about images: imports neither ssdnet nor pipeline."""
from .config import load_spec, read_config
from .connect import connect
from .spec import KINDS, ClusterError, ClusterSpec, ConfigError

__all__ = ["KINDS", "ClusterError", "ClusterSpec", "ConfigError", "connect", "load_spec", "read_config"]
