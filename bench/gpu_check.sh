#!/usr/bin/env bash
# Packed fits on one GPU: fits per minute for K = 1, 4, 16 in float32 and bfloat16, the speed-up,
# and the K that ssdnet.pack_size picks from free memory (under 5 minutes).
# Needs only Python 3.12+, torch, numpy and pillow: run from a plain checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv 2>/dev/null || true
exec timeout 290 python3 bench/gpu_check.py "$@"
