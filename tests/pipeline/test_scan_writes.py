"""Finished rows are written to the store in batches, and none is lost when a scan stops early."""
from __future__ import annotations

import pytest

import pipeline
from pipeline.exitcodes import Refused
import ssdnet
from pipeline.scanner import Scanner
from pipeline.scanoptions import ScanOptions
from pipeline.store import StoreWriter
from pipeline.archive import describe_all, iter_entries

from scan_fixtures import FAST, client, write_images  # noqa: F401


def test_rows_wait_and_are_written_together(client, tmp_path):
    src = tmp_path / "batch"
    write_images(src, 6)
    store = tmp_path / "scan.zarr"
    summary = pipeline.scan(src, store, client=client, write_every=600, **FAST)
    assert summary["ok"] == 6
    # No row is written before the in-flight bound (2 tasks per slot, 2 slots) fills or the pass ends.
    assert summary["store_writes"] <= 2
    index = pipeline.open_index(store)
    assert sorted(index.status.values.tolist()) == ["ok"] * 6


def test_every_result_at_once_without_batching(client, tmp_path):
    src = tmp_path / "batch"
    write_images(src, 3)
    summary = pipeline.scan(src, tmp_path / "scan.zarr", client=client, write_every=0, **FAST)
    assert summary["ok"] == 3 and 1 <= summary["store_writes"] <= 3


class InterruptedWhileRowsWait(Scanner):
    """A Ctrl-C that lands right after the first finished rows were put aside to wait."""

    def _stage(self, records, final=False):
        super()._stage(records, final)
        if self.staged and not final:
            raise KeyboardInterrupt


def test_an_interrupted_scan_writes_the_rows_it_holds(client, tmp_path):
    src = tmp_path / "batch"
    write_images(src, 6)
    store = tmp_path / "scan.zarr"
    cfg = ssdnet.resolve(**FAST)
    writer = StoreWriter(store, cfg)
    scanner = InterruptedWhileRowsWait(client, writer, cfg, ScanOptions(write_every=600))
    with pytest.raises(KeyboardInterrupt):
        scanner.run(iter_entries(describe_all([str(src)]), (), ()))
    writer.close()
    held = scanner.tally.written
    assert held >= 1 and not scanner.staged
    index = pipeline.open_index(store)
    assert (index.status.values == "ok").sum() == held


def test_write_every_must_not_be_negative(tmp_path):
    with pytest.raises(Refused, match="write_every"):
        pipeline.scan(tmp_path, tmp_path / "s.zarr", write_every=-1)
