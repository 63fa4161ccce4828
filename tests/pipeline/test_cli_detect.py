import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ssdnet.synthetic import make_example

FAST = ["--preset", "fast", "--steps", "5", "--threads", "1"]


def ssdnet_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture()
def images(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = []
    for i, folder in enumerate(["a", "b"]):
        img, _ = make_example(i, 40, 56)
        p = tmp_path / folder / "part.png"  # same stem on purpose
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


def test_detect_writes_maps_and_overlays_with_unique_stems(tmp_path, images):
    out = tmp_path / "out"
    res = ssdnet_cli("detect", *images, "--out", out, "--json", *FAST)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["map"] for r in rows] == [str(out / "part.npy"), str(out / "part-2.npy")]
    for r in rows:
        assert set(r) >= {"path", "map", "score_max", "score_p99", "score_mean", "texture_share", "seconds",
                          "feature_extractor"}
        m = np.load(r["map"])
        assert m.shape == (40, 56) and m.dtype == np.float32
        assert r["score_max"] == pytest.approx(float(m.max()))
        assert r["feature_extractor"] == "patchncc"
    overlay = Image.open(out / "part-2_overlay.png")
    assert overlay.size == (56, 40) and overlay.mode == "RGB"


def test_bad_inputs_fail_alone_with_one_line_each(tmp_path, images):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("not an image")
    good = images[0]
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(good.read_bytes()[:200])
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((200, 200), np.uint8)).save(big)
    bad = [tmp_path / "missing.png", tmp_path / "empty.png", tmp_path / "text.png", trunc, big]
    res = ssdnet_cli("detect", *bad, good, "--out", tmp_path / "o", "--json", "--max-pixels", "10000", *FAST)
    assert res.returncode == 3
    errors = res.stderr.strip().splitlines()
    assert len(errors) == len(bad), res.stderr
    for path, line in zip(bad, errors):
        assert line.startswith(f"error: {path}: ")
    assert "Traceback" not in res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [("error" in r) for r in rows] == [True] * 5 + [False]
    assert "no such file" in rows[0]["error"] and "empty" in rows[1]["error"]
    assert "max-pixels" in rows[4]["error"]
    assert (tmp_path / "o" / "part.npy").exists()


@pytest.mark.parametrize("args,needle", [
    (["--preset", "slow"], "preset"),
    (["--steps", "0"], "steps must be positive"),
    (["--device", "tpu"], "device"),
    (["--bogus"], "no such option"),
])
def test_usage_errors_exit_2(tmp_path, images, args, needle):
    res = ssdnet_cli("detect", images[0], "--out", tmp_path / "o", *args)
    assert res.returncode == 2
    assert res.stderr.startswith("error: ") and needle in res.stderr.lower()
    assert "Traceback" not in res.stderr


def test_missing_vgg19_weights_is_a_usage_error(tmp_path, images):
    res = ssdnet_cli("detect", images[0], "--out", tmp_path / "o", "--features", "vgg19",
                     "--vgg19-weights", tmp_path / "none.pth", *FAST)
    assert res.returncode == 2 and "VGG19 weights" in res.stderr and "Traceback" not in res.stderr


def test_help_exits_0():
    res = ssdnet_cli("detect", "--help")
    assert res.returncode == 0 and "--help-all" in res.stdout and "--max-pixels" not in res.stdout
    res = ssdnet_cli("detect", "--help-all")
    assert res.returncode == 0 and "--max-pixels" in res.stdout


def test_sigterm_exits_143_with_one_line_and_keeps_finished_maps(tmp_path, images):
    import signal

    # The second fit is long enough to be stopped inside: SIGTERM once the first map is written.
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "detect", *map(str, images), "--out",
                             str(tmp_path / "out"), "--preset", "fast", "--steps", "300", "--size", "32",
                             "--threads", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "-> " in first and not out.strip()
    assert err.strip() == "error: terminated (SIGTERM)"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.npy")) == ["part.npy"]


def test_a_second_sigterm_kills_at_once():
    import signal

    # Writing what is finished must not make a process unkillable: the second SIGTERM is the default's.
    code = ("import time\nfrom pipeline import exitcodes\nexitcodes.stop_on_sigterm()\n"
            "try:\n    print('ready', flush=True); time.sleep(60)\n"
            "except exitcodes.Terminated:\n    print('cleaning up', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline().strip() == "cleaning up"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
