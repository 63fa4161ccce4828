"""``make demo``: generate a small archive, scan it on a local cluster, open the result with xarray.

Idempotent: the images are generated from fixed seeds (same bytes every time), so a rerun
finds every image already in the store and fits nothing; after an upgrade whose defaults
changed the method, the demo's own store is made afresh instead of refused.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ssdnet
from ssdnet.synthetic import make_example

OUT = Path("demo-out")
ARCHIVE = OUT / "archive"
STORE = OUT / "store.zarr"
# The scan's options: the stale-store check below resolves them as the scan does.
OPTIONS = {"preset": "fast"}
# (name, height, width, defect): two defect-free images and one of another shape.
IMAGES = [(f"part_{i:02d}", 160, 160, None if i < 2 else "random") for i in range(11)] + \
         [("strip_00", 128, 224, "random")]


def make_archive() -> None:
    for i, (name, h, w, defect) in enumerate(IMAGES):
        img, mask = make_example(100 + i, h, w, defect=defect, rgb=i % 3 == 0)
        sub = ARCHIVE / ("good" if defect is None else "defect")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(sub / f"{name}.png")


def replace_stale_store(store: Path, cfg: ssdnet.Config, map_dtype: str) -> str | None:
    """Remove the demo's store when it is bound to other settings than ``cfg`` and ``map_dtype``
    (made by an older ssdnet, whose defaults differed) and say why; None when it can take the scan.

    A user's store is refused in that case (its maps must not mix two methods); the demo's
    store is the demo's own scratch, so a rerun after an upgrade starts it afresh instead.
    """
    if not (store / "zarr.json").exists():
        return None
    from pipeline.exitcodes import Refused
    from pipeline.store import check_binding, store_attrs

    try:
        check_binding(store_attrs(store), cfg, map_dtype, str(store))
    except Refused as why:
        shutil.rmtree(store)
        return str(why)
    return None


def main() -> int:
    import pipeline
    from pipeline.exitcodes import Refused
    from pipeline.progress import human_summary
    from pipeline.scanoptions import resolve_all, split_options

    make_archive()
    cfg, opts = resolve_all(*split_options(OPTIONS))
    stale = replace_stale_store(STORE, cfg, opts.map_dtype)
    if stale:
        print(f"demo: {stale}\ndemo: the demo's own store was removed and is made afresh")
    print(f"archive: {ARCHIVE}/ ({len(IMAGES)} generated images)")
    try:
        summary = pipeline.scan([str(ARCHIVE)], str(STORE), **OPTIONS)
    except Refused as why:  # e.g. demo-out/store.zarr is not a store at all
        print(f"error: {why}", file=sys.stderr)
        return 2
    print(human_summary(summary))
    print(json.dumps({k: summary[k] for k in ("ok", "failed", "skipped", "images_per_minute")}))
    print(f"""
Open the result with xarray:

    import pipeline
    tree = pipeline.open_tree("{STORE}")                  # xarray DataTree: one group per image shape
    index = pipeline.open_index("{STORE}")                # every image's scores, status, ...
    heat = pipeline.open_map("{STORE}", "archive/defect/part_02.png")
""")
    tree = pipeline.open_tree(str(STORE))
    print("groups:", ", ".join(sorted(tree.children)))
    index = pipeline.open_index(str(STORE))
    from pipeline.flags import FLAG_SCORE

    # Ranked as the flags and the review rank them.
    top = index.sortby(FLAG_SCORE, ascending=False).isel(image=slice(0, 3))
    for image_id, score in zip(top.image.values, top[FLAG_SCORE].values):
        print(f"  highest {FLAG_SCORE}: {image_id}  {score:.4g}")
    heat = pipeline.open_map(str(STORE), "archive/defect/part_02.png")
    print(f"map of archive/defect/part_02.png: {heat.dims} {heat.shape}, max at "
          f"{tuple(int(i) for i in np.unravel_index(int(np.argmax(heat.data)), heat.shape))}")
    return 0 if summary["failed"] == 0 else 3


if __name__ == "__main__":
    raise SystemExit(main())
