"""Fixtures shared across test packages: one real Dask cluster per test session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A LocalCluster of 2 worker processes with 1 thread each, on 127.0.0.1, for the session.

    Starting a cluster costs seconds on 2 cores: every test that needs one shares this one.
    """
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster) as client:
        yield client


@pytest.fixture
def bench_call(monkeypatch, capsys):
    """``bench_call("bench/x.py", *argv)``: the script run as a call in this process, as a
    ``CompletedProcess`` (exit status, stdout, stderr).

    A new process spends about 6 s of a 2-core machine importing torch, scikit-learn and dask before
    a script says a word. A test runs each script once as a real process (its start-up is part of what
    it tests) and its reruns and refusals as calls. The torch thread count a script sets is restored.
    """
    import importlib
    import subprocess
    import sys
    from pathlib import Path

    import torch

    root = Path(__file__).resolve().parents[1]

    def call(script: str, *argv: str) -> subprocess.CompletedProcess:
        module = importlib.import_module("bench." + Path(script).stem)
        monkeypatch.chdir(root)
        monkeypatch.setattr(sys, "argv", [script, *argv])
        threads = torch.get_num_threads()
        capsys.readouterr()
        try:
            code = module.main()
        except SystemExit as stop:
            code = stop.code
        finally:
            torch.set_num_threads(threads)
        out, err = capsys.readouterr()
        if isinstance(code, str):  # sys.exit("message"): Python prints it and exits 1
            err, code = err + code + "\n", 1
        return subprocess.CompletedProcess([script, *argv], code or 0, out, err)

    return call
