"""Keras weight of NICE's `Scaling` bijector."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from tfp_flows.bijectors.scaling import Scaling


@keras.saving.register_keras_serializable(package="tfp_flows")
class ScalingLayer(keras.layers.Layer):
    """One trainable log-scale per event entry, initialised to 0 (the identity)."""

    def __init__(self, event_shape: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.log_scale = self.add_weight(shape=self.event_shape, initializer="zeros", name="log_scale")
        self.built = True

    def bijector(self) -> Scaling:
        return Scaling(tf.cast(self.log_scale, self.variable_dtype), name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(event_shape=list(self.event_shape))
        return config
