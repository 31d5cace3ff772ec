"""Trainable state lives in Keras 3 layers: model.fit trains every parameter of a chained flow."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from tfp_flows import bijectors as fb
from tfp_flows.layers import ActNormLayer, Invertible1x1ConvLayer, ScalingLayer
from tfp_flows.networks import MLP, GlowConvNet, ZeroConv2D

tfb, tfd = tfp.bijectors, tfp.distributions


class _TinyFlow(keras.Model):
    """`call(y)` is the log-density of y; the loss is its negative mean."""

    def call(self, y):
        return self.distribution().log_prob(y)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return -ops.mean(y_pred)


class TinyMultiScaleImageFlow(_TinyFlow):
    """4x4x2 images: ActNorm, LU 1x1 conv, affine coupling, squeeze, split with a learned prior, one more step."""

    def __init__(self):
        super().__init__()
        self.act1 = ActNormLayer(2)
        self.conv1 = Invertible1x1ConvLayer(2, seed=1)
        self.net1 = GlowConvNet(4, hidden_channels=8)  # checkerboard: (shift, log-scale) for all 2 channels
        self.prior = ZeroConv2D(8)
        self.act2 = ActNormLayer(4)
        self.conv2 = Invertible1x1ConvLayer(4, lu=False, seed=2)
        self.net2 = GlowConvNet(4, hidden_channels=8)

    def distribution(self):
        level2 = tfb.Chain([
            tfb.Reshape(event_shape_out=(16,), event_shape_in=(2, 2, 4)),
            fb.AffineCoupling(self.net2, "channel", (2, 2, 4)),
            self.conv2.bijector(),
            self.act2.bijector(),
        ])
        split = fb.FactorOut(tfb.Invert(level2), (2, 2, 8), prior=self.prior)
        data_to_latent = tfb.Chain([
            tfb.Invert(split),
            fb.Squeeze(),
            fb.AffineCoupling(self.net1, "checkerboard", (4, 4, 2)),
            self.conv1.bijector(),
            self.act1.bijector(),
        ])
        base = tfd.MultivariateNormalDiag(tf.zeros(32))
        return tfd.TransformedDistribution(base, tfb.Invert(data_to_latent))

    def initialize(self, batch):
        self.act1.initialize(batch)


class TinyVectorFlow(_TinyFlow):
    """6-d vectors: ActNorm, additive and affine couplings with MLPs, NICE's scaling."""

    def __init__(self):
        super().__init__()
        self.act = ActNormLayer(6, event_ndims=1)
        self.add_net = MLP(3, hidden_units=16, hidden_layers=2)
        self.affine_net = MLP(6, hidden_units=16, hidden_layers=2)
        self.scaling = ScalingLayer((6,))

    def distribution(self):
        data_to_latent = tfb.Chain([
            self.scaling.bijector(),
            fb.AffineCoupling(self.affine_net, "odd_even", (6,), scale_fn="soft_clamp"),
            fb.AdditiveCoupling(self.add_net, "halves", (6,), parity=1),
            self.act.bijector(),
        ])
        return tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(6)), tfb.Invert(data_to_latent))

    def initialize(self, batch):
        self.act.initialize(batch)


def _data(shape, n=256, seed=0):
    """Correlated, shifted, non-Gaussian data: something a flow can learn."""
    rng = np.random.default_rng(seed)
    flat = int(np.prod(shape))
    mixing = rng.normal(0, 1, (flat, flat)) / np.sqrt(flat)
    z = rng.normal(0, 1, (n, flat))
    x = np.tanh(z @ mixing) * 2 + 0.5 + 0.3 * z**2
    return x.reshape((n,) + tuple(shape)).astype(np.float32)


@pytest.mark.parametrize("model_cls, shape", [(TinyMultiScaleImageFlow, (4, 4, 2)), (TinyVectorFlow, (6,))])
def test_fit_trains_every_parameter(model_cls, shape):
    keras.utils.set_random_seed(0)
    x = _data(shape)
    model = model_cls()
    model.initialize(tf.constant(x[:128]))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    nll_before = -float(tf.reduce_mean(model(x)))
    history = model.fit(x, batch_size=64, epochs=8, verbose=0, shuffle=True)
    nll_after = -float(tf.reduce_mean(model(x)))
    assert np.isfinite(history.history["loss"]).all()
    assert nll_after < nll_before - 0.5, (nll_before, nll_after)

    weights = model.trainable_weights
    names = {w.path.split("/")[-1] for w in weights}
    expected = {"shift", "log_scale", "kernel", "bias"} | ({"lower", "upper", "matrix", "logs"} if len(shape) == 3 else set())
    assert expected <= names, names
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model(x[:64]))
    grads = tape.gradient(loss, weights)
    zero = [w.path for w, g in zip(weights, grads) if g is None or float(tf.reduce_max(tf.abs(g))) == 0.0]
    assert not zero, f"parameters without gradient: {zero}"
