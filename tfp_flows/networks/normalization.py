"""ActNorm for conditioner networks: per-channel affine with data-dependent initialisation."""
from __future__ import annotations

import keras
import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.bijectors.actnorm import DEFAULT_MIN_STD, ActNorm


@keras.saving.register_keras_serializable(package="tfp_flows")
class DataInitNorm(keras.layers.Layer):
    """`(x + b) * exp(log_s)` per channel, as openai/glow normalises inside its coupling nets.

    While `initializing` is set (by `FlowModel.initialize`), a call first sets `b` and
    `log_s` from the statistics of its input, so the output has zero mean and unit
    variance per channel (std floored at `min_std`); afterwards it is a plain affine.
    Unlike batch norm it has no batch dependence at train or test time.

    Args:
      min_std: floor of the standard deviation used by the data-dependent init.

    Raises:
      ValueError: from Keras, on an input whose channels differ from the first call's.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import DataInitNorm
    >>> DataInitNorm()(tf.ones([2, 4, 4, 3])).shape  # the identity until initialised
    TensorShape([2, 4, 4, 3])
    """

    def __init__(self, min_std: float = DEFAULT_MIN_STD, **kwargs):
        super().__init__(**kwargs)
        self.min_std = _checks.number("DataInitNorm", "min_std", min_std, low=0.0, low_open=True)
        self.initializing = False

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.shift = self.add_weight(shape=(channels,), initializer="zeros", name="shift")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", name="log_scale")
        self.built = True

    def call(self, x):
        if self.initializing:
            shift, log_scale = ActNorm.initial_parameters(
                tf.cast(x, self.variable_dtype), event_ndims=x.shape.rank - 1, min_std=self.min_std
            )
            self.shift.assign(shift)
            self.log_scale.assign(log_scale)
        shift = tf.cast(self.shift, x.dtype)
        log_scale = tf.cast(self.log_scale, x.dtype)
        # `bias_add`, not `+`: the same sum, and a gradient of one op (a broadcast `+` reduces through four)
        return tf.nn.bias_add(x, shift) * tf.exp(log_scale)

    def get_config(self):
        config = super().get_config()
        config.update(min_std=self.min_std)
        return config
