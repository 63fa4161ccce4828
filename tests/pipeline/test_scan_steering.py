"""Steering: a bounded number of images in flight, results taken as they complete (no polling)."""
from __future__ import annotations

import inspect

import ssdnet

import pipeline.scanner
from pipeline.archive import describe_all, iter_entries
from pipeline.scanner import Scanner
from pipeline.scanoptions import ScanOptions
from pipeline.store import StoreWriter
from scan_fixtures import FAST, client, write_images  # noqa: F401


class Counting(Scanner):
    """Records the most images ever in flight, and how often the loop waited."""

    most = 0
    waits = 0

    def flush(self) -> None:
        super().flush()
        Counting.most = max(Counting.most, self.in_flight)

    def _wait(self, last_report: float) -> None:
        Counting.waits += 1
        super()._wait(last_report)


def test_images_in_flight_stay_within_the_limit_and_the_loop_waits_for_results(client, tmp_path):
    src = tmp_path / "many"
    write_images(src, 12)
    cfg = ssdnet.resolve(**FAST)
    writer = StoreWriter(tmp_path / "s.zarr", cfg)
    scanner = Counting(client, writer, cfg, ScanOptions(write_every=0))
    limit = scanner.limit()
    assert limit == 2 * sum(client.nthreads().values())  # two tasks per slot, pack 1
    tally = scanner.run(iter_entries(describe_all([str(src)])))
    writer.close()
    assert tally.ok == 12
    assert 1 <= Counting.most <= limit
    # Woken by finished fits, not by a clock: at most a wait per result (plus the last ones').
    assert Counting.waits <= 12 + limit


def test_the_scan_loop_does_not_sleep():
    assert "time.sleep" not in inspect.getsource(pipeline.scanner)
