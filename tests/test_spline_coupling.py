"""SplineCoupling: equals TFP's RationalQuadraticSpline, round trips (tails included), autodiff log-dets, models."""
from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import autodiff_log_det, random_conditioner
from tfp_flows import models
from tfp_flows.bijectors import SplineCoupling

tfb = tfp.bijectors
BINS, BOUND = 5, 2.0
PER_ENTRY = 3 * BINS - 1


def _spline(event_shape, mask, parity=0, scale=1.0, dtype=np.float32):
    spatial = len(event_shape) == 3
    coupling = SplineCoupling(lambda x: x, mask, event_shape, parity=parity, spline_bins=BINS, spline_bound=BOUND)
    a_channels, out = coupling.mask.a_event_shape[-1], coupling.param_event_shape[-1]
    net = random_conditioner(a_channels, out, seed=7, spatial=spatial)
    return SplineCoupling(lambda x: scale * net(x), mask, event_shape, parity=parity, spline_bins=BINS, spline_bound=BOUND)


def _points(shape, seed, dtype=np.float32):
    """Inside the spline's range and, for about a third of the entries, in the linear tails."""
    return tf.constant(np.random.default_rng(seed).uniform(-3.2 * BOUND / 2, 3.2 * BOUND / 2, shape).astype(dtype))


CASES = {
    "vector-halves": ((5,), "halves", 0),
    "image-channel": ((2, 2, 3), "channel", 1),
    "image-checkerboard": ((2, 3, 2), "checkerboard", 0),
}


def test_transform_is_tfp_rational_quadratic_spline_on_the_same_parameters():
    params = np.random.default_rng(0).normal(0, 1.5, (4, 3 * PER_ENTRY)).astype(np.float32)
    coupling = SplineCoupling(lambda x_a: tf.constant(params), "halves", (6,), spline_bins=BINS, spline_bound=BOUND)
    x = _points((4, 6), seed=1)
    assert np.mean(np.abs(x.numpy()[:, 3:]) > BOUND) > 0.1  # some transformed entries are in the tails
    y, log_det = coupling.forward(x), coupling.forward_log_det_jacobian(x, event_ndims=1)

    # The documented normalisation, by hand in numpy, fed to TFP's own bijector.
    raw = params.reshape(4, 3, PER_ENTRY).astype(np.float64)
    softmax = lambda v: np.exp(v - v.max(-1, keepdims=True)) / np.exp(v - v.max(-1, keepdims=True)).sum(-1, keepdims=True)
    sizes = lambda v: 2 * BOUND * (1e-3 + (1 - BINS * 1e-3) * softmax(v))
    slopes = 1e-3 + np.log1p(np.exp(raw[..., 2 * BINS:] + np.log(np.expm1(1 - 1e-3))))
    rqs = tfb.RationalQuadraticSpline(sizes(raw[..., :BINS]), sizes(raw[..., BINS:2 * BINS]), slopes, range_min=-BOUND)
    x_b = x.numpy()[:, 3:].astype(np.float64)
    np.testing.assert_allclose(y.numpy()[:, :3], x.numpy()[:, :3])
    np.testing.assert_allclose(y.numpy()[:, 3:], rqs.forward(x_b).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(log_det.numpy(), rqs.forward_log_det_jacobian(x_b, 0).numpy().sum(-1), rtol=1e-4, atol=1e-4)
    tails = np.abs(x_b) >= BOUND
    np.testing.assert_array_equal(y.numpy()[:, 3:][tails], x_b[tails].astype(np.float32))  # linear tails: identity


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_and_autodiff_log_dets(case):
    event_shape, mask, parity = CASES[case]
    x = _points((3,) + event_shape, seed=2)
    y = _spline(event_shape, mask, parity).forward(x)
    x_back = _spline(event_shape, mask, parity).inverse(tf.identity(y))  # fresh bijector: no cache answers
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), rtol=1e-4, atol=1e-4)
    ndims = len(event_shape)
    fldj = _spline(event_shape, mask, parity).forward_log_det_jacobian(x, ndims)
    np.testing.assert_allclose(fldj.numpy(), autodiff_log_det(_spline(event_shape, mask, parity).forward, x), rtol=1e-4, atol=1e-4)
    ildj = _spline(event_shape, mask, parity).inverse_log_det_jacobian(tf.identity(y), ndims)
    np.testing.assert_allclose(ildj.numpy(), -fldj.numpy(), rtol=1e-4, atol=1e-4)
    assert np.abs(fldj.numpy()).max() > 1e-2  # not the identity


