"""The leave-one-set-out protocol (bench/leave_one_set_out.py): no left-out score reaches its choice."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.leave_one_set_out import (INCUMBENT, choose, choose_image_score, default_after,  # noqa: E402
                                     leave_one_set_out)

BASELINES = ["b1", "b2"]
CANDIDATES = ["simple", "rich"]


def scores(auroc: float, auprc: float) -> dict[str, float]:
    return {"pixel_auroc": auroc, "pixel_auprc": auprc, "image_auroc": None}


def table() -> dict:
    # "rich" wins on s1 and s2, "simple" only on s3.
    return {
        "s1": {"simple": scores(0.90, 0.30), "rich": scores(0.95, 0.50), "b1": scores(0.92, 0.40), "b2": scores(0.8, 0.1)},
        "s2": {"simple": scores(0.85, 0.20), "rich": scores(0.97, 0.60), "b1": scores(0.90, 0.30), "b2": scores(0.8, 0.1)},
        "s3": {"simple": scores(0.99, 0.70), "rich": scores(0.80, 0.10), "b1": scores(0.90, 0.30), "b2": scores(0.8, 0.1)},
    }


class Sealed(dict):
    """A set's scores that must not be read."""

    def __getitem__(self, key):
        raise AssertionError(f"the left-out set's scores were read ({key})")


def test_a_fold_never_reads_the_left_out_sets_scores():
    for held in ("s1", "s2", "s3"):
        t = table()
        t[held] = Sealed(t[held])
        choose(t, [s for s in t if s != held], CANDIDATES, BASELINES)  # raises if it looks


def test_the_image_score_is_chosen_on_the_other_sets_too():
    # p99 ranks images best on s1 and s2, the maximum on s3: s3's fold uses p99 and reports s3's own
    # p99 image AUROC; the others' folds see one p99 win and one max win, and keep the maximum on a tie.
    t = table()
    for s, (mx, p99) in {"s1": (0.6, 0.9), "s2": (0.7, 0.8), "s3": (1.0, 0.5)}.items():
        for c in CANDIDATES:
            t[s][c] = {**t[s][c], "image_auroc": mx, "image_auroc_p99": p99, "image_auroc_mean": 0.1}
    assert choose_image_score(t, ["s1", "s2"], "rich") == "p99"
    sealed = {**t, "s3": Sealed(t["s3"])}
    choose_image_score(sealed, ["s1", "s2"], "rich")  # raises if it looks at s3
    folds = leave_one_set_out(t, CANDIDATES, BASELINES)["folds"]
    assert (folds["s3"]["image_score"], folds["s3"]["image_auroc"]) == ("p99", 0.5)
    assert folds["s1"]["image_score"] == "max"  # s2 (0.8 vs 0.7) and s3 (0.5 vs 1.0): max's mean is higher


def test_each_fold_chooses_on_the_other_sets_and_reports_on_its_own():
    result = leave_one_set_out(table(), CANDIDATES, BASELINES)
    folds = result["folds"]
    # Without s3, rich is ahead on both other sets: chosen, and on s3 it is behind b1.
    assert folds["s3"]["chosen"] == "rich" and folds["s3"]["pixel_auroc"] == 0.80 and not folds["s3"]["beats_all"]
    # Without s1 (or s2) each candidate wins one other set with rank 1: a tie goes to the simpler.
    assert folds["s1"]["chosen"] == folds["s2"]["chosen"] == "simple"
    assert not folds["s1"]["beats_all"] and not folds["s2"]["beats_all"]
    # All sets together choose rich (ahead on two), which no fold's left-out figure credits.
    assert (result["sets_won"], result["sets"], result["all_sets_choose"]) == (0, 3, "rich")


def test_a_left_out_sets_own_scores_cannot_change_its_choice():
    base = leave_one_set_out(table(), CANDIDATES, BASELINES)
    t = table()
    t["s3"]["simple"], t["s3"]["rich"] = scores(0.5, 0.01), scores(0.999, 0.99)  # s3 would now favour rich
    moved = leave_one_set_out(t, CANDIDATES, BASELINES)
    assert moved["folds"]["s3"]["chosen"] == base["folds"]["s3"]["chosen"]
    assert moved["folds"]["s3"]["pixel_auroc"] == 0.999  # its reported figure is its own, of that choice


