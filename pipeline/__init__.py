"""The application: archive scans, the Zarr store and its index, review, the command line.

The only package that imports both ``ssdnet`` (the method) and ``cluster`` (Dask clusters).
"""
