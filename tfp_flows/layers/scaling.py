"""Keras weight of NICE's `Scaling` bijector."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.bijectors.actnorm import DEFAULT_MIN_STD
from tfp_flows.bijectors.scaling import Scaling
from tfp_flows.layers._data_init import DataInitBijector


@keras.saving.register_keras_serializable(package="tfp_flows")
class ScalingLayer(keras.layers.Layer):
    """One trainable log-scale per event entry, initialised to 0 (the identity).

    While `initializing` is set (by `FlowModel.initialize`), the first data through the
    bijector sets `log_scale = -log(std)` per entry (std over the batch, floored at
    `min_std`), so training starts from unit-variance latents instead of crawling there.

    Args:
      event_shape: the shape of `log_scale` (the model's event shape).
      min_std: floor of the standard deviation used by the data-dependent init.

    Raises:
      ValueError: from the bijector, on an input of another event shape.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import ScalingLayer
    >>> ScalingLayer(event_shape=(3,)).bijector().forward(tf.constant([1.0, 2.0, 3.0])).numpy().tolist()
    [1.0, 2.0, 3.0]
    """

    def __init__(self, event_shape: Sequence[int], min_std: float = DEFAULT_MIN_STD, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = _checks.shape("ScalingLayer", "event_shape", event_shape)
        self.min_std = _checks.number("ScalingLayer", "min_std", min_std, low=0.0, low_open=True)
        self.initializing = False
        self.log_scale = self.add_weight(shape=self.event_shape, initializer="zeros", autocast=False, name="log_scale")
        self.built = True

    def bijector(self) -> Scaling:
        if self.initializing:
            return DataInitBijector(self.initialize, self._current, len(self.event_shape), f"{self.name}_init")
        return self._current()

    def _current(self) -> Scaling:
        return Scaling(self.log_scale, name=self.name)  # the variable, read when used

    def initialize(self, batch: tf.Tensor) -> None:
        """Sets `log_scale` so that `batch` (`[N, *event_shape]`) leaves with unit variance per entry."""
        batch = tf.cast(batch, self.variable_dtype)
        std = tf.maximum(tf.math.reduce_std(batch, axis=0), tf.cast(self.min_std, batch.dtype))
        self.log_scale.assign(-tf.math.log(std))

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape), min_std=self.min_std)
        return config