def challenger_table(rich_ranks_first: bool) -> dict:
    # "simple" (the incumbent) is ahead of both baselines on s1 and s2, "rich" on all three.
    # Without s3 the two tie on wins and the mean rank decides: unless rich ranks first on s1
    # and s2, s3's fold keeps simple and loses s3, and rich's only edge is the set it is tuned on.
    hi, lo = (scores(0.97, 0.6), scores(0.95, 0.5)) if rich_ranks_first else (scores(0.95, 0.5), scores(0.97, 0.6))
    base = {"b1": scores(0.90, 0.30), "b2": scores(0.8, 0.1)}
    return {"s1": {"rich": hi, "simple": lo, **base}, "s2": {"rich": hi, "simple": lo, **base},
            "s3": {"rich": scores(0.95, 0.5), "simple": scores(0.85, 0.2), **base}}


def test_a_challenger_that_wins_only_where_it_is_tuned_does_not_become_the_default():
    t = challenger_table(rich_ranks_first=False)
    assert leave_one_set_out(t, CANDIDATES, BASELINES)["all_sets_choose"] == "rich"
    assert default_after(t, CANDIDATES, BASELINES, "simple") == {
        "default": "simple", "with": 2, "without": None, "passed_over": [{"candidate": "rich", "with": 2, "without": 2}]}


def test_a_challenger_that_raises_the_left_out_count_becomes_the_default():
    t = challenger_table(rich_ranks_first=True)
    assert default_after(t, CANDIDATES, BASELINES, "simple") == {"default": "rich", "with": 3, "without": 2,
                                                                 "passed_over": []}
    assert default_after(t, CANDIDATES, BASELINES, "rich")["default"] == "rich"


def test_the_protocol_runs_on_generated_sets(tmp_path, bench_call):
    from ssdnet.synthetic import write_dataset

    for i, name in enumerate(("ga", "gb", "gc")):
        write_dataset(tmp_path / "sets" / name, 2, size=40, good=1, seed=10 * i)  # one good, one defective
    from bench.leave_one_set_out import CANDIDATES as ALL

    out = tmp_path / "out"
    # Every candidate but those whose fits take 130 steps (steps-half, ensemble-half: half the test's
    # time): fast-sqrt-rms stands for a fit of its own (60 steps against the run's 2), the
    # accurate candidates for a second seed's.
    some = [c for c in ALL if ALL[c].get("steps") != 130]
    cmd = [sys.executable, "bench/leave_one_set_out.py", "--datasets", str(tmp_path / "sets"), "--sets", "ga,gb,gc",
           "--limit", "2", "--preset", "fast", "--option", "steps=2", "--threads", "1", "--candidates", ",".join(some),
           "--models", str(tmp_path / "models"), "--out", str(out), "--markdown", str(tmp_path / "R.md")]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    result = json.loads((out / "loso_limit2.json").read_text())
    cached = {s: json.loads((out / f"{s}_limit2.json").read_text())["scores"] for s in ("ga", "gb", "gc")}
    candidates = list(result["candidates"])
    baselines = ["spectral-residual", "glcm", "pg-lsr", "ssd"]
    for held, fold in result["folds"].items():
        assert fold["chosen"] == choose(cached, [s for s in cached if s != held], candidates, baselines)
        assert fold["pixel_auprc"] == cached[held][fold["chosen"]]["pixel_auprc"]
    assert "**ga**: chosen on the other sets" in res.stdout and "left-out sets" in res.stdout
    # A candidate's own fit settings are fitted apart from the run's fit, and kept with their record.
    own_fit = tmp_path / "models" / "ga" / "select_fast_steps=2" / "steps60"
    assert len(list(own_fit.glob("*.pt"))) == 2
    assert json.loads((own_fit / "fit.json").read_text())["steps"] == 60
    assert result["default"] == default_after(cached, candidates, baselines, INCUMBENT)
    page = (tmp_path / "R.md").read_text()
    assert page.count("<!-- loso:begin") == 1 and "| SSDnet (left out) |" in page
    # a rerun scores nothing anew: every figure comes from the cache, and the page's block is replaced
    again = bench_call(*cmd[1:])
    assert again.returncode == 0 and "fitted" not in again.stdout and "ssdnet plain" not in again.stdout
    assert (tmp_path / "R.md").read_text() == page


def usage_error(bench_call, *argv: str) -> tuple[int, str]:
    """The script's exit status and stderr for ``argv``, run in this process: a usage error or a
    refusal stops before any fit (a new process would spend seconds importing torch to say so)."""
    res = bench_call("bench/leave_one_set_out.py", *argv)
    return res.returncode, res.stderr


