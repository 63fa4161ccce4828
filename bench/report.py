"""Render docs/PERFORMANCE.md from the JSON that bench/fit_speed.py and bench/scan_speed.py wrote.

    .venv/bin/python bench/report.py
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FINDINGS = "## Findings"
# Sections measured by other scripts and written by hand follow this line; kept across renders.
KEEP = "<!-- Hand-written from here on"


def cpu_name() -> str:
    """The processor's model name: fits differ between processors (their kernels sum in another
    order), so a measured figure names the one it came from."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return f"{cpu_name()}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.system()} {platform.release()}"


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True).stdout.strip() or "unknown"


def emit(result: dict, out: Path | None) -> None:
    """Print a bench result as one JSON line, and write it to ``out`` where given."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


def section(title: str, intro: str, header: list[str], rows: list[list[str]]) -> list[str]:
    """A page section: its title, an intro that says how it was measured, and one table."""
    return ([f"## {title}", "", intro, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + [("| " + " | ".join(r) + " |").replace("|  |", "| |") for r in rows] + [""])


def fit_section(data: dict) -> list[str]:
    intro = (f"`{data['command']}` at commit `{data['commit']}`; median of {len(data['rows'][0]['runs'])} runs, "
             f"{data['threads']} torch threads, each fit in a fresh process (peak RSS is that process's).\n"
             "FLOPs counted with `torch.utils.flop_counter.FlopCounterMode` over one whole fit (training and "
             "heatmap);\n"
             f"peak = best float32 2048x2048 matmul on the same threads: {data['matmul_peak_gflops']:.1f} GFLOP/s "
             "(achievable, not the vendor's figure).")
    rows = [[r["preset"], f"{r['size']}x{r['size']}", f"{r['seconds']:.2f}", f"{r['peak_rss_mb']:.0f}",
             f"{r['gflop']:.1f}", f"{r['gflops_per_s']:.1f}", f"{100 * r['fraction_of_peak']:.1f}%"]
            for r in data["rows"]]
    return section("Seconds and memory per fit", intro,
                   ["preset", "input", "seconds", "peak RSS (MB)", "GFLOP", "GFLOP/s", "share of peak"], rows)


def scan_section(data: dict) -> list[str]:
    m = data["median"]
    intro = (f"`{data['command']}` at commit `{data['commit']}`: {data['images']} generated "
             f"{data['size']}x{data['size']} images, preset `{data['preset']}`, single-threaded torch, whole "
             "commands timed from outside (interpreter and cluster start-up included), median of "
             f"{len(data['runs']['loop'])} runs.")
    rows = [
        ["one `ssdnet detect` call over the images", f"{m['loop']:.1f} s", ""],
        ["`ssdnet scan`, 1 worker", f"{m['scan_1']:.1f} s", ""],
        ["scan / loop", f"{data['scan_over_loop']:.3f}", "at most 1.10"],
        ["`ssdnet scan`, 2 workers", f"{m['scan_2']:.1f} s", ""],
        ["2 workers / 1 worker, images per minute", f"{data['speedup_2_workers']:.2f}x", "at least 1.8x"],
        ["Zarr write seconds per image", f"{data['write_seconds_per_image']:.4f} s", ""],
        ["fit seconds per image (median, from the index)", f"{data['fit_seconds_per_image']:.2f} s", ""],
        ["write / fit", f"{100 * data['write_over_fit']:.2f}%", "at most 2%"],
    ]
    if "outside_fits_seconds" in data:
        rows += [["fit seconds per image with 2 workers busy",
                  f"{data['fit_seconds_per_image_2_workers']:.2f} s ({data['fit_slowdown_2_workers']:.2f}x)", ""],
                 ["1-worker scan outside the fits (start-up, shutdown)", f"{data['outside_fits_seconds']:.1f} s", ""]]
    return section("The scan around the fits", intro, ["measure", "value", "target"], rows)


def heatmap_section(data: dict) -> list[str]:
    s = data["seconds"]
    intro = (f"`{data['command']}` at commit `{data['commit']}`: one {data['width']}x{data['height']} working "
             f"image (3 channels), {data['threads']} torch thread(s), median of {data['repeats']} runs; the gate "
             "forced to each side (docs/METHOD.md, heatmap steps 5-10). The fit before it is the table above.")
    rows = [["texture map", f"{s['texture map']:.2f}"],
            ["surface map, image-mean fill only (`surface_windows=0`)", f"{s['surface map, image-mean fill only']:.2f}"],
            [f"surface map, default fills (`surface_windows={data['surface_windows']}`), no level map "
             "(`surface_level=0`)", f"{s['surface map, default fills, no level map']:.2f}"],
            [f"surface map, default fills and level map (`surface_level={data['surface_level']:g}`)",
             f"{s.get('surface map, default fills and level map, no grain map', s['surface map, default fills']):.2f}"]]
    if "surface_grain" in data:  # measured since the grain map joined the surface map
        grain = s.get("surface map, default fills, level and grain maps, no contrast map",
                      s["surface map, default fills"])
        rows.append([f"surface map, default fills, level map and grain map "
                     f"(`surface_grain={data['surface_grain']:g}`)", f"{grain:.2f}"])
    if "surface_contrast" in data:  # measured since the contrast map joined the surface map
        contrast = s.get("surface map, default fills, level, grain and contrast maps, no region map",
                         s["surface map, default fills"])
        rows.append([f"surface map, default fills, level, grain and contrast maps "
                     f"(`surface_contrast={data['surface_contrast']:g}`)", f"{contrast:.2f}"])
    if "surface_region" in data:  # measured since the region map joined the surface map
        rows.append([f"surface map, default fills, level, grain, contrast and region maps "
                     f"(`surface_region={data['surface_region']:g}`)", f"{s['surface map, default fills']:.2f}"])
    return section("Seconds of the heatmap (after the fit)", intro, ["heatmap", "seconds"], rows)


def gpu_section(data: dict) -> list[str]:
    """bench/gpu_check.py's JSON: packs, large images, the GPU commands, scan against loop."""
    lines = [f"`bench/gpu_check.sh` on {data['device']} (torch {data.get('torch', '?')}) at commit "
             f"`{data.get('commit', '?')}`, preset `{data['preset']}` ({data['steps']} steps), "
             f"{data['size']}x{data['size']} images.", ""]
    peaks = data.get("peaks", {})
    packs = data.get("packs")
    if packs:
        lines += [f"Measured matmul peaks: fp32 {peaks['fp32_flops_per_s'] / 1e12:.1f} TFLOP/s, bf16 "
                  f"{peaks['bf16_flops_per_s'] / 1e12:.1f} TFLOP/s; one fit and its heatmap: "
                  f"{packs['flops_per_fit'] / 1e9:.0f} GFLOP.", "",
                  "| precision | K | fits per minute | speed-up | fit s | heatmap s | TFLOP/s | of fp32 peak "
                  "| of bf16 peak |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['precision']} | {r['K']} | {r['fits_per_minute']:.1f} | {r['speedup']:.2f}x | "
                  f"{r['fit_seconds']:.2f} | {r['heatmap_seconds']:.2f} | {r['flops_per_s'] / 1e12:.2f} | "
                  f"{100 * r['share_of_fp32_peak']:.1f}% | {100 * r['share_of_bf16_peak']:.2f}% |"
                  for r in packs["rows"]]
        lines += ["", f"`ssdnet.pack_size` measured K = {packs['pack_size']} "
                      f"(in {packs['pack_size_seconds']:.1f} s).", ""]
    if data.get("large"):
        lines += ["| image | seconds | fit s | heatmap s |", "|---|---|---|---|"]
        lines += [f"| {r['width']}x{r['height']} | {r['seconds']:.2f} | {r['fit_seconds']:.2f} | "
                  f"{r['heatmap_seconds']:.2f} |" for r in data["large"]]
        lines += [""]
    for name, run in {**data.get("commands", {}), **data.get("eval", {})}.items():
        got = run.get("json", {})
        extra = ", ".join(f"{k} {got[k]}" for k in ("ok", "failed", "pack", "images_per_minute", "seconds_per_image", "pixel_auroc",
                                                     "pixel_auprc") if k in got)
        lines += [f"- `ssdnet {' '.join(run['args'][:1])}` ({name}): exit {run['rc']}, {run['seconds']:.1f} s"
                  + (f"; {extra}" if extra else "")]
    if "scan_vs_loop" in data:
        v = data["scan_vs_loop"]
        lines += ["", f"`ssdnet scan` of {v['images']} images at pack {v['pack']}: "
                      f"{v['scan_images_per_minute']:.1f} images per minute against the bare packed loop's "
                      f"{v['loop_images_per_minute']:.1f} ({100 * v['ratio']:.0f} %)."]
    for part, error in data.get("errors", {}).items():
        lines += ["", f"Part `{part}` failed: `{error.strip().splitlines()[-1]}`"]
    return lines + [""]


