"""Compose tfp_flows bijectors into a two-level multi-scale flow, train it briefly, sample.

Run: python examples/compose_bijectors.py [--epochs 5]
"""
import argparse

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import bijectors as fb
from tfp_flows.layers import ActNormLayer, Invertible1x1ConvLayer
from tfp_flows.networks import GlowConvNet, ZeroConv2D

tfb, tfd = tfp.bijectors, tfp.distributions
EVENT = (8, 8, 1)


class TwoLevelFlow(keras.Model):
    def __init__(self):
        super().__init__()
        self.act = ActNormLayer(4)
        self.conv = Invertible1x1ConvLayer(4, seed=0)
        self.net = GlowConvNet(4, hidden_channels=32)
        self.prior = ZeroConv2D(4)

    def distribution(self):
        top = tfb.Reshape(event_shape_out=(4, 4, 2), event_shape_in=(32,))
        split = fb.FactorOut(top, (4, 4, 4), prior=self.prior)  # flat z (64,) -> (4, 4, 4)
        data_to_latent = tfb.Chain([
            tfb.Invert(split),
            fb.AffineCoupling(self.net, "channel", (4, 4, 4)),
            self.conv.bijector(),
            self.act.bijector(),
            fb.Squeeze(),
        ])
        return tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(64)), tfb.Invert(data_to_latent))

    def call(self, y):
        return self.distribution().log_prob(y)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return -keras.ops.mean(y_pred)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=64, help="examples per step")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    blobs = np.exp(-((np.arange(8)[:, None] - 3.5) ** 2 + (np.arange(8)[None] - 3.5) ** 2) / 8.0)
    data = (blobs[None, :, :, None] * rng.uniform(0.5, 1.5, (512, 1, 1, 1)) + 0.05 * rng.normal(size=(512, 8, 8, 1))).astype("float32")
    model = TwoLevelFlow()
    model.act.initialize(fb.Squeeze().forward(data[:256]))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(data, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    samples = model.distribution().sample(4, seed=1)
    mean_log_prob = float(tf.reduce_mean(model(data)))
    print("samples", samples.shape, "mean log_prob of data", mean_log_prob)
    return mean_log_prob


if __name__ == "__main__":
    main()