def test_an_unknown_candidate_is_a_usage_error(tmp_path, bench_call):
    code, err = usage_error(bench_call, "--candidates", "nope", "--out", str(tmp_path))
    assert code == 2 and "unknown candidate(s) nope" in err and not any(tmp_path.iterdir())


@pytest.mark.parametrize("name", ["plain", "paper", "paper+fills", "fused", "fused-sharp", "fused-sharper",
                                  "surface-sharp", "surface-sharper", "fused-rms", "surface-sharp-rms", "accurate-rms",
                                  "fused-sqrt-rms", "accurate-sqrt-rms", "no-fills", "no-level", "no-contrast",
                                  "no-region", "fills-48", "fills-96", "level-x2", "level-half", "contrast-x2",
                                  "contrast-half", "region-x2", "region-half", "statistics-x2", "statistics-half"])
def test_each_candidate_changes_the_map(name):
    # Each remaining option keeps a test showing it changes the map (issue 26): the candidates, as
    # the protocol scores them, differ from the default on an image that gets the surface map.
    # (This noise has no typical grain, so `no-grain` and the grain's weight change nothing here; the
    # grain map's, its weight's and the gate's own tests are in tests/ssdnet/test_predict.py.)
    import numpy as np

    import ssdnet
    from bench.leave_one_set_out import CANDIDATES as ALL, defined_over
    from ssdnet.synthetic import make_example

    image = make_example(3, 64, 64, texture_kind="noise")[0].astype(np.float32)[..., None] / 255
    cfg = ssdnet.resolve(preset="fast", steps=5, threads=1)
    default = ssdnet.map_for_array(image, cfg)
    other = ssdnet.map_for_array(image, ssdnet.resolve(defined_over(cfg), **ALL[name]))
    assert np.abs(other - default).max() > 1e-3 * float(default.max() - default.min())


def test_the_incumbent_candidate_is_the_shipped_default():
    # The candidate the protocol keeps as the default, as it scores it, is what the `fused` preset makes.
    import ssdnet
    from bench.heatmap_variants import HEATMAP_FIELDS
    from bench.leave_one_set_out import CANDIDATES as ALL, INCUMBENT, defined_over

    scored = ssdnet.resolve(defined_over(ssdnet.Config()), **ALL[INCUMBENT])
    shipped = ssdnet.Config()
    assert {k: getattr(scored, k) for k in HEATMAP_FIELDS} == {k: getattr(shipped, k) for k in HEATMAP_FIELDS}


def test_each_challenger_that_does_not_raise_the_count_is_passed_over_in_turn():
    # "steady" is ahead on s1 and s2 and first in rank there, behind b1 on s3. All sets choose rich
    # (three wins); without it the count stays 2 (the s3 fold picks steady by rank and loses s3).
    # Then steady is all sets' choice (rank), and without it simple alone wins s1 and s2 as well.
    t = challenger_table(rich_ranks_first=False)
    for name in t:
        t[name]["steady"] = scores(0.99, 0.9) if name != "s3" else scores(0.85, 0.2)
    assert default_after(t, ["simple", "rich", "steady"], BASELINES, "simple") == {
        "default": "simple", "with": 2, "without": None,
        "passed_over": [{"candidate": "rich", "with": 2, "without": 2}, {"candidate": "steady", "with": 2, "without": 2}]}


def test_a_mean_of_candidates_resolves_to_its_parts():
    # `fused-multiscale` is scored as the mean of its parts' maps: its settings are theirs, in order.
    from bench.leave_one_set_out import CANDIDATES as ALL, split_candidate

    parts, fuse_with = split_candidate("fused-multiscale")
    assert parts == [ALL[c] for c in ALL["fused-multiscale"]["mean_of"]] and fuse_with == []
    assert split_candidate("fused+ssd") == ([{}], ["ssd"])


def test_the_absolute_units_are_the_networks_inpainting_error():
    # A "network" that returns its input rebuilds every hidden block as the fill, the image mean:
    # the mean squared inpainting error is then the image's variance, whatever the block sizes.
    import torch

    import ssdnet
    from bench.leave_one_set_out import network_error_scale

    x = torch.rand(1, 32, 48, generator=torch.Generator().manual_seed(0))
    scale = network_error_scale(torch.nn.Identity(), x, ssdnet.resolve(preset="fast", inpaint_blocks="4,8"))
    assert abs(scale - float(x.var(unbiased=False))) < 1e-6


