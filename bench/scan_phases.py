"""Client RSS by phase of one scan: the run (submit, collect, commit), the store's close, the flags.

Starts a scheduler with 2 worker processes in a child process, scans the first N images of a
soak archive (``bench/soak.py --work DIR`` makes ``DIR/images-N``) in this process with the
cheapest real fit (``--preset fast --steps 1``), and reads this process's RSS (``/proc/self/statm``)
and glibc's heap figures (``mallinfo2``) when each phase starts and ends, and the RSS every second
for the peak. ``--glibc-defaults`` leaves malloc as the process started, for comparison.

    .venv/bin/python bench/scan_phases.py --images /tmp/soak/images-20000 --n 20000
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLUSTER = """
import sys, time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        print(c.scheduler_address, flush=True)
        sys.stdin.read()
"""


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def malloc_mb() -> dict[str, float]:
    """glibc's ``mallinfo2``: MB in use and free (held, not returned) in its heaps; {} without glibc."""
    import ctypes

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return {}
    fn.restype = Info
    m = fn()
    return {"in_use": round(m.uordblks / 2**20, 1), "free": round(m.fordblks / 2**20, 1),
            "mmapped": round(m.hblkhd / 2**20, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, required=True, help="a folder of images (bench/soak.py's)")
    ap.add_argument("--n", type=int, default=20000, help="scan the first N images (sorted paths)")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the result")
    ap.add_argument("--glibc-defaults", action="store_true",
                    help="leave glibc malloc as it starts (the scan sets one arena and a fixed mmap threshold)")
    args = ap.parse_args()
    import pipeline
    import pipeline.scanner as scanner
    import pipeline.store as store_mod
    from bench.report import commit, emit

    marks: list[tuple[str, float]] = []
    heap: dict[str, dict[str, float]] = {}

    def mark(name: str, fn):
        def wrapped(*a, **k):
            marks.append((name + " start", round(rss_mb(), 1)))
            heap[name + " start"] = malloc_mb()
            try:
                return fn(*a, **k)
            finally:
                marks.append((name + " end", round(rss_mb(), 1)))
                heap[name + " end"] = malloc_mb()
        return wrapped

    if args.glibc_defaults:
        scanner.steady_client_memory = lambda: False

    scanner.Scanner.run = mark("run", scanner.Scanner.run)
    store_mod.StoreWriter.close = mark("close", store_mod.StoreWriter.close)
    scanner.flag_store = mark("flags", scanner.flag_store)
    work = Path(tempfile.mkdtemp(prefix="ssdnet-phases-"))
    listing = work / "images.txt"
    listing.write_text("\n".join(map(str, sorted(args.images.rglob("*.png"))[:args.n])) + "\n")
    proc = subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=work)
    peak, done = [rss_mb()], threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            peak.append(rss_mb())

    try:
        address = proc.stdout.readline().strip()
        threading.Thread(target=sample, daemon=True).start()
        t = time.perf_counter()
        summary = pipeline.scan(listing, work / "store.zarr", scheduler=address, preset="fast", steps=1, threads=1)
        wall = time.perf_counter() - t
    finally:
        done.set()
        proc.stdin.close()
        proc.wait(60)
    result = {"command": "bench/scan_phases.py " + " ".join(sys.argv[1:]), "commit": commit(), "n": args.n,
              "ok": summary["ok"], "scan_wall_s": round(wall, 1), "rss_mb": dict(marks),
              "peak_rss_mb": round(max(peak + [v for _, v in marks]), 1),
              "glibc_defaults": args.glibc_defaults,
              # glibc's heaps (mallinfo2): bytes in use and freed-but-kept, as each phase starts and ends.
              "malloc_mb": heap,
              # Ten evenly spaced samples, one a second: growth during the run shows as a slope here.
              "rss_trace_mb": [round(peak[i * (len(peak) - 1) // 9], 1) for i in range(10)]}
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
