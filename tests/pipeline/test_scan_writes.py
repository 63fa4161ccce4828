"""Finished rows are written to the store in batches, and none is lost when a scan stops early."""
from __future__ import annotations

import time

import numpy as np
import pytest
import zarr

import pipeline
from pipeline.exitcodes import Refused
import ssdnet
from pipeline.scanner import Scanner
from pipeline.scanoptions import ScanOptions
from pipeline.store import StoreWriter, quiet_zarr
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


def test_rows_whose_maps_workers_wrote_wait_for_one_write_and_map_carrying_rows_do_not(client, tmp_path):
    # Rows without their maps are small: all 6 wait for the batch. Rows that carry their maps
    # (map_writes client) wait no more than are in flight (4 here), so they need a second write.
    src = tmp_path / "batch"
    write_images(src, 6)
    small = pipeline.scan(src, tmp_path / "w.zarr", client=client, write_every=600, **FAST)
    assert (small["map_writes"], small["store_writes"]) == ("workers", 1)
    carried = pipeline.scan(src, tmp_path / "c.zarr", client=client, write_every=600, map_writes="client", **FAST)
    assert carried["map_writes"] == "client" and carried["store_writes"] == 2

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


def _row(n: int, share: float | None = None) -> dict:
    """A finished ok record of a 48x48 image, as a worker returns it (texture_share left out if None)."""
    rec = {"id": f"batch/img_{n:03d}.png", "path": f"img_{n:03d}.png", "sha256": f"{n:064x}", "status": "ok",
           "error": "", "height": 48, "width": 48, "worker": "", "seconds": 1.0, "finished_at": time.time_ns(),
           "score_max": 3.0, "score_p99": 2.0, "score_mean": 1.0, "map": np.ones((48, 48), np.float32),
           "thumbnail": np.zeros((48, 48, 3), np.uint8)}
    return rec if share is None else {**rec, "texture_share": share}


def test_a_store_from_before_texture_share_reads_and_grows(tmp_path):
    store = tmp_path / "old.zarr"
    cfg = ssdnet.resolve(**FAST)
    writer = StoreWriter(store, cfg)
    writer.write([_row(0), _row(1)])
    writer.close()
    # What an earlier version left: the same store without the variable (consolidated, at rest).
    with quiet_zarr():
        root = zarr.open_group(str(store), mode="a", zarr_format=3, use_consolidated=False)
        for var in ("texture_share", "size_bytes", "mtime_ns"):
            del root["48x48"][var]
        zarr.consolidate_metadata(str(store))

    index = pipeline.open_index(store)
    assert list(index.image.values) == ["batch/img_000.png", "batch/img_001.png"]
    assert np.isnan(index.texture_share.values).all()

    writer = StoreWriter(store, cfg)
    assert writer.ok_sha("batch/img_000.png") == f"{0:064x}"
    # No (size, mtime) recorded: never unchanged unread, so its first rescan reads and hashes it.
    assert not writer.unchanged("batch/img_000.png", -1, -1)
    writer.write([_row(2, 0.25)])
    writer.close()
    index = pipeline.open_index(store)
    assert index.sizes["image"] == 3 and set(index.status.values) == {"ok"}
    np.testing.assert_array_equal(index.texture_share.values, [np.nan, np.nan, 0.25])
    assert zarr.open_group(str(store), mode="r")["48x48"]["texture_share"].shape == (3,)


@pytest.mark.parametrize("shape, chunks, n", [((40, 8, 8), (1, 8, 8), 13), ((40,), (4,), 13), ((40,), (4,), 12),
                                              ((40, 6, 6, 3), (1, 3, 6, 3), 7)])
def test_shrinking_leaves_the_chunk_files_zarrs_own_resize_leaves(tmp_path, shape, chunks, n):
    """close() trims the free slots without zarr's delete pass (whose sets of every chunk
    coordinate cost hundreds of MB at 100,000 rows): same files left, same values read."""
    from pipeline.store import _resize_rows

    data = np.arange(np.prod(shape), dtype="float32").reshape(shape) + 1
    leftovers = []
    for name, shrink in (("ours", lambda a: _resize_rows(str(tmp_path), a, n)),
                         ("zarrs", lambda a: a.resize((n, *shape[1:])))):
        arr = zarr.create_array(store=str(tmp_path), name=name, shape=shape, chunks=chunks, dtype="float32",
                                fill_value=0)
        arr[:] = data
        shrink(arr)
        again = zarr.open_array(store=str(tmp_path), path=name)
        assert again.shape == (n, *shape[1:])
        np.testing.assert_array_equal(again[:], data[:n])
        root = tmp_path / name / "c"
        leftovers.append(sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()))
    assert leftovers[0] == leftovers[1]
    assert len(leftovers[0]) < len(list((tmp_path / "ours").rglob("*"))) and leftovers[0]