def test_another_fits_scores_and_networks_are_kept_not_overwritten(tmp_path, bench_call):
    # A run with another seed or `--option` pointed at the caches and networks of the default's
    # (hours of fits) stops with one line; it once emptied the cache silently.
    import ssdnet
    from bench.heatmap_variants import fit_record
    from bench.report import cpu_name
    from ssdnet.evaluation import list_samples, stratified
    from ssdnet.synthetic import write_dataset

    write_dataset(tmp_path / "sets" / "ga", 2, size=40, good=1, seed=1)
    ids = [s.id for s in stratified(list_samples(tmp_path / "sets" / "ga"), 2)]
    kept = fit_record(ssdnet.resolve(preset="fast", threads=1, steps="2"), 0.0, 0.0)
    out, models = tmp_path / "out", tmp_path / "models"
    out.mkdir()
    cache = out / "ga_limit2.json"
    text = json.dumps({"ids": ids, "fit": json.dumps(kept, sort_keys=True), "cpu": cpu_name(),
                       "scores": {"plain": {"pixel_auroc": 0.9}}})
    cache.write_text(text)
    argv = ["--datasets", str(tmp_path / "sets"), "--sets", "ga", "--limit", "2", "--candidates", "plain",
            "--incumbent", "plain", "--preset", "fast", "--option", "steps=3", "--threads", "1",
            "--models", str(models), "--out", str(out)]
    code, err = usage_error(bench_call, *argv)
    assert code == 2 and err == f"error: {cache}: its scores are another fit's (steps 2 -> 3); pass --out " \
                                "elsewhere or remove it\n"
    assert cache.read_text() == text
    # Networks kept under another config: refused too (exit 2, not a traceback's 1).
    cache.unlink()
    folder = models / "ga" / "select_fast_steps=3"
    folder.mkdir(parents=True)
    (folder / "fit.json").write_text(json.dumps(kept))
    code, err = usage_error(bench_call, *argv)
    assert code == 2 and err.startswith(f"error: {folder}: its networks were fitted with another config (steps 2 -> 3)")
    assert json.loads((folder / "fit.json").read_text()) == kept


def test_outside_scores_only_images_beyond_the_fixed_subset(tmp_path, bench_call):
    from ssdnet.evaluation import list_samples, stratified
    from ssdnet.synthetic import write_dataset

    for i, name in enumerate(("ga", "gb")):
        write_dataset(tmp_path / "sets" / name, 4, size=40, good=1, seed=10 * i)
    out = tmp_path / "out"
    cmd = [sys.executable, "bench/leave_one_set_out.py", "--datasets", str(tmp_path / "sets"), "--sets", "ga,gb",
           "--limit", "2", "--outside", "2", "--candidates", "plain", "--incumbent", "plain", "--preset", "fast",
           "--option", "steps=2", "--threads", "1", "--models", str(tmp_path / "models"), "--out", str(out)]
    res = bench_call(*cmd[1:])  # its start as a process is the first tests'
    assert res.returncode == 0, res.stderr[-3000:]
    assert "outside its fixed 2-image subset" in res.stdout
    for name in ("ga", "gb"):
        scored = json.loads((out / f"{name}_limit2_outside2.json").read_text())["ids"]
        fixed = {s.id for s in stratified(list_samples(tmp_path / "sets" / name), 2)}
        assert len(scored) == 2 and not fixed & set(scored)


def test_the_readme_quotes_the_left_out_figures_that_results_md_holds():
    # README's summary table is written by hand; the block of RESULTS.md by the protocol. A rerun
    # that changes a fold's choice must not leave README quoting the figures of before.
    import re

    results = (ROOT / "docs" / "RESULTS.md").read_text()
    block = results[results.index("<!-- loso:begin"):results.index("<!-- loso:end")]
    left_out = {m[0]: f"{float(m[1]):.3f} / {float(m[2]):.3f}" for m in re.findall(
        r"\*\*(\w+)\*\*: chosen on the other sets.*?\| SSDnet \(left out\) \| ([\d.]+) \| ([\d.]+) \|", block, re.S)}
    readme = (ROOT / "README.md").read_text()
    quoted = dict(re.findall(r"^\| (\w+) \| ([\d.]+ / [\d.]+) \| [\d.]+ / [\d.]+ \| \S+ [\d.]+ / [\d.]+ \|$",
                             readme, re.M))
    assert len(left_out) == 7 and quoted == left_out


