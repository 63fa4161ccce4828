"""``pipeline.scan``: every image of some sources through a Dask cluster into one Zarr store.

(A module named ``pipeline/scan.py`` would shadow the function ``pipeline.scan`` once imported.)

The client lists the images and sends each task only descriptors (:mod:`pipeline.reading`): the
workers read and hash the bytes. An image whose (size, mtime) match its ok row is skipped unread
(``verify`` reads and hashes everything; a worker that finds the same bytes fits nothing). The
workers write the map and thumbnail chunks (:mod:`pipeline.chunks`) and return index rows; the
client alone places the chunks and commits the index (docs/STORE.md). A bounded number of fits
is in flight (``as_completed``, refilled as fits finish): memory stays flat however many images
there are.

Timeouts: each task announces its start with a worker event; the client measures --timeout from
that moment. An overdue fit becomes a failed row at once, its future is cancelled and its worker
restarted through the nanny (a thread stuck in torch cannot be interrupted any other way), so a
stuck fit never holds a task slot for longer than the timeout.
"""
from __future__ import annotations

import contextlib
import fnmatch
import logging
import math
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import dask
import torch
from distributed import Client, KilledWorker, as_completed

import cluster
import ssdnet

from pipeline.archive import Entry, Skipped, Source, count_entries, describe_all, iter_entries
from pipeline.chunks import new_scan_folder, remove_incoming, unreachable_workers
from pipeline.exitcodes import Refused, stopping_signal
from pipeline.flags import flag_store
from pipeline.lock import store_lock
from pipeline.malloc import steady_client_memory
from pipeline.progressbar import ProgressBar, in_notebook
from pipeline.reading import Descriptor
from pipeline.scanoptions import ScanOptions, options_signature, resolve_options
from pipeline.scans import record_scan_start
from pipeline.store import StoreWriter
from pipeline.worker import TorchThreads, fit_images, now_ns

log = logging.getLogger("ssdnet.scan")
# How long a worker restarted after a timed-out fit may take to come back.
RESTART_SECONDS = 120
REPORT_S = 0.5  # seconds between progress callbacks
SKIPPED_EXAMPLES = 10  # paths not scanned that the summary lists (the log has every one)


# Index rows without maps that may wait for one store write: each write rewrites the index chunks
# it touches (about 50 ms for a few rows at 2 cores), so writing every few rows cost 13 ms per
# image on 32 px images (bench/soak.py); a row without its map is about 1 kB.
MAX_HELD_ROWS = 4096


@dataclass
class Member:
    entry_id: str
    path: str
    size: int
    mtime_ns: int


@dataclass
class Pending:
    """One task: the images packed into it and its future."""
    members: list[Member]
    future: Any


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    seen: int = 0
    write_s: float = 0.0
    written: int = 0
    writes: int = 0  # store updates (each a batch of rows)
    total: int | None = None  # entries to enumerate, once counted
    in_flight: int = 0  # images in tasks on the cluster
    mapped: int = 0  # of those, images whose map is made (packed tasks report each one)

    def __post_init__(self) -> None:
        self.errors: dict[str, str] = {}
        self.skipped_paths: dict[str, int] = {}  # paths the sources hold that are not scanned, by reason
        self.skipped_examples: list[list[str]] = []  # the first few: [path, reason]
        self.start = time.monotonic()

    def skip(self, item: Skipped) -> None:
        self.skipped_paths[item.reason] = self.skipped_paths.get(item.reason, 0) + 1
        if len(self.skipped_examples) < SKIPPED_EXAMPLES:
            self.skipped_examples.append([item.path, item.reason])
        log.info("not scanned: %s: %s", item.path, item.reason)

    @property
    def done(self) -> int:
        return self.ok + self.failed

    def rate(self) -> float:
        minutes = (time.monotonic() - self.start) / 60
        return self.done / minutes if minutes > 0 else 0.0


def uses_cuda(cfg: ssdnet.Config) -> bool:
    return ssdnet.resolve_device(cfg.device).type == "cuda"


