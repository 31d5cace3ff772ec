"""Variational dequantization: log q(u | x) vs autodiff, the bound the models report, training, save/load, export."""
from __future__ import annotations

import math
import os
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.framework import op_def_registry

from conftest import autodiff_log_det
from tfp_flows import export, models
from tfp_flows.layers import VariationalDequantizer

tfd = tfp.distributions
NUM_BINS = 17


def _perturb(layer_or_model, scale=0.2):
    """Moves zero-initialised heads (of q, of couplings) off their start: log q is not the trivial logit-normal."""
    for i, weight in enumerate(layer_or_model.trainable_variables):
        if "dequantizer" in weight.path or "coupling" in weight.path or isinstance(layer_or_model, VariationalDequantizer):
            if not np.any(weight.numpy()):
                weight.assign(tf.random.stateless_normal(weight.shape, [i, 2], stddev=scale, dtype=weight.dtype))


@pytest.fixture(scope="module")
def levels():
    return np.random.default_rng(0).integers(0, NUM_BINS, (3, 4, 4, 1)).astype(np.float32)


@pytest.fixture(scope="module")
def dequantizer(levels):
    q = VariationalDequantizer((4, 4, 1), NUM_BINS, hidden_channels=4, couplings=2)
    q.sample_and_log_prob(levels, noise=False)
    _perturb(q)
    return q


@pytest.fixture(scope="module")
def glow(levels):
    # Spline couplings too, so the export test below covers both new features in one SavedModel.
    model = models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, num_bins=NUM_BINS, coupling="spline",
                        spline_bins=4, dequantization="variational", dequantizer_channels=4, seed=0)
    model.initialize(levels)
    _perturb(model)
    return model


def test_log_q_is_base_density_minus_autodiff_log_det(dequantizer, levels):
    x = tf.constant(levels)
    eps = tf.random.stateless_normal([3, 4, 4, 1], [0, 5])
    to_u = lambda e: dequantizer.bijector(x).forward(e)
    u = to_u(eps)
    assert np.all((u.numpy() > 0) & (u.numpy() < 1))
    expected = tfd.Normal(0.0, 1.0).log_prob(eps).numpy().reshape(3, -1).sum(-1) - autodiff_log_det(to_u, eps)
    np.testing.assert_allclose(dequantizer.log_prob(u, x).numpy(), expected, rtol=1e-4, atol=1e-3)
    # the one-pass sample_and_log_prob agrees with the inverse-path density
    u_mode, log_q_mode = dequantizer.sample_and_log_prob(x, noise=False)
    np.testing.assert_allclose(dequantizer.log_prob(u_mode, x).numpy(), log_q_mode.numpy(), rtol=1e-4, atol=1e-3)
    # q depends on x: different images give different noise at the same eps
    assert np.abs(u_mode.numpy() - dequantizer.sample_and_log_prob(x + 1.0, noise=False)[0].numpy()).max() > 1e-3


def test_bits_per_dim_is_the_variational_bound_and_uniform_stays_available(glow, levels):
    x = tf.constant(levels)
    u, log_q = glow.dequantizer.sample_and_log_prob(x, noise=False)
    log_p = glow.log_prob((x + u) / NUM_BINS)
    dims = 16
    bound = -(log_p - log_q - dims * math.log(NUM_BINS)) / (dims * math.log(2.0))
    np.testing.assert_allclose(glow.bits_per_dim(levels).numpy(), bound.numpy(), rtol=1e-5)
    uniform = glow.bits_per_dim(levels, dequantization="uniform")
    centres = -(glow.log_prob((levels + 0.5) / NUM_BINS) - dims * math.log(NUM_BINS)) / (dims * math.log(2.0))
    np.testing.assert_allclose(uniform.numpy(), centres.numpy(), rtol=1e-5)
    noisy = glow.bits_per_dim(levels, noise=True)
    assert noisy.shape == (3,) and np.isfinite(noisy.numpy()).all()
    batched = glow.bits_per_dim(np.stack([levels, levels]))  # several batch dimensions
    np.testing.assert_allclose(batched.numpy(), np.stack([bound.numpy()] * 2), rtol=1e-5)


def test_training_lowers_the_bound_and_reaches_q(levels):
    keras.utils.set_random_seed(0)  # the fit's noise must not depend on what ran before in the worker
    model = models.NICE(event_shape=(4, 4, 1), num_couplings=2, hidden_units=8, hidden_layers=1, num_bins=NUM_BINS,
                        dequantization="variational", dequantizer_channels=4, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-2), run_eagerly=True)  # graph mode: the export test and CLI
    data = np.repeat(levels, 8, axis=0)
    before = [w.numpy().copy() for w in model.dequantizer.trainable_variables]
    history = model.fit(data, batch_size=24, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]
    assert any(np.abs(w.numpy() - b).max() > 0 for w, b in zip(model.dequantizer.trainable_variables, before))


def test_save_load_and_export(glow, levels, tmp_path):
    path = os.path.join(tmp_path, "glow.keras")
    glow.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.get_config()["dequantization"] == "variational"
    np.testing.assert_allclose(reloaded.bits_per_dim(levels).numpy(), glow.bits_per_dim(levels).numpy(), rtol=1e-5)

    # Spline couplings and q in one SavedModel: core TensorFlow ops only (tests/test_jet.py reloads a
    # variationally dequantized Jet in a TensorFlow-only process), and the same numbers.
    saved = export.save(glow, str(tmp_path / "serving"))
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pathlib.Path(saved, "saved_model.pb").read_bytes())
    graphs = [mg.graph_def for mg in proto.meta_graphs]
    functions = {f.signature.name for g in graphs for f in g.library.function}
    ops = {n.op for g in graphs for n in g.node} | {n.op for g in graphs for f in g.library.function for n in f.node_def}
    assert not sorted(op for op in ops - functions if op_def_registry.get(op) is None)
    loaded = tf.saved_model.load(saved)
    bpd = loaded.signatures["bits_per_dim"](x=tf.constant(levels))["bits_per_dim"]
    np.testing.assert_allclose(bpd.numpy(), glow.bits_per_dim(levels).numpy(), rtol=1e-5)  # the bound
    y = glow.dequantize(levels, noise=False)
    np.testing.assert_allclose(loaded.signatures["log_prob"](x=y)["log_prob"].numpy(), glow.log_prob(y).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_input(glow):
    with pytest.raises(ValueError, match="unknown dequantization 'gaussian'"):
        models.Glow.from_preset("tiny", dequantization="gaussian")
    with pytest.raises(ValueError, match=r"needs discrete images .* num_bins=None"):
        models.RealNVP(event_shape=(4, 4, 1), num_scales=1, res_blocks=0, filters=4, num_bins=None, dequantization="variational")
    with pytest.raises(ValueError, match=r"needs discrete images .*event shape \(2,\)"):
        models.RealNVP(event_shape=(2,), num_couplings=2, num_bins=None, dequantization="variational")
    uniform = models.NICE(event_shape=(4, 4, 1), num_couplings=2, hidden_units=4, hidden_layers=1, num_bins=NUM_BINS)
    with pytest.raises(ValueError, match="built with dequantization='uniform'; it has no q"):
        uniform.bits_per_dim(np.zeros((1, 4, 4, 1), np.float32), dequantization="variational")
    with pytest.raises(ValueError, match=r"must lie in \[0, 16\]"):
        glow.bits_per_dim(np.full((1, 4, 4, 1), 17.0, np.float32))
    with pytest.raises(ValueError, match="unknown dequantization 'none'"):
        glow.bits_per_dim(np.zeros((1, 4, 4, 1), np.float32), dequantization="none")
