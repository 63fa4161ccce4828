import subprocess
import sys
from pathlib import Path

import pytest

# A child started the way the nanny starts workers (MALLOC_TRIM_THRESHOLD_ set) allocates and
# frees a 4 MiB buffer 50 times; minor page faults tell whether the memory was reused.
CHILD = """
import resource, sys
import numpy as np
from pipeline.malloc import keep_freed_memory
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


# A child allocates from 4 threads, then frees a big (mmapped) buffer, which raises glibc's
# dynamic mmap threshold, and allocates 1 MiB buffers: arenas and page faults tell the settings.
CLIENT_CHILD = """
import ctypes, resource, sys, threading
import numpy as np
from pipeline.malloc import steady_client_memory
if sys.argv[1] == "steady":
    assert steady_client_memory()
meet = threading.Barrier(4)
def work():
    keep = [np.ones(1 << 12) for _ in range(64)]
    meet.wait()  # all four alive at once: each holds the arena it got
threads = [threading.Thread(target=work) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
big = np.ones(1 << 22)  # 32 MiB: mmapped either way; freeing it raises the dynamic threshold
del big
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 17)  # 1 MiB
    del a
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()  # one 'Arena N:' block per arena, on stderr
print(faults)
"""


def _client_child(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", CLIENT_CHILD, mode], env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, cwd=str(Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip()), out.stderr.count("Arena ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning is Linux-only")
def test_the_client_keeps_one_arena_and_a_fixed_mmap_threshold():
    (plain_faults, plain_arenas), (steady_faults, steady_arenas) = _client_child("plain"), _client_child("steady")
    assert plain_arenas > 1 and steady_arenas == 1, (plain_arenas, steady_arenas)
    # Default: after the big free, 1 MiB buffers come from the heap and its pages are reused;
    # fixed at 128 KiB, each is a fresh mmap handed back at once, its pages faulted in anew.
    assert steady_faults > 50 * 100 and plain_faults < steady_faults / 10, (plain_faults, steady_faults)
