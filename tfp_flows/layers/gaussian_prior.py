"""Keras weights of a learned diagonal Gaussian prior, expressed as a bijector from N(0, I)."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors._base import as_parameter
from tfp_flows.bijectors.scaling import Scaling

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="tfp_flows")
class GaussianPriorLayer(keras.layers.Layer):
    """Learned per-entry `mean` and `log_std` (openai/glow's `learntop`), zero-initialised.

    `bijector()` maps standard-normal `e` to `mean + exp(log_std) * e`, so a standard
    normal base followed by it is `N(mean, exp(log_std)^2)`; log-det `sum(log_std)`.

    Args:
      event_shape: the shape of `mean` and `log_std`.

    Raises:
      ValueError: from the bijector, on an input of another event shape.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import GaussianPriorLayer
    >>> prior = GaussianPriorLayer(event_shape=(2, 2, 1))
    >>> prior.bijector().forward(tf.ones([1, 2, 2, 1])).shape  # zero-initialised: the identity
    TensorShape([1, 2, 2, 1])
    """

    def __init__(self, event_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.event_shape = _checks.shape("GaussianPriorLayer", "event_shape", event_shape)
        self.mean = self.add_weight(shape=self.event_shape, initializer="zeros", autocast=False, name="mean")
        self.log_std = self.add_weight(shape=self.event_shape, initializer="zeros", autocast=False, name="log_std")
        self.built = True

    def bijector(self) -> tfb.Bijector:
        # The variables themselves (tfb.Shift reads a tf.Variable when used): a held bijector stays live.
        return tfb.Chain([tfb.Shift(as_parameter(self.mean, "mean")), Scaling(self.log_std)], name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape))
        return config