def test_unseen_scores_only_images_that_no_earlier_subset_holds(tmp_path, bench_call):
    from bench.report import cpu_name
    from ssdnet.evaluation import development, list_samples, stratified
    from ssdnet.synthetic import write_dataset

    # Under a name the history lists, so its subsets there are left out as well as the protocol's.
    write_dataset(tmp_path / "sets" / "crackforest", 70, size=24, good=5, seed=3)
    write_dataset(tmp_path / "sets" / "small", 20, size=24, good=2, seed=4)
    out = tmp_path / "out"
    cmd = [sys.executable, "bench/leave_one_set_out.py", "--datasets", str(tmp_path / "sets"), "--limit", "3",
           "--unseen", "--candidates", "plain", "--incumbent", "plain", "--preset", "fast", "--option", "steps=2",
           "--threads", "1", "--models", str(tmp_path / "models"), "--out", str(out)]
    res = subprocess.run([*cmd, "--sets", "crackforest"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "no subset scored before holds" in res.stdout
    scored = set(json.loads((out / "crackforest_limit3_unseen.json").read_text())["ids"])
    every = list_samples(tmp_path / "sets" / "crackforest")
    # crackforest's history (`--limit 20`, `--limit 20 --dev 30`) and the protocol's 16 and outside 16
    held = [stratified(every, 20), development(every, 20, 30), stratified(every, 16), development(every, 16, 16)]
    assert len(scored) == 3 and not any(scored & {s.id for s in part} for part in held)
    # The cache names its processor; one made on another is scored anew (its fits were other fits).
    path = out / "crackforest_limit3_unseen.json"
    cache = json.loads(path.read_text())
    assert cache["cpu"] == cpu_name()
    path.write_text(json.dumps({**cache, "cpu": "another processor"}))
    other = bench_call(*cmd[1:], "--sets", "crackforest")
    assert other.returncode == 0 and "ssdnet plain" in other.stdout and "glcm" in other.stdout
    assert json.loads(path.read_text())["cpu"] == cpu_name()
    # A set whose every image some subset holds is one line, exit 2; so is asking for two kinds of images.
    small = bench_call(*cmd[1:], "--sets", "small")
    assert small.returncode == 2 and small.stderr.strip() == "error: small: no unseen images: the subsets " \
                                                              "scored before hold all 20"
    code, err = usage_error(bench_call, *cmd[2:], "--sets", "small", "--outside", "16")
    assert code == 2 and "--unseen and --outside" in err


def test_another_working_size_is_fitted_anew_only_where_it_sees_another_image(tmp_path):
    # `size-384`: an image that both sizes leave at its native resolution keeps the run's network
    # (the same input and settings are the same fit); one that the run resizes is fitted at the
    # candidate's size, on that size's working image, and kept under its own name.
    import numpy as np

    import ssdnet
    from bench.heatmap_variants import fit_record
    from bench.leave_one_set_out import ImageMaps, kept_folder
    from ssdnet.evaluation import list_samples
    from ssdnet.synthetic import write_dataset

    write_dataset(tmp_path / "g", 1, size=40, good=0, seed=3)
    sample = list_samples(tmp_path / "g")[0]
    native = ssdnet.resolve(preset="fast", steps=2, threads=1)
    one = ImageMaps(native, sample, kept_folder(tmp_path / "native", fit_record(native, 0.0, 0.0)))
    key, model = one.network(native.replace(size=384))
    assert model is one.models[json.dumps(one.record, sort_keys=True)]
    assert not (tmp_path / "native" / "size384").exists()

    resized = ssdnet.resolve(preset="fast", steps=2, threads=1, size=32)
    two = ImageMaps(resized, sample, kept_folder(tmp_path / "resized", fit_record(resized, 0.0, 0.0)))
    key, model = two.network(resized.replace(size=384))
    own = json.dumps(two.record, sort_keys=True)
    assert model is not two.models[own] and len(list((tmp_path / "resized" / "size384").glob("*.pt"))) == 1
    assert tuple(two.inputs[own].shape[1:]) == (32, 32) and tuple(two.inputs[key].shape[1:]) == (40, 40)
    m = two.config_map(ssdnet.resolve(resized, size=384))
    assert m.shape == (40, 40) and np.isfinite(m).all()
