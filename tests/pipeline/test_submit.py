"""ssdnet submit --dry-run and ssdnet cluster info: what the job scripts carry, how errors read."""
from __future__ import annotations

import json

import pytest

from pipeline.cli import main

SLURM = """kind = "slurm"
queue = "gpu"
account = "proj42"
walltime = "02:00:00"
cores = 8
memory = "64GiB"
gpus_per_job = 4
jobs = 2
job_extra_directives = ["--constraint=a100", "--exclusive"]
job_script_prologue = ["module load cuda/12"]
local_directory = "$TMPDIR"
"""

PBS = """kind = "pbs"
queue = "workq"
account = "P48500028"
walltime = "06:00:00"
cores = 16
memory = "96GiB"
gpus_per_job = 2
job_extra_directives = ["-l place=excl"]
"""


def run(capsys, *argv) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def config(tmp_path, text: str, name: str = "cluster.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_slurm_dry_run_carries_the_directives(tmp_path, capsys):
    cfg = config(tmp_path, SLURM)
    rc, out, err = run(capsys, "submit", tmp_path / "archive", "--out", tmp_path / "scan.zarr",
                       "--cluster-config", cfg, "--dry-run", "--scan-args", "--preset fast")
    assert rc == 0, err
    for directive in ("#SBATCH -p gpu", "#SBATCH -A proj42", "#SBATCH -t 02:00:00", "#SBATCH -N 2",
                      "#SBATCH --ntasks-per-node=4", "#SBATCH --cpus-per-task=2", "#SBATCH --mem=65536M",
                      "#SBATCH --gres=gpu:4", "#SBATCH --constraint=a100", "#SBATCH --exclusive"):
        assert directive + "\n" in out
    assert out.startswith("#!/usr/bin/env bash\n")
    assert "module load cuda/12\n" in out
    assert "--local-directory $TMPDIR" in out            # left for the compute node to expand
    assert "--preload cluster.gpu" in out                 # one GPU per worker
    assert "srun " in out and "dask_scheduler --scheduler-file" in out
    scan_line = next(line for line in out.splitlines() if " scan " in line)
    assert f"--out {tmp_path / 'scan.zarr'}" in scan_line and "--preset fast" in scan_line
    assert f"--cluster-config {cfg}" in scan_line and '--scheduler-file "$SCHED"' in scan_line
    assert not (tmp_path / "scan.zarr.jobs").exists()     # a dry run writes nothing


def test_pbs_dry_run_carries_the_directives(tmp_path, capsys):
    cfg = config(tmp_path, PBS)
    rc, out, err = run(capsys, "submit", tmp_path / "a", "--out", tmp_path / "s.zarr", "--cluster-config",
                       cfg, "--dry-run")
    assert rc == 0, err
    for directive in ("#PBS -q workq", "#PBS -A P48500028", "#PBS -l walltime=06:00:00",
                      "#PBS -l select=1:ncpus=16:mem=98304mb:ngpus=2", "#PBS -l place=excl"):
        assert directive + "\n" in out
    assert "--nworkers 2" in out and "--nthreads 8" in out
    assert "srun " not in out


def test_config_errors_exit_2_with_one_line(tmp_path, capsys):
    cfg = config(tmp_path, 'kind = "slurm"\nquue = "gpu"\ncores = "8"\n')
    rc, out, err = run(capsys, "submit", "a", "--out", "s", "--cluster-config", cfg, "--dry-run")
    assert rc == 2
    assert err == (f"error: cluster config {cfg}: unknown key 'quue' (did you mean 'queue'?); "
                   "cores must be an integer, not str '8'\n")
    rc, out, err = run(capsys, "cluster", "info", "--cluster-config", tmp_path / "absent.toml")
    assert rc == 2 and err.startswith("error: cluster config ") and err.endswith(": no such file\n")


def test_submit_needs_a_batch_kind(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSDNET_CLUSTER_CONFIG", str(config(tmp_path, 'kind = "local"\n')))
    rc, out, err = run(capsys, "submit", "a", "--out", "s", "--dry-run")
    assert rc == 2 and "submit needs a slurm or pbs cluster config" in err
    pbs_two_nodes = config(tmp_path, 'kind = "pbs"\njobs = 2\n', "pbs2.toml")
    rc, out, err = run(capsys, "submit", "a", "--out", "s", "--dry-run", "--cluster-config", pbs_two_nodes)
    assert rc == 2 and "a pbs batch job holds one node" in err


def test_cluster_info_resolves_flags_over_file_over_env(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSDNET_CLUSTER_CONFIG", str(config(tmp_path, SLURM)))
    rc, out, err = run(capsys, "cluster", "info", "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["spec"]["queue"] == "gpu" and info["workers"] == 8 and info["gpus"] == 8
    rc, out, err = run(capsys, "cluster", "info", "--json", "--cluster", "local")
    info = json.loads(out)
    assert info["spec"]["kind"] == "local" and "queue" not in info["spec"]  # other kinds' keys hidden


def test_cluster_info_job_script_has_lifetime_and_gres(tmp_path, capsys):
    cfg = config(tmp_path, SLURM + 'lifetime = "100m"\nlifetime_stagger = "10m"\nadapt_max = 10\n')
    rc, out, err = run(capsys, "cluster", "info", "--cluster-config", cfg, "--job-script")
    assert rc == 0, err
    assert "# would get: 0-40 worker(s)" in out
    assert "#SBATCH --gres=gpu:4\n" in out and "#SBATCH -p gpu\n" in out
    assert "--nworkers 4" in out and "--lifetime 100m --lifetime-stagger 10m" in out


def test_cluster_info_asks_a_running_scheduler(tmp_path, capsys):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}) as lc:
        rc, out, err = run(capsys, "cluster", "info", "--scheduler", lc.scheduler_address, "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["workers"] == 2 and info["threads"] == 2 and info["gpus"] == 0


@pytest.mark.parametrize("scan_args, why", [
    ("--preset 'fast", "--scan-args: no closing quotation"),
    ("--bogus", "--scan-args: --bogus: no such option"),
    ("--steps x", "--scan-args: --steps: 'x' is not a valid integer"),
    ("--map-dtype float64", "--scan-args: --map-dtype: 'float64' is not one of"),
    ("--out other.zarr", "--scan-args: --out: the job sets it"),
    ("--scheduler-file s.json", "--scan-args: --scheduler-file: the job sets it"),
    ("--help", "--scan-args: --help: prints and exits"),
    ("more/images", "--scan-args: 'more/images': not a scan flag"),
])
def test_bad_scan_args_are_refused_before_anything_is_submitted(tmp_path, capsys, scan_args, why):
    cfg = config(tmp_path, SLURM)
    for dry in (["--dry-run"], []):
        rc, out, err = run(capsys, "submit", tmp_path / "a", "--out", tmp_path / "s.zarr", "--cluster-config",
                           cfg, "--scan-args", scan_args, *dry)
        assert rc == 2 and out == "", err
        assert err.startswith("error: " + why) and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "s.zarr.jobs").exists()


def test_good_scan_args_pass_through(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SSDNET_CLUSTER_CONFIG", str(config(tmp_path, SLURM)))  # an env default is no flag
    rc, out, err = run(capsys, "submit", tmp_path / "a", "--out", tmp_path / "s.zarr", "--dry-run",
                       "--scan-args", "-v --preset=fast --steps 3 --include '*.png' --json")
    assert rc == 0, err
    scan_line = next(line for line in out.splitlines() if " scan " in line)
    assert "-v --preset=fast --steps 3 --include '*.png' --json" in scan_line
    assert scan_line.count("--out ") == 1


def test_wait_exits_with_the_jobs_status_where_it_is_an_exit_code():
    from pipeline.commands.submit import job_exit_code

    for status in (0, 2, 3, 4, 5, 130, 143):
        assert job_exit_code(status) == status
    for status in (1, 137, 7):  # a crash, SIGKILL, a node failure: nothing a script can act on but "look"
        assert job_exit_code(status) == 1
