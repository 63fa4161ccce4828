"""glibc malloc settings for the scan's two kinds of process: workers that fit, a client that steers.

Both are process-wide, set once, and return False where there is no glibc (nothing to change).
"""
from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _mallopt(*settings: tuple[int, int]) -> bool:
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return all(bool(mallopt(param, value)) for param, value in settings)


def keep_freed_memory() -> bool:
    """Worker: let glibc keep freed memory for reuse instead of handing it back to the OS at once.

    The nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (distributed's
    ``pre-spawn-environ``). Setting it fixes glibc's mmap threshold at 128 KiB, so every
    tensor of a fit is a fresh mmap and its pages fault in again on first touch: measured,
    a `fast` fit took 8.4 s in such a process against 4.1-4.6 s without it. A fit allocates
    the same tensors step after step; keeping them is both faster and bounded (one fit's
    working set).
    """
    return _mallopt((_M_MMAP_THRESHOLD, 32 << 20), (_M_TRIM_THRESHOLD, 256 << 20))


def steady_client_memory() -> bool:
    """Client: one malloc arena and a fixed 128 KiB mmap threshold, so a long scan's RSS stays flat.

    The client's many short-lived buffers (messages, pickled tasks, index chunks encoded on the
    store's threads) otherwise leave freed memory scattered over one glibc arena per thread,
    and glibc's dynamic threshold moves large buffers into those arenas after the first big
    free. Measured over a 10,000-image scan (bench/scan_phases.py, docs/PERFORMANCE.md): the
    run's RSS grew 25.2 MB with glibc's defaults, 14.9 MB of it freed memory kept in the heaps,
    and 15.0 MB with these settings (3.9 MB kept); at 100,000 images the client's peak RSS went
    from 1.40x to 1.13x that at 1,000. The client's CPU over 10,000 images stayed within one
    run's noise (bench/soak.py: 21.2 s before, 22.3 s after).
    """
    return _mallopt((_M_ARENA_MAX, 1), (_M_MMAP_THRESHOLD, 128 << 10))
