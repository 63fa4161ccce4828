"""Soak: ``ssdnet scan`` of N tiny images on 2 workers, measured from outside the client.

Generates N images of ``--side`` px (a directory, and with ``--tar`` the same images in a tar),
starts a scheduler with 2 single-threaded worker processes in this process, and runs the scan
as its own process (``ssdnet scan --scheduler``), so that its CPU seconds and peak RSS are the
client's alone. The cheapest real work: ``--preset fast --steps 1``. Reports per source kind:

* client CPU seconds (user + system) and peak RSS (``wait4``'s usage of the scan process);
* orchestration overhead per image: (scan wall - fit seconds across workers / workers) / N,
  the fit seconds being the sum of the index's ``seconds``;
* the store's file count, ``open_index`` seconds (in a fresh process) and ``ssdnet review`` seconds;
* an unchanged rescan's wall seconds.

``--kill`` also kills a worker (SIGKILL, at a third of the images) and then the client (at half)
of a scan committing every row at once, resumes, and checks the store whole: every image ok once, and every row committed before the
resume kept its ``finished_at`` (nothing finished was fitted again).

    .venv/bin/python bench/soak.py --n 1000 --tar
    .venv/bin/python bench/soak.py --n 10000 --kill --out bench/out/soak_10000.json
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLI = [sys.executable, "-m", "pipeline.cli"]
METHOD = ["--preset", "fast", "--steps", "1", "--threads", "1"]


def make_archive(folder: Path, n: int, side: int, tar: Path | None) -> None:
    """N noise PNGs (distinct bytes), written once and reused by later runs of the same N."""
    from PIL import Image

    done = folder / ".complete"
    if not done.exists():
        rng = np.random.default_rng(0)
        for i in range(n):
            sub = folder / f"d{i // 1000:03d}"
            sub.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (side, side), dtype=np.uint8)).save(sub / f"img_{i:06d}.png")
        done.write_text(str(n))
    if tar is not None and not tar.exists():
        with tarfile.open(tar.with_suffix(".part"), "w") as tf:
            for p in sorted(folder.rglob("*.png")):
                tf.add(p, arcname=str(p.relative_to(folder)))
        os.replace(tar.with_suffix(".part"), tar)


def file_count(store: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(store))


class Scan:
    """One ``ssdnet scan`` process; its stderr progress lines are followed for the fitted count."""

    def __init__(self, source: Path, store: Path, address: str, *extra: str):
        self.fitted = 0
        self.start = time.perf_counter()
        self.proc = subprocess.Popen(CLI + ["scan", str(source), "--out", str(store), "--scheduler", address,
                                            "--json", "--progress-every", "1", *METHOD, *extra],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.tail: list[str] = []
        self.reader = threading.Thread(target=self._follow, daemon=True)
        self.reader.start()

    def _follow(self) -> None:
        for line in self.proc.stderr:
            self.tail = (self.tail + [line])[-20:]
            if line.startswith("progress: "):
                self.fitted = int(line.split()[1].split("/")[0])

    def wait(self) -> tuple[float, dict, resource.struct_rusage]:
        out = self.proc.stdout.read()
        # wait4: this process's own usage. RUSAGE_CHILDREN's ru_maxrss is the largest of every
        # child waited so far (an earlier scan, review or open_index process included).
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - self.start
        self.reader.join(5)
        if self.proc.returncode not in (0, 3):
            raise SystemExit(f"error: scan exited {self.proc.returncode}: {''.join(self.tail)[-1500:]}")
        cpu = usage.ru_utime + usage.ru_stime
        return wall, {**json.loads(out.strip().splitlines()[-1]), "client_cpu_s": cpu}, usage

    def wait_for(self, fitted: int) -> None:
        while self.fitted < fitted and self.proc.poll() is None:
            time.sleep(0.2)


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"error: {' '.join(map(str, cmd[:4]))}: exit {res.returncode}: {res.stderr[-800:]}")
    return time.perf_counter() - t


def measure(source: Path, store: Path, address: str, n: int, workers: int, work: Path) -> dict:
    import pipeline

    shutil.rmtree(store, ignore_errors=True)  # --work keeps archives, not stores: each scan starts empty
    wall, summary, usage = Scan(source, store, address).wait()
    index = pipeline.open_index(store)
    fit_s = float(np.nansum(index["seconds"].values))
    open_s = timed([sys.executable, "-c", f"import pipeline; pipeline.open_index({str(store)!r})"])
    review_s = timed(CLI + ["review", str(store), "--out", str(work / f"review-{store.stem}")])
    rescan_wall, rescan, _ = Scan(source, store, address).wait()
    return {"images": n, "ok": summary["ok"], "failed": summary["failed"], "scan_wall_s": round(wall, 2),
            "client_cpu_s": round(summary["client_cpu_s"], 2),
            "client_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "fit_s_across_workers": round(fit_s, 2),
            "overhead_ms_per_image": round(1000 * (wall - fit_s / workers) / n, 3),
            "store_files": file_count(store), "open_index_s": round(open_s, 3), "review_s": round(review_s, 2),
            "rescan_wall_s": round(rescan_wall, 2), "rescan_skipped": rescan["skipped"],
            "images_per_minute": summary["images_per_minute"]}


def kill_and_resume(source: Path, store: Path, cluster, client, n: int) -> dict:
    """SIGKILL a worker at a third, the client at half; resume; the store must be whole."""
    import pipeline

    shutil.rmtree(store, ignore_errors=True)
    # Rows committed as they finish (the default holds them up to 10 s): a kill at half then
    # finds committed rows whatever N, and the resume must keep them.
    scan = Scan(source, store, cluster.scheduler_address, "--write-every", "0")
    scan.wait_for(n // 3)
    pids = client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    scan.wait_for(n // 2)
    scan.proc.send_signal(signal.SIGKILL)
    scan.proc.wait()
    before = pipeline.open_index(store)
    done = before.image.values[before.status.values == "ok"]
    stamps = before.finished_at.sel(image=done).values
    _, summary, _ = Scan(source, store, cluster.scheduler_address).wait()
    after = pipeline.open_index(store)
    kept = bool((after.finished_at.sel(image=done).values == stamps).all())
    whole = int((after.status.values == "ok").sum()) == n and after.sizes["image"] == n
    return {"committed_before_resume": int(done.size), "resumed_ok": summary["ok"],
            "resumed_skipped": summary["skipped"], "all_ok_once": whole, "finished_rows_kept": kept}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000, help="images")
    ap.add_argument("--side", type=int, default=32, help="image side, pixels")
    ap.add_argument("--tar", action="store_true", help="also scan the images from one tar")
    ap.add_argument("--kill", action="store_true", help="kill a worker and the client mid-run, resume, check")
    ap.add_argument("--work", type=Path, default=None, help="folder for the archive and stores (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the result")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    from bench.report import commit, emit

    work = args.work or Path(tempfile.mkdtemp(prefix="ssdnet-soak-"))
    folder, tar = work / f"images-{args.n}", (work / f"images-{args.n}.tar") if args.tar else None
    t = time.perf_counter()
    make_archive(folder, args.n, args.side, tar)
    result = {"command": "bench/soak.py " + " ".join(sys.argv[1:]), "commit": commit(), "n": args.n,
              "side": args.side, "workers": 2, "generate_s": round(time.perf_counter() - t, 1)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        for kind, source in (("dir", folder), ("tar", tar)):
            if source is None:
                continue
            store = work / f"store-{kind}-{args.n}.zarr"
            result[kind] = measure(source, store, cluster.scheduler_address, args.n, 2, work)
            print(kind, json.dumps(result[kind]), flush=True)
        if args.kill:
            result["kill"] = kill_and_resume(folder, work / f"store-kill-{args.n}.zarr", cluster, client, args.n)
            print("kill", json.dumps(result["kill"]), flush=True)
    emit(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
