#!/usr/bin/env bash
# Every GPU code path once, and packed fits against the device's peak (bench/gpu_check.py): one
# command, under 6 minutes on one GPU, one JSON. Needs Python 3.12+, torch, numpy and pillow;
# the scan and eval parts also need dask, distributed, zarr and friends, installed here from
# wheels in .whl/ when that folder exists (bench/gpu_wheels.sh fetches them on a machine with
# network). Extra arguments go to gpu_check.py, e.g. --datasets DIR for the eval part.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/ssdnet-site .whl/*.whl
    export PYTHONPATH="/tmp/ssdnet-site:${PYTHONPATH:-}"
fi
export PYTHONPATH=".:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv 2>/dev/null || true
out="${OUT:-bench/out}/gpu_check.json"
# Under 6 minutes without --datasets; the eval part adds a few (GPU_CHECK_TIMEOUT=540 then).
exec timeout "${GPU_CHECK_TIMEOUT:-360}" python3 bench/gpu_check.py --out "$out" "$@"
