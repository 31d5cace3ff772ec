"""tf.distribute: a mirrored step equals the single-device step; multi-worker training ends identical.

Each test runs its training in fresh processes (`_distributed_worker.py`): logical devices and
TF_CONFIG must be set before TensorFlow initialises.
"""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

import pytest

HERE = pathlib.Path(__file__).resolve().parent


def _worker_env(env=None) -> dict:
    """The environment of a worker process: it imports this checkout's tfp_flows, installed or not
    (a script's own folder, tests/, is all Python puts on its path)."""
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), env.get("PYTHONPATH")]))
    return env


def _run_worker(mode, out, env=None, timeout=300):
    return subprocess.Popen(
        [sys.executable, str(HERE / "_distributed_worker.py"), mode, str(out)],
        env=_worker_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.mark.slow
def test_mirrored_strategy_matches_single_device(tmp_path):
    """Two logical CPU devices: one step with the same global batch equals the single-device step."""
    process = _run_worker("mirrored", tmp_path / "out.npz")
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 0, output[-3000:]
    result = np.load(tmp_path / "out.npz")
    assert np.abs(result["single"] - result["initial"]).max() > 1e-3  # the step did move the weights
    np.testing.assert_allclose(result["replicated"], result["single"], atol=1e-5)
    assert np.isfinite(result["losses"]).all() and result["losses"][-1] < result["losses"][0]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_ends_with_identical_weights(tmp_path):
    cluster = {"worker": [f"127.0.0.1:{_free_port()}", f"127.0.0.1:{_free_port()}"]}
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        processes.append(_run_worker("multiworker", tmp_path / f"worker{index}.npz", env=env))
    try:
        outputs = [p.communicate(timeout=300)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for p, output in zip(processes, outputs):
        assert p.returncode == 0, output[-3000:]
    first, second = np.load(tmp_path / "worker0.npz"), np.load(tmp_path / "worker1.npz")
    np.testing.assert_array_equal(first["weights"], second["weights"])
    np.testing.assert_allclose(first["losses"], second["losses"])
    assert np.isfinite(first["losses"]).all()
    # WaveGlow under the same strategy: different seeds on the workers, identical weights at the end.
    np.testing.assert_array_equal(first["waveglow_weights"], second["waveglow_weights"])
    np.testing.assert_allclose(first["waveglow_losses"], second["waveglow_losses"])
    assert np.isfinite(first["waveglow_losses"]).all()
