"""Keras weights of a conditional diagonal Gaussian prior: mean and log-scale from a label or a context."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors.conditional_affine import ConditionalAffine

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="tfp_flows")
class ConditionalPriorLayer(keras.layers.Layer):
    """`(mean, log_std) = W c + b`, zero-initialised: openai/glow's `ycond` prior (`linear_zeros(y_onehot)`).

    `c` is `[N, condition_dim]`: a one-hot label (class-conditional models) or a context
    vector. `bijector()` is a `ConditionalAffine` mapping standard `e` to
    `mean(c) + exp(log_std(c)) * e` over `event_shape`, so a standard base followed by it
    is `N(mean(c), exp(log_std(c))^2)`. Zero weights start it as the standard prior.

    Args:
      event_shape: the latent's event shape the prior covers.
      condition_dim: `K` (one-hot labels) or `C` (context width).

    Raises:
      ValueError: `condition_dim < 1`; a condition of the wrong width when called.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import ConditionalPriorLayer
    >>> prior = ConditionalPriorLayer(event_shape=(4,), condition_dim=3)
    >>> params = prior(tf.one_hot([0, 2], 3))  # [N, 2 * D]: means, then log-stds
    >>> params.shape, float(tf.reduce_sum(tf.abs(params)))  # zero-initialised: the standard prior
    (TensorShape([2, 8]), 0.0)
    """

    def __init__(self, event_shape: Sequence[int], condition_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = _checks.shape("ConditionalPriorLayer", "event_shape", event_shape)
        if isinstance(condition_dim, bool) or not isinstance(condition_dim, (int, np.integer)) or condition_dim < 1:
            raise ValueError(f"ConditionalPriorLayer: expected condition_dim >= 1, got {condition_dim!r}.")
        self.condition_dim = int(condition_dim)
        size = int(np.prod(self.event_shape))
        self.kernel = self.add_weight(shape=(self.condition_dim, 2 * size), initializer="zeros", autocast=False, name="kernel")
        self.bias = self.add_weight(shape=(2 * size,), initializer="zeros", autocast=False, name="bias")
        self.built = True

    def call(self, c):
        c = tf.cast(c, self.kernel.dtype)
        params = tf.matmul(c, self.kernel) + self.bias
        size = int(np.prod(self.event_shape))
        mean, log_std = params[:, :size], params[:, size:]
        shape = tf.concat([tf.shape(c)[:1], self.event_shape], 0)
        # mean then log_std along the last axis of the event, as ConditionalAffine splits them
        return tf.concat([tf.reshape(mean, shape), tf.reshape(log_std, shape)], axis=-1)

    def bijector(self) -> tfb.Bijector:
        return ConditionalAffine(self, self.event_shape, name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape), condition_dim=self.condition_dim)
        return config
