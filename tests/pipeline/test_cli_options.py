"""The command line's options (issue 30): help that fits, -v/-q, --print-config, one error line."""
from __future__ import annotations

import inspect
import json
import logging
import tomllib

import pytest

import pipeline
import ssdnet
from pipeline.cli import main
from pipeline.scanoptions import OptionsError, ScanOptions, resolve_options
from pipeline.verbosity import set_verbosity
from scan_fixtures import client, scheduler_args, write_images  # noqa: F401

METHOD_COMMANDS = ("scan", "detect", "eval")


def run(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture(autouse=True)
def default_verbosity():
    yield
    set_verbosity(0)  # -q / -v in one test does not leak into the next


@pytest.mark.parametrize("command", METHOD_COMMANDS)
def test_help_fits_a_screen_and_help_all_shows_the_method(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and len(out.splitlines()) <= 60, out
    assert "--help-all" in out and "--preset" in out and "--surface-region" not in out
    code, full, _ = run(capsys, command, "--help-all")
    assert code == 0 and "Method options" in full and "--surface-region" in full and "--gate-sigma" in full


@pytest.mark.parametrize("command", ["scan", "detect", "eval", "review", "show", "index", "verify", "submit"])
def test_every_command_takes_verbose_and_quiet(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0 and "-v, --verbose" in out and "-q, --quiet" in out


def test_cluster_info_takes_verbose_and_quiet(capsys):
    code, out, _ = run(capsys, "cluster", "info", "--help")
    assert code == 0 and "--quiet" in out


def test_print_config_reflects_flags_file_and_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SSDNET_WIDTH", "9")
    (tmp_path / "c.toml").write_text('preset = "fast"\nsteps = 12\ntimeout = 5.0\n')
    # No SOURCE and no --out: --print-config does no work, so needs neither.
    code, out, _ = run(capsys, "scan", "--config", tmp_path / "c.toml", "--steps", "10", "--include", "*.png",
                       "--print-config")
    assert code == 0
    data = tomllib.loads(out)
    assert (data["preset"], data["steps"], data["width"], data["batch"]) == ("fast", 10, 9, 1)
    assert data["threads"] == 1 and data["timeout"] == 5.0 and data["include"] == ["*.png"]
    assert "steps = 10  # --steps" in out and "# SSDNET_WIDTH" in out and "# config file" in out
    # The printed file is a config file the scan reads back.
    (tmp_path / "back.toml").write_text(out)
    code, again, _ = run(capsys, "scan", "--config", tmp_path / "back.toml", "--print-config")
    assert code == 0 and tomllib.loads(again) == data


@pytest.mark.parametrize("command", ["detect", "eval"])
def test_print_config_as_json(capsys, command):
    code, out, _ = run(capsys, command, "--preset", "paper", "--steps", "7", "--print-config", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["config"]["steps"] == 7 and data["config"]["surface_windows"] == "0"
    assert data["sources"]["steps"] == "--steps" and data["sources"]["surface_windows"] == "preset paper"
    assert "scan" not in data


@pytest.mark.parametrize("command, args", [
    ("scan", ["src", "--out", "s.zarr"]), ("detect", ["a.png", "--out", "o"]), ("eval", ["set"])])
@pytest.mark.parametrize("bad, needle", [
    (["--steps", "0"], "error: --steps: steps must be positive (got 0)"),
    (["--steps", "many"], "error: --steps: 'many' is not a valid integer"),
    (["--stepz", "3"], "error: --stepz: no such option (did you mean"),
    (["--preset", "slow"], "error: --preset: 'slow' is not one of"),
    (["--gate-low", "0.9"], "error: --gate-low: gate_low and gate_high must satisfy"),
])
def test_a_bad_option_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, command, args, bad, needle):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, command, *args, *bad)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(needle), err
    assert not (tmp_path / "s.zarr").exists() and not (tmp_path / "o").exists()


def test_a_bad_environment_value_names_its_variable(capsys, monkeypatch):
    monkeypatch.setenv("SSDNET_STEPS", "abc")
    code, _, err = run(capsys, "detect", "a.png", "--out", "o", "-q")
    assert code == 2 and err == "error: SSDNET_STEPS=abc: steps must be int (got 'abc')\n"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("command, args, flag", [
    ("detect", ["a.png", "--out", "o"], "--lr"), ("eval", ["set"], "--gate-sigma"),
    ("detect", ["a.png", "--out", "o"], "--border-floor"),  # range-checked: NaN compares false
    ("detect", ["--print-config"], "--noise-sigma"),  # was printed as `noise_sigma = NaN`, not TOML
    ("scan", ["src", "--out", "s.zarr"], "--gate-low"), ("scan", ["src", "--out", "s.zarr"], "--anomaly-z"),
    ("scan", ["src", "--out", "s.zarr"], "--threshold"), ("scan", ["--print-config"], "--timeout"),
])
def test_a_float_option_that_is_not_finite_is_refused(capsys, tmp_path, monkeypatch, command, args, flag, value):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, command, *args, flag, value)
    name = flag[2:].replace("-", "_")
    assert (code, out, err) == (2, "", f"error: {flag}: {name} must be a finite number (got {float(value)})\n")
    assert not (tmp_path / "s.zarr").exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("flag, value, why", [
    ("--anomaly-z", "-1", "anomaly_z must be positive (got -1.0)"),
    ("--anomaly-z", "0", "anomaly_z must be positive (got 0.0)"),
    ("--threshold", "-0.5", "threshold must not be negative (got -0.5)"),
    ("--timeout", "-1", "timeout must not be negative (got -1.0)"),
    ("--workers", "-2", "workers must not be negative (got -2)"),
])
def test_a_bad_scan_option_names_its_flag(capsys, tmp_path, monkeypatch, flag, value, why):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "scan", "src", "--out", "s.zarr", flag, value)
    assert (code, out, err) == (2, "", f"error: {flag}: {why}\n")


