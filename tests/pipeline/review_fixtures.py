"""One small scanned archive with a certain outlier, shared by the review tests.

Eight byte-identical defect-free textures fit to eight equal scores; the same texture with a
bright square on it fits to a far higher one (score_max about 14 against 2.3 with 10 steps).
With over half the scores tied the MAD is zero and the robust z falls back to the mean
absolute deviation: the odd image's z is 9 / 1.2533 = 7.18 whatever its score, so
the flag does not depend on how well 10 fitting steps do.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pipeline
from ssdnet.synthetic import texture

from scan_fixtures import FAST

CLEAN = [f"arch/good_{i:02d}.png" for i in range(8)]
ODD = "arch/odd.png"
BROKEN = "arch/broken.png"


def make_archive(root: Path) -> Path:
    arch = root / "arch"
    arch.mkdir(parents=True)
    clean = (texture("weave", 48, 48, np.random.default_rng(7)) * 255 + 0.5).astype(np.uint8)
    for image_id in CLEAN:
        Image.fromarray(clean).save(root / image_id)
    odd = clean.copy()
    odd[18:28, 20:30] = 255
    Image.fromarray(odd).save(root / ODD)
    (root / BROKEN).write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return arch


@pytest.fixture(scope="module")
def scanned(client, tmp_path_factory):
    """(archive dir, store, scan summary): read-only for tests; copy the store to change it."""
    root = tmp_path_factory.mktemp("review")
    arch = make_archive(root)
    store = root / "scan.zarr"
    summary = pipeline.scan(arch, store, client=client, **FAST)
    return arch, store, summary


def copy_of(scanned, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the archive and store, same image ids."""
    arch, store, _ = scanned
    shutil.copytree(arch, tmp_path / "arch")
    shutil.copytree(store, tmp_path / "scan.zarr")
    return tmp_path / "arch", tmp_path / "scan.zarr"


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def read_rows(out: Path) -> dict[str, list]:
    """The review table's rows as the page reads them: every ``rows-*/r-*.js`` file of ``out``
    (one folder), each ``ssdnetRows(k, {column: [values]});``, joined in file order."""
    folders = sorted(p for p in out.glob("rows-*") if p.is_dir())
    assert len(folders) == 1, folders
    cols: dict[str, list] = {}
    for k, path in enumerate(sorted(folders[0].glob("r-*.js"))):
        assert path.name == f"r-{k:05d}.js"
        text = path.read_text(encoding="utf-8")
        head = f"ssdnetRows({k},"
        assert text.startswith(head) and text.endswith(");\n"), text[:80]
        for name, values in json.loads(text[len(head):-3]).items():
            cols.setdefault(name, []).extend(values)
    return cols
