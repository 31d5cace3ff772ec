"""XLA, mixed precision and recomputed gradients (tf.distribute: test_distributed.py)."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from tfp_flows import models

DIGITS = load_digits().images[:128, :, :, None].astype(np.float32)


@pytest.mark.slow
def test_xla_training_and_sampling():
    keras.utils.set_random_seed(0)
    model = models.Glow.from_preset("tiny")
    model.compile(jit_compile=True)
    history = model.fit(DIGITS, batch_size=64, epochs=2, verbose=0)
    assert model.jit_compile and np.isfinite(history.history["loss"]).all()
    samples = model.sample(4, temperature=0.8, seed=1)  # decoded under XLA (the model is compiled with it)
    assert samples.shape == (4, 8, 8, 1) and np.isfinite(samples.numpy()).all()
    np.testing.assert_allclose(samples.numpy(), model.sample(4, temperature=0.8, seed=1, jit_compile=False).numpy(), atol=1e-4)


@pytest.mark.slow
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


@pytest.mark.slow
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