def test_a_non_finite_environment_value_names_its_variable(capsys, monkeypatch):
    monkeypatch.setenv("SSDNET_LR", "nan")
    code, _, err = run(capsys, "detect", "a.png", "--out", "o", "-q")
    assert code == 2 and err == "error: SSDNET_LR: lr must be a finite number (got nan)\n"
    monkeypatch.setenv("SSDNET_LR", "0.001")
    monkeypatch.setenv("SSDNET_SURFACE_SIGMA", "-inf")
    code, _, err = run(capsys, "scan", "--print-config", "-q")
    assert code == 2 and err == "error: SSDNET_SURFACE_SIGMA: surface_sigma must be a finite number (got -inf)\n"


@pytest.mark.parametrize("line, why", [("lr = nan", "lr must be a finite number (got nan)"),
                                       ("anomaly_z = inf", "anomaly_z must be a finite number (got inf)"),
                                       ("write_every = -inf", "write_every must be a finite number (got -inf)")])
def test_a_non_finite_config_file_value_names_the_file(capsys, tmp_path, line, why):
    (tmp_path / "c.toml").write_text(line + "\n")  # TOML has nan and inf literals
    code, _, err = run(capsys, "scan", "--config", tmp_path / "c.toml", "--print-config")
    assert (code, err) == (2, f"error: config file {tmp_path / 'c.toml'}: {why}\n")


