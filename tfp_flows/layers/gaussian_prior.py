"""Keras weights of a learned diagonal Gaussian prior, expressed as a bijector from N(0, I)."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors.scaling import Scaling

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="tfp_flows")
class GaussianPriorLayer(keras.layers.Layer):
    """Learned per-entry `mean` and `log_std` (openai/glow's `learntop`), zero-initialised.

    `bijector()` maps standard-normal `e` to `mean + exp(log_std) * e`, so a standard
    normal base followed by it is `N(mean, exp(log_std)^2)`; log-det `sum(log_std)`.
    """

    def __init__(self, event_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.mean = self.add_weight(shape=self.event_shape, initializer="zeros", name="mean")
        self.log_std = self.add_weight(shape=self.event_shape, initializer="zeros", name="log_std")
        self.built = True

    def bijector(self) -> tfb.Bijector:
        dtype = self.variable_dtype
        return tfb.Chain([tfb.Shift(tf.cast(self.mean, dtype)), Scaling(tf.cast(self.log_std, dtype))], name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape))
        return config
