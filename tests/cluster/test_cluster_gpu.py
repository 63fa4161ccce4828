"""One device per worker: the worker-name suffix or the srun task's rank picks it."""
from __future__ import annotations

import pytest

import cluster
from cluster.gpu import count_gpus, device_for


def test_each_worker_of_a_job_keeps_its_own_device():
    devices = ["2", "3", "5", "7"]  # what SLURM hands a job with --gres=gpu:4
    names = [f"SLURMCluster-3-{i}" for i in range(4)]  # dask worker --nworkers 4 --name SLURMCluster-3
    assert [device_for(n, 4, devices) for n in names] == devices
    assert device_for("SLURMCluster-12", 1, ["6"]) == "6"  # one worker per job: the job's device
    assert device_for("pbs-17.server-1", 2, None) == "1"   # no CUDA_VISIBLE_DEVICES: by index


def test_count_gpus_follows_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2")
    assert count_gpus() == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert count_gpus() == 0


def test_cuda_kind_explains_what_is_missing():
    import importlib.util

    have_dask_cuda = importlib.util.find_spec("dask_cuda") is not None
    if have_dask_cuda and count_gpus():
        pytest.skip("this machine has GPUs and dask-cuda: the cuda kind really starts (see docs)")
    with pytest.raises(cluster.ClusterError) as err:
        with cluster.connect(cluster.ClusterSpec(kind="cuda")):
            pass
    expected = "no NVIDIA GPU visible" if have_dask_cuda else "needs dask-cuda: pip install 'ssdnet[cuda]'"
    assert expected in str(err.value)
