"""load_spec: flags over file over defaults, and every invalid file rejected with the key named."""
from __future__ import annotations

import pytest

import cluster
from cluster.validate import walltime_seconds


def write(tmp_path, text: str):
    path = tmp_path / "cluster.toml"
    path.write_text(text)
    return str(path)


def test_defaults_file_then_flags(tmp_path):
    path = write(tmp_path, 'kind = "slurm"\nqueue = "gpu"\ncores = 8\nwalltime = "04:00:00"\n'
                           'job-extra-directives = ["--constraint=a100"]\n')
    spec = cluster.load_spec(path, queue="short", cores=None)
    assert spec.kind == "slurm"
    assert spec.queue == "short"              # the flag wins over the file
    assert spec.cores == 8                    # a flag not given (None) leaves the file's value
    assert spec.walltime == "04:00:00"
    assert spec.job_extra_directives == ("--constraint=a100",)  # dashes spell the same key
    assert spec.memory == cluster.ClusterSpec().memory          # neither: the default
    assert cluster.load_spec(None) == cluster.ClusterSpec()


def test_cluster_table_and_file_relative_paths(tmp_path):
    path = write(tmp_path, '[cluster]\nkind = "address"\naddress = "tls://127.0.0.1:8786"\n'
                           'tls_ca_file = "certs/ca.pem"\ntls_cert = "/abs/node.pem"\n')
    spec = cluster.load_spec(path)
    assert spec.tls_ca_file == str(tmp_path / "certs" / "ca.pem")
    assert spec.tls_cert == "/abs/node.pem"
    assert spec.tls


@pytest.mark.parametrize("text, message", [
    ('kind = "slurm"\nquue = "gpu"\n', "unknown key 'quue' (did you mean 'queue'?)"),
    ('cores = "8"\n', "cores must be an integer, not str '8'"),
    ('cores = true\n', "cores must be an integer, not bool True"),
    ('dashboard = 1\n', "dashboard must be true or false"),
    ('job_extra_directives = "--exclusive"\n', "job_extra_directives must be a list of strings"),
    ('kind = "kubernetes"\n', "kind must be one of local, cuda, address"),
    ('kind = "address"\n', "kind 'address' needs address"),
    ('kind = "slurm"\nmemory = "lots"\n', "memory must be a size like 4GiB, not 'lots'"),
    ('kind = "slurm"\nadapt_min = 5\nadapt_max = 2\n', "adapt_min (5) must not exceed adapt_max (2)"),
    ('kind = "slurm"\nwalltime = "01:00:00"\nlifetime = "58m"\nlifetime_stagger = "5m"\n',
     "must be shorter than walltime"),
    ('kind = "slurm"\ngpus_per_job = 4\nprocesses = 2\ncores = 4\n', "one GPU per worker"),
    ('kind = "slurm"\ngpus_per_job = 4\ncores = 2\n', "cores (2) must be at least the worker processes"),
    ('tls_cert = "node.pem"\n', "tls_cert and tls_key need tls_ca_file"),
    ('kind = "slurm\n', "not valid TOML"),
])
def test_invalid_files_name_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(cluster.ConfigError) as err:
        cluster.load_spec(path)
    assert message in str(err.value)
    assert str(err.value).startswith(f"cluster config {path}: ")
    assert "\n" not in str(err.value)


def test_missing_file_and_bad_flag(tmp_path):
    with pytest.raises(cluster.ConfigError, match="no such file"):
        cluster.load_spec(str(tmp_path / "absent.toml"))
    with pytest.raises(cluster.ConfigError, match="workers must be an integer"):
        cluster.load_spec(None, workers="2")


def test_direct_construction_is_validated_too():
    with pytest.raises(cluster.ConfigError, match="threads_per_worker must be >= 1"):
        cluster.ClusterSpec(threads_per_worker=0)


def test_walltime_formats():
    assert walltime_seconds("01:30:00") == 5400
    assert walltime_seconds("2-00:00:00") == 172800
    assert walltime_seconds("90:00") == 90 * 3600 + 0 * 60  # HH:MM (lsf)
    assert walltime_seconds("1h") is None