@contextlib.contextmanager
def open_client(opts: ScanOptions, cfg: ssdnet.Config) -> Iterator[tuple[Client, bool]]:
    """The cluster the options name, and whether its workers share this machine's GPUs (then
    each takes its own by name, :func:`pipeline.worker.gpu_index`); by default a LocalCluster
    started and stopped here."""
    if opts.scheduler:
        spec = cluster.ClusterSpec(kind="address", address=opts.scheduler)
    elif opts.scheduler_file:
        spec = cluster.ClusterSpec(kind="scheduler-file", scheduler_file=opts.scheduler_file)
    else:
        gpus = torch.cuda.device_count() if uses_cuda(cfg) else 0
        cores = os.cpu_count() or 1
        workers = opts.workers or gpus or max(1, cores // max(1, cfg.threads))
        spec = cluster.ClusterSpec(kind="local", workers=workers, threads_per_worker=1)
        # Worker processes read their resources from the config the nanny hands them.
        with dask.config.set({"distributed.worker.resources.GPU": 1} if gpus else {}):
            with cluster.connect(spec) as client:
                yield client, gpus > 0
        return
    with cluster.connect(spec) as client:
        yield client, False


def worker_devices(client: Client, cfg: ssdnet.Config) -> dict[str, dict[str, Any]]:
    """What each worker would fit on (:func:`ssdnet.describe_device`), asked of the workers
    themselves: the client of a batch cluster usually has no GPU, its workers do. A device that
    some worker cannot use (``--device cuda`` on a worker without CUDA) is refused."""
    devices = client.run(ssdnet.describe_device, cfg.device)
    bad = {w: d["error"] for w, d in devices.items() if d["error"]}
    if bad:
        worker, why = sorted(bad.items())[0]
        more = f" (and {len(bad) - 1} more workers)" if len(bad) > 1 else ""
        raise Refused(f"worker {worker}{more}: {why}")
    return devices


def gpu_resources(client: Client, own_gpus: bool) -> dict[str, int] | None:
    """``{"GPU": 1}`` per task where every worker declares a GPU resource (the scan's own GPU
    cluster does; a batch cluster may): one fit at a time per GPU whatever its threads. Never
    asked of workers that do not declare it: such a task would wait forever."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    declared = bool(workers) and all(w.get("resources", {}).get("GPU") for w in workers.values())
    return {"GPU": 1} if own_gpus or declared else None


class Scanner:
    """One pass over the entries: submit, collect, time out, write."""

    def __init__(self, client: Client, writer: StoreWriter, cfg: ssdnet.Config, opts: ScanOptions,
                 on_progress: Callable[[Tally, bool], None] | None = None, gpu_workers: list[str] | None = None,
                 resources: dict[str, int] | None = None, incoming: str = ""):
        self.client, self.writer, self.cfg, self.opts = client, writer, cfg, opts
        self.incoming = incoming  # where workers write their chunks; '': they return them
        self.on_progress = on_progress
        self.resources = resources
        self.gpu_workers = list(gpu_workers or [])
        self.pending: dict[str, Pending] = {}
        self.in_flight = 0  # images in pending tasks
        self.mapped: dict[str, int] = {}  # token -> maps its task has made so far
        self.buffer: list[tuple[Member, Descriptor, str]] = []  # images waiting to fill a pack
        # The store's rows when the pass began, and those of them it met: the rest may be gone.
        self.known_before = frozenset(writer.known)
        self.seen_known: set[str] = set()
        self.started: dict[str, tuple[float, str, list[int] | None]] = {}
        self.topic = f"ssdnet-start-{uuid.uuid4().hex}"
        self.ac = as_completed()
        self.staged: list[dict[str, Any]] = []  # finished rows not yet in the store
        self.carrying = 0  # of those, rows that carry their map (counted as added: _stage runs per result)
        self.staged_since = 0.0
        self._slots: tuple[float, dict[str, int]] = (0.0, {})
        self.pack = self._choose_pack()
        if self.pack > 1:
            log.info("packing %d fits per task", self.pack)
        self.tally = Tally()  # the rate counts from here: the pack's measurement is set-up, like the cluster's

    def _on_event(self, event: tuple[float, dict[str, Any]]) -> None:
        msg = event[1]
        if msg.get("kind") == "map":
            if msg["token"] in self.pending:
                self.mapped[msg["token"]] = msg["done"]
            return
        self.started[msg["token"]] = (time.monotonic(), msg.get("worker", ""), msg.get("shape"))

    def _workers(self) -> dict[str, int]:
        """The workers' task slots, asked at most every 5 s (an adaptive cluster grows and shrinks)."""
        checked, value = self._slots
        if time.monotonic() - checked > 5:
            value = self.client.nthreads()
            self._slots = (time.monotonic(), value)
        return value

    def limit(self) -> int:
        """Images in flight: two tasks per task slot, so no worker waits for the client between fits."""
        return max(2, 2 * sum(self._workers().values())) * self.pack

    def _choose_pack(self) -> int:
        """--pack, or on GPU workers the pack each one measured (:func:`ssdnet.pack_size`: the
        knee of fits per minute under its memory cap), the smallest of them; 1 on CPU workers."""
        if self.opts.pack > 0:
            return self.opts.pack
        if not self.gpu_workers:
            return 1
        t = time.monotonic()
        sizes = self.client.run(ssdnet.pack_size, self.cfg, workers=self.gpu_workers)
        log.info("pack sizes measured on %d GPU worker(s) in %.1f s: %s", len(sizes), time.monotonic() - t,
                 ", ".join(f"{w} {k}" for w, k in sorted(sizes.items())))
        return max(1, min(sizes.values(), default=1))

    def pack_now(self) -> int:
        """The pack, made smaller near the end so that no worker idles while another fits a big
        pack: at most ceil(images left / workers), once the entries are counted."""
        if self.pack == 1 or self.tally.total is None:
            return self.pack
        left = len(self.buffer) + max(0, self.tally.total - self.tally.seen)
        workers = max(1, len(self.gpu_workers), len(self._workers()))
        return max(1, min(self.pack, math.ceil(left / workers)))

    def queue(self, entry: Entry, known_sha: str) -> None:
        d = entry.desc
        self.buffer.append((Member(entry.id, entry.path, d.size, d.mtime_ns), d, known_sha))
        if len(self.buffer) >= self.pack_now():
            self.flush()

    def flush(self) -> None:
        if not self.buffer:
            return
        token = f"ssdnet-fit-{uuid.uuid4().hex}"
        members = [m for m, _, _ in self.buffer]
        items = [(m.entry_id, d, known) for m, d, known in self.buffer]
        fut = self.client.submit(fit_images, token, self.topic, items, self.cfg, self.opts.map_dtype, self.incoming,
                                 key=token, pure=False, resources=self.resources)
        self.pending[token] = Pending(members, fut)
        self.in_flight += len(members)
        self.buffer = []
        self.ac.add(fut)

    def _done(self, token: str) -> Pending | None:
        p = self.pending.pop(token, None)
        self.mapped.pop(token, None)
        if p is not None:
            self.in_flight -= len(p.members)
        return p

    def run(self, entries: Iterator[Entry | Skipped]) -> Tally:
        self.client.subscribe_topic(self.topic, self._on_event)
        exhausted = False
        last_report = 0.0
        try:
            while True:
                ready: list[dict[str, Any]] = []
                while not exhausted and self.in_flight + len(self.buffer) < self.limit():
                    entry = next(entries, None)
                    if entry is None:
                        exhausted = True
                        self.flush()
                        break
                    ready.extend(self._take(entry))
                if exhausted and not self.pending and not ready:
                    break
                if not ready and self.pending:
                    self._wait(last_report)
                if self.ac.has_ready():
                    ready.extend(self._collect(self.ac.next_batch(block=False)))
                ready.extend(self._overdue())
                self._stage(ready, final=exhausted and not self.pending)
                if self.on_progress and time.monotonic() - last_report > REPORT_S:
                    self.tally.in_flight, self.tally.mapped = self.in_flight, sum(self.mapped.values())
                    self.on_progress(self.tally, exhausted)
                    last_report = time.monotonic()
        finally:
            self.client.unsubscribe_topic(self.topic)
            if self.pending:
                self.client.cancel([p.future for p in self.pending.values()])
            self._stage([], final=True)  # interrupted or not, finished fits are kept
        if self.on_progress:
            self.tally.in_flight, self.tally.mapped = 0, 0
            self.on_progress(self.tally, True)
        return self.tally

    def _wait(self, last_report: float) -> None:
        """Block until a fit ends (as_completed's own condition, notified as it queues a finished
        future: checked under its lock, so none is missed) or the next thing falls due: a progress
        line, the write of rows held back, a --timeout. No polling: with none of those, it waits
        for the next result however long that takes."""
        due = [last_report + REPORT_S] if self.on_progress else []
        if self.staged:
            due.append(self.staged_since + self.opts.write_every)
        if self.opts.timeout:
            # A fit that starts during the wait falls due no sooner than one timeout from now.
            due.append(time.monotonic() + self.opts.timeout)
            due += [began + self.opts.timeout * len(self.pending[token].members) * self.cfg.ensemble
                    for token, (began, _, _) in list(self.started.items()) if token in self.pending]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        with self.ac.thread_condition:
            if not self.ac.has_ready():
                self.ac.thread_condition.wait(timeout)

    def _take(self, entry: Entry | Skipped) -> list[dict[str, Any]]:
        if isinstance(entry, Skipped):
            self.tally.skip(entry)  # not an image: not seen, so progress counts images only
            return []
        self.tally.seen += 1
        if entry.id in self.known_before:
            self.seen_known.add(entry.id)
        if entry.desc is None:
            return [self._failed(Member(entry.id, entry.path, -1, -1), entry.error)]
        d = entry.desc
        # Unread: the stat (or member header) the store recorded says nothing changed.
        if not self.opts.verify and self.writer.unchanged(entry.id, d.size, d.mtime_ns):
            self.tally.skipped += 1
            return []
        self.queue(entry, self.writer.ok_sha(entry.id))
        return []

    def _failed(self, m: Member, error: str, shape: Iterable[int] | None = None,
                worker: str = "", seconds: float = float("nan")) -> dict[str, Any]:
        h, w = shape or (0, 0)
        return {"id": m.entry_id, "path": m.path, "sha256": "", "status": "failed", "error": error,
                "height": h, "width": w, "worker": worker, "seconds": seconds, "finished_at": now_ns(),
                "size_bytes": m.size, "mtime_ns": m.mtime_ns}

    def _collect(self, futures: list[Any]) -> list[dict[str, Any]]:
        out = []
        for fut in futures:
            p = self._done(fut.key)
            if p is None:
                continue  # timed out already: its rows are written
            start = self.started.pop(fut.key, None)
            shape = start[2] if start else None
            if fut.status == "finished":
                for m, rec in zip(p.members, fut.result()):
                    # The id: the same string the archive claimed, not the worker's copy of it,
                    # so that the store's row table and the archive's claims share one per image.
                    rec.update(id=m.entry_id, path=m.path, size_bytes=m.size, mtime_ns=m.mtime_ns)
                    out.append(rec)
            else:
                if fut.status == "error" and isinstance(fut.exception(), KilledWorker):
                    allowed = dask.config.get("distributed.scheduler.allowed-failures")
                    reason = (f"killed its worker {allowed + 1} times (KilledWorker): crash or out of memory "
                              "while fitting")
                else:
                    reason = "task failed: " + (repr(fut.exception()) if fut.status == "error" else
                                                f"task {fut.status}")
                out += [self._failed(m, reason, shape) for m in p.members]
            fut.release()
        return out

    def _overdue(self) -> list[dict[str, Any]]:
        if not self.opts.timeout:
            return []
        now = time.monotonic()
        out = []
        for token, (began, worker, shape) in list(self.started.items()):
            p = self.pending.get(token)
            # --timeout is per fit: a task of n packed images, each fitted ensemble times, may
            # take n x ensemble timeouts.
            if p is None or now - began <= self.opts.timeout * len(p.members) * self.cfg.ensemble:
                continue
            self._done(token)
            del self.started[token]
            p.future.cancel()
            for m in p.members:
                out.append(self._failed(m, f"timed out after {self.opts.timeout:g} s"
                                        + (f" per image ({len(p.members)} packed)" if len(p.members) > 1 else ""),
                                        shape, worker, now - began))
            log.warning("%s: timed out after %g s on %s; restarting that worker",
                        ", ".join(m.entry_id for m in p.members), self.opts.timeout, worker)
            if worker:
                self.client.restart_workers([worker], timeout=RESTART_SECONDS, raise_for_error=False)
        return out

    def _stage(self, records: list[dict[str, Any]], final: bool = False) -> None:
        """Hold finished rows until ``write_every`` seconds have passed since the oldest: every
        store update rewrites each index chunk it touches, so a batch costs little more than
        one row. The last rows of a pass are written at once. Rows that carry their map (the
        client writes it) wait no more than are in flight, so memory stays bounded on fast
        devices; rows whose map a worker wrote are small, and up to MAX_HELD_ROWS wait."""
        self._count(records)  # progress counts a fit when it ends, not when its batch is written
        if records and not self.staged:
            self.staged_since = time.monotonic()
        self.staged.extend(records)
        self.carrying += sum("map" in r for r in records)
        if not self.staged:
            return
        if (final or time.monotonic() - self.staged_since >= self.opts.write_every or self.carrying >= self.limit()
                or len(self.staged) >= MAX_HELD_ROWS):
            batch, self.staged, self.carrying = self.staged, [], 0
            self._write(batch)

    def _write(self, records: list[dict[str, Any]]) -> None:
        t = time.perf_counter()
        self.writer.write(records)
        self.tally.write_s += time.perf_counter() - t
        self.tally.written += len(records)
        self.tally.writes += 1

    def _count(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            if rec["status"] == "unchanged":
                self.tally.skipped += 1  # read and hashed, the same bytes: not fitted
            elif rec["status"] == "ok":
                self.tally.ok += 1
            else:
                self.tally.failed += 1
                self.tally.errors[rec["id"]] = rec["error"]
                log.warning("failed: %s: %s", rec["id"], rec["error"])


def _count_in_background(tally: Tally, srcs: list, opts: ScanOptions) -> threading.Thread:
    """The progress line's total and the tail's pack size: names only, beside the scan, so
    fitting starts at once."""
    def count() -> None:
        # None for a source that cannot be read to its end: the scan itself reports it.
        tally.total = count_entries(srcs, opts.include, opts.exclude)
    thread = threading.Thread(target=count, name="ssdnet-count", daemon=True)
    thread.start()
    return thread


def gone_rows(writer: StoreWriter, scanner: Scanner, srcs: list[Source], opts: ScanOptions) -> list[str]:
    """The store's rows that this whole pass did not meet: their image is no longer in a source
    scanned now. Only rows of these sources count (a store may hold other sources' rows), only
    those --include/--exclude would scan, and none of a source that could not be read to its end
    (damage hides what comes after it: those images are not known to be gone)."""
    names = {s.name for s in srcs}
    damaged = {s.name for s in srcs if os.path.basename(os.path.abspath(s.location)) in scanner.tally.errors}
    # A damaged source's own row has its file's name as id (archive._damaged), with no '/'.
    file_ids = {os.path.basename(os.path.abspath(s.location)): s.name for s in srcs}
    gone = []
    for image_id in scanner.known_before:
        if image_id in scanner.seen_known or image_id not in writer.known:
            continue
        source, _, rel = image_id.partition("/")
        if not rel:
            if image_id in file_ids and file_ids[image_id] not in damaged:
                gone.append(image_id)  # its source reads to its end now
            continue
        if source not in names or source in damaged:
            continue
        if opts.include and not any(fnmatch.fnmatch(rel, g) for g in opts.include):
            continue
        if not any(fnmatch.fnmatch(rel, g) for g in opts.exclude):
            gone.append(image_id)
    return sorted(gone)


def map_writers(client: Client, store: str, writer: StoreWriter, opts: ScanOptions) -> str:
    """This scan's folder for the chunks the workers write, or '' where maps travel to the client:
    asked, or the store is not reachable from every worker (said in the log and the store's
    ``map_writes`` attribute)."""
    folder = ""
    if opts.map_writes == "auto":
        folder = new_scan_folder(store)
        unreachable = unreachable_workers(client, folder)
        if unreachable:
            log.warning("store %s is not reachable from %d worker(s) (%s): maps travel to the client, "
                        "which writes them", store, len(unreachable), ", ".join(unreachable[:3]))
            remove_incoming(store)
            folder = ""
    mode = "workers" if folder else "client"
    log.info("map writes: %s", "workers write their chunks, the client renames them into place" if folder
             else "the client writes every map")
    writer.root.attrs["map_writes"] = mode
    return folder


def summary(store: str, tally: Tally, dashboard: str = "", pack: int = 1, gpu_workers: int = 0) -> dict[str, Any]:
    return {"store": store, "ok": tally.ok, "failed": tally.failed, "skipped": tally.skipped,
            "skipped_paths": dict(sorted(tally.skipped_paths.items())), "skipped_examples": tally.skipped_examples,
            "pack": pack, "gpu_workers": gpu_workers,
            "images_per_minute": round(tally.rate(), 2), "failed_ids": sorted(tally.errors),
            "errors": dict(sorted(tally.errors.items())),
            "seconds": round(time.monotonic() - tally.start, 2),
            "store_write_seconds_per_image": round(tally.write_s / tally.written, 4) if tally.written else 0.0,
            "store_writes": tally.writes,
            "dashboard": dashboard}


@contextlib.contextmanager
def _naming(store: str) -> Iterator[None]:
    """An OSError that names no file (zarr's writes name none) names the store it happened in."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror or str(exc), store) from exc
        raise


@options_signature
def scan(sources: str | os.PathLike | Iterable[str | os.PathLike], store: str | os.PathLike,
         client: Client | None = None, on_progress: Callable[[Tally, bool], None] | None = None,
         on_client: Callable[[Client], None] | None = None, progress: bool | None = None,
         **options: Any) -> dict[str, Any]:
    """Scan ``sources`` into ``store`` and return the summary.

    Parameters
    ----------
    sources : str, os.PathLike or iterable of them
        Directories, globs, .tar/.tar.gz/.zip archives or .txt lists of paths.
    store : str or os.PathLike
        The Zarr store, created or resumed (only new, changed and failed images are fitted).
    client : distributed.Client, optional
        The cluster to scan on; without it one is started from the options and stopped at the end.
    on_progress : callable, optional
        Called as ``on_progress(tally, exhausted)`` while the scan runs.
    on_client : callable, optional
        Called with the client once it is connected.
    progress : bool, optional
        Draw a progress bar (``tqdm.auto``: a widget in Jupyter; with ``pip install
        'ssdnet[notebook]'``, else a line on stderr). Default: in a Jupyter kernel only. Ignored
        when ``on_progress`` is given.

    Returns
    -------
    dict
        The summary: ``ok``, ``failed``, ``skipped``, ``flagged``, ``errors``...

    Raises
    ------
    pipeline.scanoptions.OptionsError
        A bad option (a :class:`pipeline.exitcodes.Refused` and a :class:`ssdnet.ConfigError`).
    pipeline.exitcodes.Refused
        A store or source the scan will not use.

    Notes
    -----
    The other keywords are the method's fields (:class:`ssdnet.Config`: ``preset="fast"``,
    ``steps=10``...) and the scan options; precedence: preset < ``SSDNET_<FIELD>`` < keywords.

    The calling process's glibc malloc is set to one arena and a fixed mmap threshold
    (:func:`pipeline.malloc.steady_client_memory`), which keeps a long scan's memory flat.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    if on_progress is None and (in_notebook() if progress is None else progress):
        on_progress = ProgressBar()
    resolved = resolve_options(("", options))
    cfg, opts = resolved.config, resolved.scan
    log.info("options given: %s", resolved.provenance())
    srcs = describe_all([os.fspath(s) for s in sources])
    store = os.fspath(store)
    # Before the store's and the client's threads start: flat RSS over a long scan (pipeline/malloc.py).
    steady_client_memory()
    with _naming(store), store_lock(store):
        writer = StoreWriter(store, cfg, opts.map_dtype)
        record_scan_start(writer)  # "new since last scan" (pipeline/scans.py)
        try:
            with contextlib.ExitStack() as stack:
                # A cluster run from this process closes a worker's nanny once the worker has been
                # gone lost-worker-timeout (15 s by default): restarting a worker after a timed-out
                # fit takes longer than that on a loaded 2-core machine, and the scan then ran one
                # worker short for good, after waiting RESTART_SECONDS for it.
                stack.enter_context(dask.config.set({"distributed.deploy.lost-worker-timeout": f"{RESTART_SECONDS}s"}))
                own_gpus = False
                if client is None:
                    client, own_gpus = stack.enter_context(open_client(opts, cfg))
                if on_client:
                    on_client(client)
                # A cluster object in this process (local, cuda, batch): its workers are ours to quiet.
                started_here = getattr(client, "cluster", None) is not None
                client.register_plugin(TorchThreads(cfg.threads, own_gpus, cfg, ignore_interrupt=started_here))
                if not client.nthreads():
                    # A batch cluster's workers come when its jobs start: ask them, not an empty cluster.
                    log.info("waiting for the cluster's first worker")
                    client.wait_for_workers(1)
                # What the workers have, not who started them, decides GPU placement and packing.
                devices = worker_devices(client, cfg)
                gpu_workers = sorted(w for w, d in devices.items() if d["type"] == "cuda")
                log.info("scan %s -> %s on %s (dashboard %s); %d worker(s), %d with a GPU",
                         [s.location for s in srcs], store, client.scheduler.address, client.dashboard_link,
                         len(devices), len(gpu_workers))
                scanner = Scanner(client, writer, cfg, opts, on_progress, gpu_workers,
                                  gpu_resources(client, own_gpus) if gpu_workers else None,
                                  map_writers(client, store, writer, opts))
                counting = _count_in_background(scanner.tally, srcs, opts)
                if scanner.pack > 1:
                    counting.join(timeout=5)  # a small archive's tail is sized from the start
                stopped_by = ""  # the signal that stopped the scan, if one did
                try:
                    tally = scanner.run(iter_entries(srcs, opts.include, opts.exclude))
                except KeyboardInterrupt as exc:
                    # run() has written every finished row; say what was done, then stop.
                    stopped_by, tally = stopping_signal(exc), scanner.tally
                result = summary(store, tally, client.dashboard_link, scanner.pack, len(gpu_workers))
                result["map_writes"] = "workers" if scanner.incoming else "client"
                if not stopped_by:
                    gone = gone_rows(writer, scanner, srcs, opts)
                    if gone:
                        log.info("gone: %d row(s) whose source image is no longer there%s: %s", len(gone),
                                 " (pruned)" if opts.prune else " (--prune drops them)", ", ".join(gone))
                    if opts.prune and gone and not scanner.tally.seen:
                        # An archive mount that failed lists nothing: a nightly --prune would empty the store.
                        raise Refused(f"--prune: the sources hold no image now; their {len(gone)} row(s) are kept, "
                                      "not dropped (is the archive there?); remove the store to start anew")
                    if opts.prune:
                        writer.remove(gone)
                    result.update(gone=len(gone), gone_examples=gone[:SKIPPED_EXAMPLES],
                                  pruned=len(gone) if opts.prune else 0)
        finally:
            remove_incoming(store)  # chunks of cancelled fits, never placed
            writer.close()
        if stopped_by:
            log.info("interrupted: %s", result)
            return {**result, "interrupted": True, "signal": stopped_by}
        # Only after a finished pass, and on the closed store (one row per image): flags are
        # relative to the whole archive.
        result.update(flag_store(store, opts.anomaly_z, opts.threshold))
    log.info("done: %s", result)
    return result

