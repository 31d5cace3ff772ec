"""Component-specific properties: ActNorm init, 1x1-conv parametrisations, XLA, one pass per log_prob."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from cases import build, sample_input
from tfp_flows import bijectors as fb
from tfp_flows.layers import ActNormLayer

tfb, tfd = tfp.bijectors, tfp.distributions


def test_actnorm_initialisation_normalises_each_channel():
    x = tf.random.stateless_normal([32, 4, 4, 3], seed=[0, 1]) * tf.constant([0.5, 2.0, 5.0]) + tf.constant([1.0, -3.0, 0.2])
    y = fb.ActNorm(*fb.ActNorm.initial_parameters(x)).forward(x)
    np.testing.assert_allclose(tf.reduce_mean(y, [0, 1, 2]).numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(tf.math.reduce_std(y, [0, 1, 2]).numpy(), 1, atol=1e-3)


def test_actnorm_initialisation_floors_constant_channels():
    x = tf.concat([tf.zeros([16, 4, 4, 1]), tf.random.stateless_normal([16, 4, 4, 1], seed=[1, 1])], axis=-1)
    shift, log_scale = fb.ActNorm.initial_parameters(x, min_std=0.1)
    assert np.all(np.isfinite(log_scale.numpy()))
    np.testing.assert_allclose(log_scale.numpy()[0], -np.log(0.1), rtol=1e-6)  # capped, not -log(0)
    # the log-det stays modest: at most H*W*log(10) for the constant channel
    fldj = fb.ActNorm(shift, log_scale).forward_log_det_jacobian(x, 3)
    assert float(tf.reduce_max(fldj)) < 16 * np.log(10) + 16 * 1.0
    with pytest.raises(ValueError, match="min_std > 0"):
        fb.ActNorm.initial_parameters(x, min_std=0.0)


def test_actnorm_layer_initialises_once_inside_tf_function():
    layer = ActNormLayer(2)
    first = tf.random.stateless_normal([8, 4, 4, 2], seed=[2, 2]) * 3.0 + 1.0

    @tf.function
    def init(batch):
        return layer.initialize(batch)

    z = init(first)
    np.testing.assert_allclose(tf.math.reduce_std(z, [0, 1, 2]).numpy(), 1, atol=1e-3)
    before = [v.numpy().copy() for v in (layer.shift, layer.log_scale)]
    init(first * 10.0)  # already initialised: nothing changes
    for b, v in zip(before, (layer.shift, layer.log_scale)):
        np.testing.assert_array_equal(b, v.numpy())
    assert float(layer.initialized.numpy()) == 1.0


def test_lu_parametrisation_reproduces_a_rotation():
    params = fb.Invertible1x1Conv.initial_lu(5, seed=3, dtype=np.float64)
    conv = fb.Invertible1x1Conv(**params)
    rotation = fb.Invertible1x1Conv.initial_matrix(5, seed=3, dtype=np.float64)
    np.testing.assert_allclose(conv.weight().numpy(), rotation, atol=1e-12)
    # log|det W| = sum(log|s|) = 0 for a rotation
    assert abs(float(conv.forward_log_det_jacobian(tf.ones([1, 1, 1, 5], tf.float64), 3)[0])) < 1e-12


@pytest.mark.parametrize("name", ["conv1x1_lu", "conv1x1_plain"])
def test_conv1x1_log_det_is_positions_times_log_abs_det(name):
    conv, shape = build(name, np.float64)
    _, log_abs_det = np.linalg.slogdet(conv.weight().numpy())
    x = sample_input(shape, np.float64)
    np.testing.assert_allclose(conv.forward_log_det_jacobian(x, 3).numpy(), 16 * log_abs_det, rtol=1e-10)


@pytest.mark.parametrize("name", ["glow_step", "factor_out_with_prior", "conv1x1_plain", "affine_checkerboard_soft_clamp", "squeeze"])
def test_compiles_with_xla(name):
    bijector, shape = build(name, np.float32)
    ndims = len(shape)

    @tf.function(jit_compile=True)
    def round_trip(x):
        y = bijector.forward(x)
        return bijector.inverse(y), bijector.forward_log_det_jacobian(x, ndims)

    x = sample_input(shape, np.float32)
    x_back, fldj = round_trip(x)
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), atol=2e-4)
    np.testing.assert_allclose(np.broadcast_to(fldj, [3]), np.broadcast_to(bijector.forward_log_det_jacobian(x, ndims), [3]), rtol=1e-4, atol=1e-4)


def test_log_prob_runs_each_conditioner_once():
    """The log-det is taken from the same pass as the inverse (greedy cache), not recomputed."""
    calls = []

    def counting(x_a):
        calls.append(1)
        return tf.concat([tf.tanh(x_a), tf.tanh(x_a)], -1)

    chain = tfb.Chain([fb.AffineCoupling(counting, "halves", (6,), parity=p) for p in (0, 1, 0)])
    dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(6)), chain)
    dist.log_prob(tf.random.stateless_normal([4, 6], seed=[3, 3]))
    assert len(calls) == 3
    calls.clear()
    tf.function(dist.log_prob)(tf.random.stateless_normal([4, 6], seed=[3, 4]))
    assert len(calls) == 3


def test_bijectors_compare_by_identity():
    """Equal-looking instances built in different graphs must not share TFP cache entries."""
    assert fb.Squeeze() != fb.Squeeze()
    squeeze = fb.Squeeze()
    assert squeeze == squeeze and hash(squeeze) == hash(squeeze)


def test_public_one_pass_methods_match_the_separate_calls():
    bijector, shape = build("glow_step", np.float32)
    x = sample_input(shape, np.float32)
    y, fldj = bijector.bijectors[0].forward_and_log_det(x)  # the coupling of the step
    np.testing.assert_allclose(y.numpy(), bijector.bijectors[0].forward(x).numpy())
    np.testing.assert_allclose(fldj.numpy(), bijector.bijectors[0].forward_log_det_jacobian(x, 3).numpy(), rtol=1e-6)
    conv, _ = build("conv1x1_lu", np.float32)
    x_back, ildj = conv.inverse_and_log_det(conv.forward(x))
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), atol=1e-5)
    np.testing.assert_allclose(np.broadcast_to(ildj, [3]), -np.broadcast_to(conv.forward_log_det_jacobian(x, 3), [3]), rtol=1e-5)


def test_split_prior_bounds_its_log_scale_and_keeps_the_mean():
    from tfp_flows.networks import SplitPrior, ZeroConv2D

    x = tf.random.stateless_normal([4, 2, 2, 3], seed=[3, 4])
    clamped, free = SplitPrior(4, clamp=2.0), ZeroConv2D(4)
    clamped.build(x.shape)
    free.build(x.shape)
    assert np.all(clamped(x).numpy() == 0.0)  # zero-initialised: N(0, 1) before training, as openai/glow
    kernel = tf.random.stateless_normal(clamped.conv.kernel.shape, seed=[5, 6]) * 10.0
    for layer in (clamped, free):
        layer.conv.kernel.assign(kernel)
    raw, out = free(x).numpy(), clamped(x).numpy()
    assert np.abs(raw[..., 2:]).max() > 5.0  # the raw log-scales leave (-2, 2)...
    assert np.abs(out[..., 2:]).max() <= 2.0  # ...the clamped ones do not
    np.testing.assert_allclose(out[..., 2:], 2.0 * np.tanh(raw[..., 2:] / 2.0), rtol=1e-6)
    np.testing.assert_array_equal(out[..., :2], raw[..., :2])  # the mean is not touched
    unbounded = SplitPrior.from_config({**clamped.get_config(), "clamp": None})
    unbounded.build(x.shape)
    unbounded.conv.kernel.assign(kernel)
    np.testing.assert_array_equal(unbounded(x).numpy(), raw)


@pytest.mark.parametrize("kwargs, message", [
    (dict(filters=3), "even filters"), (dict(filters=4, clamp=0.0), "clamp > 0"), (dict(filters=4, clamp="2"), "clamp > 0"),
])
def test_split_prior_rejects_bad_arguments(kwargs, message):
    from tfp_flows.networks import SplitPrior

    with pytest.raises(ValueError, match=message):
        SplitPrior(**kwargs)


def test_zero_conv_starts_at_zero_with_its_initial_scale():
    from tfp_flows.networks import ZeroConv2D

    x = tf.random.stateless_normal([2, 3, 3, 4], seed=[1, 2])
    for scale in (0.3, 1.0):
        layer = ZeroConv2D(6, initial_scale=scale)
        layer.build(x.shape)
        np.testing.assert_allclose(np.exp(3.0 * layer.logs.numpy()), scale, rtol=1e-6)
        assert np.all(layer(x).numpy() == 0.0)  # whatever the scale: the identity coupling / N(0, 1) prior at the start
        layer.conv.kernel.assign(tf.ones_like(layer.conv.kernel))
        np.testing.assert_allclose(layer(x).numpy(), scale * layer.conv(x).numpy(), rtol=1e-5)
        assert ZeroConv2D.from_config(layer.get_config()).initial_scale == scale
    for bad in (0.0, -1.0, float("nan"), "0.3"):
        with pytest.raises(ValueError, match="ZeroConv2D: expected initial_scale"):
            ZeroConv2D(6, initial_scale=bad)