@pytest.mark.parametrize("name", ["lr", "surface_region", "gate_high", "timeout", "anomaly_z", "progress_every"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_keyword_is_refused(name, value):
    with pytest.raises(OptionsError) as info:
        resolve_options(("", {name: value}))
    assert str(info.value) == f"{name} must be a finite number (got {value})"


def test_scan_refuses_a_non_finite_keyword_before_any_work(tmp_path):
    with pytest.raises(OptionsError, match=r"^anomaly_z must be a finite number \(got nan\)$"):
        pipeline.scan(tmp_path, tmp_path / "s.zarr", anomaly_z=float("nan"))
    assert not (tmp_path / "s.zarr").exists()


def test_a_misspelt_environment_variable_is_said(monkeypatch, caplog):
    monkeypatch.setenv("SSDNET_STEP", "3")
    with caplog.at_level("WARNING", logger="ssdnet"):
        assert ssdnet.resolve().steps == ssdnet.resolve(preset="fused").steps
    assert any("SSDNET_STEP is not a setting" in r.getMessage() and "SSDNET_STEPS" in r.getMessage()
               for r in caplog.records)


def test_one_error_type_for_every_source():
    for layer in (("", {"stepz": 1}), ("", {"steps": "many"}), ("", {"steps": 0}), ("", {"timeout": -1.0}),
                  ("config file f.toml", {"include": "a*"})):
        with pytest.raises(OptionsError) as info:
            resolve_options(layer)
        assert isinstance(info.value, ssdnet.ConfigError) and isinstance(info.value, ValueError)
        assert "\n" not in str(info.value)
    with pytest.raises(OptionsError, match="config file f.toml: include must be a list of strings"):
        resolve_options(("config file f.toml", {"include": "a*"}))


def test_sources_are_recorded():
    resolved = resolve_options(("", {"preset": "fast", "steps": 9, "timeout": 2.0}))
    assert resolved.provenance()["steps"] == "argument" and resolved.provenance()["width"] == "preset fast"
    assert resolved.sources["size"] == "default" and resolved.scan.timeout == 2.0


def test_scan_has_a_typed_signature():
    sig = inspect.signature(pipeline.scan)
    assert not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    for name in [f for f in ssdnet.Config.__dataclass_fields__] + list(ScanOptions.__dataclass_fields__):
        param = sig.parameters[name]
        assert param.kind is param.KEYWORD_ONLY and param.default is None and param.annotation != param.empty
    assert sig.parameters["steps"].annotation == "int | None"
    assert sig.parameters["include"].annotation == "Sequence[str] | None"
    doc = pipeline.scan.__doc__
    assert "Parameters\n    ----------" in doc and "    steps : int, optional" in doc
    assert doc.index("Other Parameters") < doc.index("Raises")


def test_scan_refuses_an_unknown_keyword_as_before(tmp_path):
    with pytest.raises(OptionsError, match="unknown option 'stepz' \\(did you mean steps\\?\\)"):
        pipeline.scan(tmp_path, tmp_path / "s.zarr", stepz=3)


def test_quiet_hides_progress_and_info(capsys, client, tmp_path):  # noqa: F811
    write_images(tmp_path / "src", 2)
    common = ["scan", tmp_path / "src", *scheduler_args(client), "--preset", "fast", "--steps", "5",
              "--progress-every", "0.001"]
    code, out, err = run(capsys, *common, "--out", tmp_path / "a.zarr")
    assert code == 0 and "progress:" in err and "ok 2" in out
    code, out, err = run(capsys, *common, "--out", tmp_path / "b.zarr", "-q")
    assert code == 0 and err == "" and "ok 2" in out  # the summary is the result: it stays


def test_verbose_says_info(capsys, caplog):
    set_verbosity(1)
    logging.getLogger("ssdnet.scan").info("hello from a scan")
    assert "INFO ssdnet.scan: hello from a scan" in capsys.readouterr().err
    set_verbosity(-1)
    logging.getLogger("ssdnet").warning("hidden")
    logging.getLogger("pipeline").error("kept")
    err = capsys.readouterr().err
    assert "hidden" not in err and "ERROR pipeline: kept" in err


@pytest.mark.parametrize("args, line", [
    (["detect", "a.png", "--out"], "error: --out: requires an argument\n"),
    (["detect", "a.png", "--out", "o", "--json=3"], "error: --json: does not take a value\n"),
    (["scan", "--out", "s.zarr"], "error: SOURCES...: missing\n"),
    (["index"], "error: STORE: missing\n"),
])
def test_clicks_own_errors_are_one_line_too(capsys, tmp_path, monkeypatch, args, line):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2 and err == line


def test_a_bad_cluster_option_is_the_same_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "cluster", "info", "--cluster-config", tmp_path / "none.toml")
    assert code == 2 and err == f"error: cluster config {tmp_path / 'none.toml'}: no such file\n"
    code, _, err = run(capsys, "cluster", "info", "--scheduler", "tcp://h:1", "--cluster", "slurm")
    assert code == 2 and err == "error: --scheduler: implies --cluster address, not slurm\n"


@pytest.mark.parametrize("args, line", [
    (["detect", "src/img_000.png", "--out", "afile/sub"], "error: afile/sub: Not a directory\n"),
    (["scan", "src", "--out", "afile"], "error: afile: File exists\n"),
    (["scan", "src", "--out", "afile/s.zarr"], "error: afile/s.zarr: Not a directory\n"),
    (["scan", "src", "--out", "s.zarr", "--config", "src/img_000.png"],
     "error: config file src/img_000.png: not valid TOML ('utf-8' codec can't decode byte 0x89 in position 0: "
     "invalid start byte)\n"),
    (["cluster", "info", "--cluster-config", "src/img_000.png"],
     "error: cluster config src/img_000.png: not valid TOML ('utf-8' codec can't decode byte 0x89 in position 0: "
     "invalid start byte)\n"),
])
def test_an_output_or_config_path_that_cannot_serve_is_one_line_and_exit_2(capsys, tmp_path, monkeypatch, args,
                                                                          line):
    # A file where a folder must be, a picture given as a config file: the user's paths, not a bug (were exit 1).
    monkeypatch.chdir(tmp_path)
    write_images(tmp_path / "src", 1)
    (tmp_path / "afile").write_text("")
    code, _, err = run(capsys, *args, "--preset", "fast", "--steps", "2") if args[0] != "cluster" else \
        run(capsys, *args)
    assert (code, err) == (2, line)
    assert not (tmp_path / "s.zarr").exists()


def test_every_exit_code_is_in_the_readme_table_and_the_cli_help():
    # A code a script must handle is one a user can look up: README's table and `ssdnet --help`'s module text.
    import re
    from pathlib import Path

    import pipeline.cli
    from pipeline import exitcodes

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = {int(m) for m in re.findall(r"^\| (\d+) \|", readme, flags=re.M)}
    codes = {v for k, v in vars(exitcodes).items() if k.isupper() and isinstance(v, int)}
    assert codes == table
    assert all(re.search(rf"\b{c}\b", pipeline.cli.__doc__) for c in codes)
