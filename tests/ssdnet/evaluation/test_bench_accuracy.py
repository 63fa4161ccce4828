import csv
import importlib.util
import json
from pathlib import Path

import pytest

from ssdnet.synthetic import write_dataset

BENCH = Path(__file__).resolve().parents[3] / "bench" / "accuracy.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_accuracy", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_set(tmp_path, method: str, seed: int, images: int = 3) -> tuple[Path, Path, list[str]]:
    """A generated set "alpha", where its results and tables go, and the bench arguments for one method."""
    write_dataset(tmp_path / "sets" / "alpha", images, size=48, good=1, seed=seed)
    results, markdown = tmp_path / "results.json", tmp_path / "RESULTS.md"
    return results, markdown, ["--datasets", str(tmp_path / "sets"), "--results", str(results), "--markdown",
                               str(markdown), "--per-image-dir", str(tmp_path / "out"), "--methods", method]


def test_rows_merge_and_the_prose_around_the_tables_is_kept(tmp_path):
    bench = load_bench()
    write_dataset(tmp_path / "sets" / "alpha", 4, size=64, good=1, seed=0)
    write_dataset(tmp_path / "sets" / "beta", 3, size=64, good=1, seed=9)
    results, markdown = tmp_path / "results.json", tmp_path / "RESULTS.md"
    markdown.write_text(f"# Results\n\nIntro.\n\n{bench.BEGIN}\nold\n{bench.END}\n\n## Baselines\n\nProse.\n")
    common = ["--datasets", str(tmp_path / "sets"), "--results", str(results), "--markdown", str(markdown),
              "--per-image-dir", str(tmp_path / "out")]
    assert bench.main(["--methods", "spectral-residual,ssd", *common]) == 0
    first = json.loads(results.read_text())
    cpu = bench.cpu_name()
    assert sorted(first) == [f"alpha|spectral-residual|None|{cpu}", f"alpha|ssd|None|{cpu}",
                             f"beta|spectral-residual|None|{cpu}", f"beta|ssd|None|{cpu}"]
    # A subset run adds its own row beside the full-set one; re-running replaces only that row.
    assert bench.main(["--methods", "ssd", "--sets", "beta", "--limit", "beta=2", *common]) == 0
    assert bench.main(["--methods", "ssd", "--sets", "beta", "--limit", "beta=2", "--threads", "1", *common]) == 0
    second = json.loads(results.read_text())
    subset = second[f"beta|ssd|None|limit 2|{cpu}"]
    assert subset["n_images"] == 2 and subset["limit"] == 2
    assert {k: v for k, v in second.items() if k != f"beta|ssd|None|limit 2|{cpu}"} == first
    text = markdown.read_text()
    assert text.startswith("# Results\n\nIntro.\n") and text.endswith("## Baselines\n\nProse.\n")
    assert "old" not in text and "### alpha" in text and "### beta" in text
    assert "--sets beta --methods ssd --limit 2" in text
    assert "--threads 1" in subset["command"]  # a fit reproduces only at its thread count
    assert subset["cpu"] and f"| {subset['cpu']} | `" in text  # nor on another processor: each row names its own
    # The full-set run and the subset run keep their own per-image files.
    assert len(list(csv.DictReader((tmp_path / "out" / "beta" / "ssd.csv").open()))) == 3
    assert len(list(csv.DictReader((tmp_path / "out" / "beta" / "ssd_limit2.csv").open()))) == 2


def test_a_row_from_another_processor_is_kept_beside_this_ones(tmp_path):
    bench = load_bench()
    results, markdown, common = one_set(tmp_path, "ssd", seed=4)
    # Rows written before the processor was recorded, and by another processor, as results.json holds them.
    older = {"dataset": "alpha", "method": "ssd", "preset": None, "n_images": 3, "pixel_auroc": 0.5,
             "command": "x", "commit": "abc"}
    elsewhere = {**older, "pixel_auroc": 0.25, "cpu": "Other CPU"}
    results.write_text(json.dumps({"alpha|ssd|None": older, "alpha|ssd|None|Other CPU": elsewhere}))
    assert bench.main(common) == 0
    assert bench.main(common) == 0  # this processor's row replaced, the others kept
    rows = json.loads(results.read_text())
    assert set(rows) == {"alpha|ssd|None", "alpha|ssd|None|Other CPU", f"alpha|ssd|None|{bench.cpu_name()}"}
    assert rows["alpha|ssd|None|Other CPU"]["pixel_auroc"] == 0.25 and rows["alpha|ssd|None"]["pixel_auroc"] == 0.5
    assert "| Other CPU |" in markdown.read_text()


def test_limits_parse_per_set_and_global():
    bench = load_bench()
    assert bench.parse_limits("40") == (40, {})
    assert bench.parse_limits("neu_seg=40,magnetic_tile=30,5") == (5, {"neu_seg": 40, "magnetic_tile": 30})
    assert bench.parse_limits(None) == (None, {})


def test_robustness_rows_are_kept_apart_from_clean_ones(tmp_path):
    bench = load_bench()
    results, markdown, common = one_set(tmp_path, "spectral-residual", seed=2)
    assert bench.main(common) == 0
    assert bench.main([*common, "--input-noise", "0.1", "--input-dropout", "0.2"]) == 0
    rows = json.loads(results.read_text())
    cpu = bench.cpu_name()
    assert set(rows) == {f"alpha|spectral-residual|None|{cpu}",
                         f"alpha|spectral-residual|None|noise 0.1, dropout 0.2|{cpu}"}
    damaged = rows[f"alpha|spectral-residual|None|noise 0.1, dropout 0.2|{cpu}"]
    assert damaged["input"] == "noise 0.1, dropout 0.2"
    assert damaged["pixel_auroc"] != rows[f"alpha|spectral-residual|None|{cpu}"]["pixel_auroc"]
    assert "--input-noise 0.1 --input-dropout 0.2" in markdown.read_text()
    assert (tmp_path / "out" / "alpha" / "spectral-residual_noise0.1,dropout0.2.csv").is_file()


def test_a_development_row_scores_the_images_outside_the_test_subset(tmp_path):
    bench = load_bench()
    results, markdown, common = one_set(tmp_path, "ssd", seed=6, images=5)  # room for both splits
    assert bench.main([*common, "--limit", "2"]) == 0
    assert bench.main([*common, "--limit", "2", "--dev", "2"]) == 0
    rows = json.loads(results.read_text())
    cpu = bench.cpu_name()
    test, dev = rows[f"alpha|ssd|None|limit 2|{cpu}"], rows[f"alpha|ssd|None|limit 2|dev 2|{cpu}"]
    assert test["n_images"] == dev["n_images"] == 2 and dev["dev"] == 2
    assert test["pixel_auroc"] != dev["pixel_auroc"]  # other images
    tested = [r["id"] for r in csv.DictReader((tmp_path / "out" / "alpha" / "ssd_limit2.csv").open())]
    developed = [r["id"] for r in csv.DictReader((tmp_path / "out" / "alpha" / "ssd_limit2_dev2.csv").open())]
    assert len(developed) == 2 and not set(developed) & set(tested)
    text = markdown.read_text()
    assert "| dev 2 (outside 2) |" in text and "--limit 2 --dev 2" in text


def test_a_development_row_needs_the_test_subset_it_stays_out_of(tmp_path, capsys):
    bench = load_bench()
    results, _, common = one_set(tmp_path, "ssd", seed=6)
    with pytest.raises(SystemExit) as exit_info:
        bench.main([*common, "--dev", "2"])
    assert exit_info.value.code == 2 and "--dev needs the --limit" in capsys.readouterr().err
    assert not results.exists()