def main() -> None:
    lines = ["# Performance", "", f"Machine: {machine()}.", "",
             "Every figure below was measured by a script in `bench/`; rerun it and then "
             "`.venv/bin/python bench/report.py` to refresh this page.", ""]
    for name, render in (("fit_speed", fit_section), ("heatmap_cost", heatmap_section), ("scan_speed", scan_section)):
        path = OUT / f"{name}.json"
        if path.exists():
            lines += render(json.loads(path.read_text()))
        else:
            lines += [f"## {name}", "", f"Not measured yet: run `bench/{name}.py`.", ""]
    gpu = OUT / "gpu_check.json"
    lines += ["## Packed fits on a GPU", ""]
    if gpu.exists():
        lines += gpu_section(json.loads(gpu.read_text()))
    else:
        lines += ["Unmeasured: no GPU was available to this project's sessions so far. `bench/gpu_check.sh` "
                  "(one command, under 6 minutes on one GPU; `bench/gpu_wheels.sh` first fetches the scan's "
                  "packages as wheels for a GPU machine without network) measures what this section will hold: "
                  "fits per minute for K = 1, 4, 16, 64 and 128 at 256x256 with the fit / heatmap split, the "
                  "achieved FLOP/s against measured fp32 and bf16 matmul peaks, the K `ssdnet.pack_size` "
                  "measures, a 1024x1024 and a 4096x256 image, and `ssdnet scan` against the bare packed loop. "
                  "Its CPU smoke run is part of the test suite.", ""]
    page = ROOT / "docs" / "PERFORMANCE.md"
    # What follows KEEP (or, in older pages, "## Findings") is written by hand and kept.
    old = page.read_text() if page.exists() else ""
    mark = KEEP if KEEP in old else FINDINGS
    tail = old[old.index(mark):] if mark in old else ""
    page.write_text("\n".join(lines) + "\n" + ("\n" + tail if tail else ""))


if __name__ == "__main__":
    main()
