#!/usr/bin/env bash
# Wheels of the scan's packages for a GPU machine that has torch but no network (Python 3.12,
# manylinux x86_64), at the versions this checkout's .venv runs, into .whl/ (git-ignored).
# bench/gpu_check.sh installs them there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
pins=$($PY - <<'PYEOF'
from importlib.metadata import version, PackageNotFoundError
names = ["dask", "distributed", "zarr", "numcodecs", "donfig", "google-crc32c", "tblib", "zict", "locket",
         "partd", "tornado", "cloudpickle", "fsspec", "toolz", "typing-extensions", "dask-cuda"]
out = []
for n in names:
    try:
        out.append(f"{n}=={version(n)}")
    except PackageNotFoundError:
        out.append(n)  # not in the venv (dask-cuda: the cuda extra): the newest that fits
print(" ".join(out))
PYEOF
)
mkdir -p .whl
# shellcheck disable=SC2086
$PY -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl $pins
ls -la .whl
