"""What the scan's client process costs: CPU seconds and peak RSS of a scan and of a rescan.

    PYTHONPATH=. .venv/bin/python bench/client_cost.py --images 1000 --size 32

Generates --images PNGs of --size pixels, starts a LocalCluster of 2 worker processes (1 thread
each) in a process of its own, so that the scheduler's and workers' CPU is not counted, then
runs ``pipeline.scan`` (``--preset fast --steps 1``: the cheapest real fit) in a fresh client
process against it, twice: a first scan and a rescan of the unchanged archive. Prints one JSON
object per run: the client's CPU seconds (user + system), peak RSS (MB), wall seconds, ok and
skipped counts. Running it with PYTHONPATH pointing at another checkout measures that code.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CLUSTER = ("import sys, time; from distributed import LocalCluster\n"
           "c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1',"
           " dashboard_address=None)\n"
           "print(c.scheduler_address, flush=True); time.sleep(3600)")

CLIENT = ("import json, resource, sys, time, pipeline\n"
          "t = time.monotonic()\n"
          "r = pipeline.scan(sys.argv[1], sys.argv[2], scheduler=sys.argv[3], preset='fast', steps=1,"
          " progress_every=0)\n"
          "u = resource.getrusage(resource.RUSAGE_SELF)\n"
          "print(json.dumps({'client_cpu_s': round(u.ru_utime + u.ru_stime, 2),"
          " 'client_peak_rss_mb': round(u.ru_maxrss / 1024), 'wall_s': round(time.monotonic() - t, 1),"
          " 'ok': r['ok'], 'skipped': r['skipped'], 'map_writes': r.get('map_writes', 'client')}))")


def make_images(root: Path, count: int, size: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        buf = io.BytesIO()
        Image.fromarray((rng.random((size, size)) * 255).astype("uint8")).save(buf, format="PNG")
        (root / f"img_{i:06d}.png").write_bytes(buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--dir", default="", help="work folder (default: a temporary one)")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="ssdnet-client-cost-"))
    make_images(work / "archive", args.images, args.size)
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER], stdout=subprocess.PIPE, text=True,
                               stderr=subprocess.DEVNULL)
    try:
        address = cluster.stdout.readline().strip()
        for run in ("scan", "rescan"):
            out = subprocess.run([sys.executable, "-c", CLIENT, str(work / "archive"), str(work / "store.zarr"),
                                  address], capture_output=True, text=True, env=os.environ, check=True)
            print(json.dumps({"run": run, "images": args.images, "size": args.size,
                              **json.loads(out.stdout.strip().splitlines()[-1])}), flush=True)
    finally:
        cluster.kill()
        cluster.wait()


if __name__ == "__main__":
    main()
