"""``make demo``: generate a small archive, scan it on a local cluster, open the result with xarray.

Idempotent: the images are generated from fixed seeds (same bytes every time), so a rerun
finds every image already in the store and fits nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from ssdnet.synthetic import make_example

OUT = Path("demo-out")
ARCHIVE = OUT / "archive"
STORE = OUT / "store.zarr"
# (name, height, width, defect): two defect-free images and one of another shape.
IMAGES = [(f"part_{i:02d}", 160, 160, None if i < 2 else "random") for i in range(11)] + \
         [("strip_00", 128, 224, "random")]


def make_archive() -> None:
    for i, (name, h, w, defect) in enumerate(IMAGES):
        img, mask = make_example(100 + i, h, w, defect=defect, rgb=i % 3 == 0)
        sub = ARCHIVE / ("good" if defect is None else "defect")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{name}.png")


def main() -> int:
    import xarray as xr

    import pipeline
    from pipeline.progress import human_summary

    make_archive()
    print(f"archive: {ARCHIVE}/ ({len(IMAGES)} generated images)")
    summary = pipeline.scan([str(ARCHIVE)], str(STORE), preset="fast")
    print(human_summary(summary))
    print(json.dumps({k: summary[k] for k in ("ok", "failed", "skipped", "images_per_minute")}))
    print(f"""
Open the result with xarray:

    import xarray as xr, pipeline
    tree = xr.open_datatree("{STORE}", engine="zarr")     # one group per image shape
    index = pipeline.open_index("{STORE}")                # every image's scores, status, ...
    heat = pipeline.open_map("{STORE}", "archive/defect/part_02.png")
""")
    tree = xr.open_datatree(str(STORE), engine="zarr")
    print("groups:", ", ".join(sorted(tree.children)))
    index = pipeline.open_index(str(STORE))
    top = index.sortby("score_max", ascending=False).isel(image=slice(0, 3))
    for image_id, score in zip(top.image.values, top.score_max.values):
        print(f"  highest score_max: {image_id}  {score:.4g}")
    heat = pipeline.open_map(str(STORE), "archive/defect/part_02.png")
    print(f"map of archive/defect/part_02.png: {heat.dims} {heat.shape}, max at "
          f"{tuple(int(i) for i in np.unravel_index(int(np.argmax(heat.data)), heat.shape))}")
    return 0 if summary["failed"] == 0 else 3


if __name__ == "__main__":
    raise SystemExit(main())
