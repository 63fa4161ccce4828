"""How a scan gets its Dask cluster. Knows nothing about images."""
