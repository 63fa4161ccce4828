import subprocess
import sys
from pathlib import Path

import pytest

# A child started the way the nanny starts workers (MALLOC_TRIM_THRESHOLD_ set) allocates and
# frees a 4 MiB buffer 50 times; minor page faults tell whether the memory was reused.
CHILD = """
import resource, sys
import numpy as np
from pipeline.worker import keep_freed_memory
if sys.argv[1] == "tuned":
    assert keep_freed_memory()
np.ones(1 << 19)  # warm-up
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 19)  # 4 MiB
    del a
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    env = {"MALLOC_TRIM_THRESHOLD_": "65536", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True,
                         cwd=str(Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")
def test_workers_reuse_freed_memory_despite_the_nannys_trim_threshold():
    plain, tuned = _faults("plain"), _faults("tuned")
    assert plain > 50 * 100, (plain, tuned)  # every buffer a fresh mmap, its pages faulted in again
    assert tuned < plain / 20, (plain, tuned)
