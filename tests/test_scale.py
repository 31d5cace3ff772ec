"""XLA, mixed precision, recomputed gradients, and tf.distribute (mirrored and multi-worker)."""
from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from tfp_flows import models

HERE = pathlib.Path(__file__).resolve().parent
DIGITS = load_digits().images[:128, :, :, None].astype(np.float32)


def test_xla_training_and_sampling():
    keras.utils.set_random_seed(0)
    model = models.Glow.from_preset("tiny")
    model.compile(jit_compile=True)
    history = model.fit(DIGITS, batch_size=64, epochs=2, verbose=0)
    assert model.jit_compile and np.isfinite(history.history["loss"]).all()
    samples = model.sample(4, temperature=0.8, seed=1)  # decoded under XLA (the model is compiled with it)
    assert samples.shape == (4, 8, 8, 1) and np.isfinite(samples.numpy()).all()
    np.testing.assert_allclose(samples.numpy(), model.sample(4, temperature=0.8, seed=1, jit_compile=False).numpy(), atol=1e-4)


@pytest.mark.parametrize("cls", [models.Glow, models.RealNVP])
def test_mixed_bfloat16_trains_with_float32_log_dets(cls):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = cls.from_preset("tiny")
        conv = next(layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Conv2D))
        assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
        model.compile(optimizer=keras.optimizers.Adam(3e-3))
        history = model.fit(DIGITS, batch_size=32, epochs=3, verbose=0)
        losses = history.history["loss"]
        assert np.isfinite(losses).all() and losses[-1] < losses[0], losses
        y = model.dequantize(DIGITS[:4], noise=False)
        assert model.log_prob(y).dtype == tf.float32
        fldj = model.bijector.forward_log_det_jacobian(model.encode(y), event_ndims=1)
        assert fldj.dtype == tf.float32
        assert float(tf.reduce_max(tf.abs(model.decode(model.encode(y)) - y))) < 1e-4
        assert model(y).dtype == tf.float32  # data is not autocast to bfloat16
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_recompute_gives_the_same_gradients():
    grads = []
    for recompute in (False, True):
        keras.utils.set_random_seed(0)
        model = models.Glow.from_preset("tiny", recompute=recompute)
        model.initialize(DIGITS[:64])
        y = model.dequantize(DIGITS[:16], noise=False)
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(y))
        grads.append([g.numpy() for g in tape.gradient(loss, model.trainable_variables)])
    assert len(grads[0]) == len(grads[1])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert models.Glow.from_config(model.get_config()).recompute


def _run_worker(mode, out, env=None, timeout=300):
    return subprocess.Popen(
        [sys.executable, str(HERE / "_distributed_worker.py"), mode, str(out)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


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