def test_zero_conditioner_is_the_identity_and_bf16_conditioners_give_float32_log_dets():
    zero = lambda x_a: tf.zeros(tf.concat([tf.shape(x_a)[:-1], [3 * PER_ENTRY]], 0), tf.bfloat16)
    coupling = SplineCoupling(zero, "halves", (6,), spline_bins=BINS, spline_bound=BOUND)
    x = _points((2, 6), seed=3)
    y, log_det = coupling.forward(x), coupling.forward_log_det_jacobian(x, 1)
    assert y.dtype == tf.float32 and log_det.dtype == tf.float32
    np.testing.assert_allclose(y.numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(log_det.numpy(), 0.0, atol=1e-5)


def test_bad_input():
    net = lambda x_a: x_a
    with pytest.raises(ValueError, match="spline_bins >= 2, got 1"):
        SplineCoupling(net, "halves", (4,), spline_bins=1)
    with pytest.raises(ValueError, match="spline_bound > 0, got -1"):
        SplineCoupling(net, "halves", (4,), spline_bound=-1)
    with pytest.raises(ValueError, match=r"conditioner output with event shape \(28,\)"):
        SplineCoupling(net, "halves", (4,), spline_bins=5).forward(tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="unknown coupling 'additive'"):
        models.RealNVP.from_preset("tiny", coupling="additive")
    with pytest.raises(ValueError, match="unknown coupling 'affine'"):
        models.NICE.from_preset("tiny", coupling="affine")
    with pytest.raises(ValueError, match="Glow: expected an integer spline_bins >= 2, got 'many'"):
        models.Glow.from_preset("tiny", coupling="spline", spline_bins="many")


@pytest.fixture(scope="module")
def digits():
    # Random levels rather than real digits: the digits' always-zero border pixels make
    # data-initialised norms blow up small perturbations of the heads.
    return np.random.default_rng(0).integers(0, 17, (32, 4, 4, 1)).astype(np.float32)


SMALL = {  # the smallest architectures that still have spline couplings of every mask kind
    "Glow": dict(levels=1, steps=1, hidden_channels=4),
    "RealNVP": dict(num_scales=1, res_blocks=0, filters=4),
    "NICE": dict(num_couplings=2, hidden_units=8, hidden_layers=1),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_models_take_spline_couplings_and_save_them(name, digits, tmp_path):
    model = getattr(models, name)(event_shape=(4, 4, 1), num_bins=17, coupling="spline", spline_bins=4, spline_bound=2.5,
                                  seed=0, **SMALL[name])
    model.initialize(digits)
    _perturb_zero_weights(model)
    config = model.get_config()
    assert (config["coupling"], config["spline_bins"], config["spline_bound"]) == ("spline", 4, 2.5)
    assert any(isinstance(b, SplineCoupling) for b in _leaves(model._flow()))
    y = model.dequantize(digits[:4], noise=False)
    np.testing.assert_allclose(model.decode(model.encode(y)).numpy(), y.numpy(), atol=1e-4)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded.log_prob(y).numpy(), model.log_prob(y).numpy(), rtol=1e-5, atol=1e-4)


def test_training_direction_compiles_with_xla_for_an_unknown_batch():
    """The log-likelihood gradient (inverse pass + its log-det) of a spline coupling under XLA equals eager mode."""
    weights = tf.Variable(np.random.default_rng(3).normal(0, 0.3, (2, 3 * PER_ENTRY)).astype(np.float32))
    build = lambda: SplineCoupling(lambda x_a: tf.matmul(x_a, weights), "halves", (5,), spline_bins=BINS, spline_bound=BOUND)

    def loss_and_grad(y):
        with tf.GradientTape() as tape:
            coupling = build()
            z = coupling.inverse(y)
            loss = tf.reduce_sum(z**2) / 2 - tf.reduce_sum(coupling.inverse_log_det_jacobian(y, 1))
        return loss, tape.gradient(loss, weights)

    y = _points((8, 5), seed=5)
    xla = tf.function(loss_and_grad, jit_compile=True, input_signature=[tf.TensorSpec([None, 5], tf.float32)])
    for got, want in zip(xla(y), loss_and_grad(y)):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4)


def _perturb_zero_weights(model, scale=0.05):
    """Moves zero-initialised coupling heads off the identity start, so round trips test a non-trivial map."""
    for i, weight in enumerate(model.trainable_variables):
        if "coupling" in weight.path and not np.any(weight.numpy()):
            weight.assign(tf.random.stateless_normal(weight.shape, [i, 0], stddev=scale, dtype=weight.dtype))


def _leaves(bijector):
    inner = getattr(bijector, "bijectors", None) or ([bijector.bijector] if hasattr(bijector, "bijector") else [])
    return [bijector] + [leaf for b in inner for leaf in _leaves(b)]
