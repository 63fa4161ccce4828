"""Reading a store needs numpy, zarr, xarray and pandas only: no torch, no Dask (issue 30)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pipeline

from scan_fixtures import FAST, client, write_images  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
READER = """
import json, sys
for name in ("torch", "distributed", "dask"):
    sys.modules[name] = None  # as if not installed: importing it fails, probing finds nothing
store, image, out = sys.argv[1:4]
import pipeline
from pipeline.pictures import save_overlay
from pipeline.review import write_report
index = pipeline.open_index(store)
heat = pipeline.open_map(store, image)
save_overlay(store, image, out + "/overlay.png")
report = write_report(store, out + "/report")
print(json.dumps({"images": int(index.sizes["image"]), "map": list(heat.shape), "pictured": report["pictured"],
                  "loaded": sorted(m for m, mod in sys.modules.items()
                                  if mod is not None and m.split(".")[0] in ("torch", "distributed", "dask"))}))
"""


def test_open_index_open_map_show_and_review_run_without_torch_or_dask(client, tmp_path):
    write_images(tmp_path / "src", 2)
    store = tmp_path / "s.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    res = subprocess.run([sys.executable, "-c", READER, str(store), "src/img_000.png", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got == {"images": 2, "map": [48, 48], "pictured": 2, "loaded": []}
    assert (tmp_path / "overlay.png").stat().st_size > 0 and (tmp_path / "report" / "index.html").exists()


CLI = """
import sys
for name in ("torch", "distributed", "dask"):
    sys.modules[name] = None
from pipeline.cli import main
main(sys.argv[1:])
"""


def test_the_reading_commands_run_without_torch_or_dask(client, tmp_path):
    write_images(tmp_path / "src", 2)
    store = tmp_path / "s.zarr"
    pipeline.scan(tmp_path / "src", store, client=client, **FAST)
    for args in (["index", store], ["show", store, "src/img_001.png", "--out", tmp_path / "o.png"],
                 ["review", store, "--out", tmp_path / "report"], ["verify", store],
                 ["export", store, "img_001.png", "--out", tmp_path / "export"]):
        res = subprocess.run([sys.executable, "-c", CLI, *map(str, args)], cwd=ROOT, capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, (args[0], res.stderr[-2000:])
    assert "src/img_000.png" in subprocess.run([sys.executable, "-c", CLI, "index", str(store)], cwd=ROOT,
                                               capture_output=True, text=True, timeout=300).stdout


def test_the_packages_list_their_public_names_without_loading_them():
    res = subprocess.run([sys.executable, "-c", "import sys, pipeline, ssdnet, cluster; "
                          "print(dir(pipeline), 'connect' in dir(cluster), 'detect' in dir(ssdnet), "
                          "sorted(m for m in ('torch', 'dask', 'distributed', 'zarr') if m in sys.modules))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "['open_index', 'open_map', 'open_tree', 'scan'] True True []", res.stderr
