"""Keras weights of an `ActNorm` bijector, with its data-dependent initialisation."""
from __future__ import annotations

import keras
import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.bijectors._base import FusedBijector
from tfp_flows.layers._data_init import DataInitBijector
from tfp_flows.bijectors.actnorm import DEFAULT_MIN_STD, ActNorm


@keras.saving.register_keras_serializable(package="tfp_flows")
class ActNormLayer(keras.layers.Layer):
    """Per-channel `shift` and `log_scale` weights, plus an `initialized` flag.

    `initialize(batch)` sets the weights from the statistics of `batch` (the input of
    this ActNorm in the normalising direction) the first time it is called and is a
    no-op afterwards (unless `force=True`); it works eagerly and inside `tf.function`.
    The flag is a weight, so it is saved and restored with the model: a reloaded or
    resumed model is not re-initialised.

    While `initializing` is set (by `FlowModel.initialize`), `bijector()` returns a
    bijector that initialises the layer from whatever reaches it, so one pass of data
    through a whole flow initialises every ActNorm in order.

    Args:
      channels: `C`, the size of the last axis.
      event_ndims: 3 for images `(H, W, C)`, 2 for sequences, 1 for vectors.
      min_std: floor of the standard deviation used by the data-dependent init.

    Raises:
      ValueError: `channels < 1`; `initialize` on a batch of the wrong rank or channels.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import ActNormLayer
    >>> layer = ActNormLayer(channels=3)
    >>> x = tf.random.stateless_normal([16, 4, 4, 3], seed=[0, 1]) + 5.0
    >>> _ = layer.initialize(x)
    >>> z = layer.bijector().forward(x)
    >>> abs(float(tf.reduce_mean(z))) < 1e-3  # normalised by the batch's own statistics
    True
    """

    def __init__(self, channels: int, event_ndims: int = 3, min_std: float = DEFAULT_MIN_STD, **kwargs):
        super().__init__(**kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"ActNormLayer: expected channels >= 1, got {channels!r}.")
        _checks.integer("ActNormLayer", "event_ndims", event_ndims)
        _checks.number("ActNormLayer", "min_std", min_std, low=0.0, low_open=True)
        self.channels = channels
        self.event_ndims = event_ndims
        self.min_std = min_std
        self.initializing = False
        self.shift = self.add_weight(shape=(channels,), initializer="zeros", autocast=False, name="shift")
        self.log_scale = self.add_weight(shape=(channels,), initializer="zeros", autocast=False, name="log_scale")
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, dtype="float32", name="initialized"
        )
        self.built = True

    def bijector(self) -> FusedBijector:
        if self.initializing:
            return DataInitBijector(self._assign_from, self._current, self.event_ndims, f"{self.name}_init")
        return self._current()

    def _current(self) -> ActNorm:
        # The variables themselves, read when the bijector runs: a held bijector stays live.
        return ActNorm(self.shift, self.log_scale, event_ndims=self.event_ndims, name=self.name)

    def initialize(self, batch: tf.Tensor, force: bool = False) -> tf.Tensor:
        """Data-dependent init from `batch` if not done yet; returns the normalised batch.

        `batch` is the input of the normalising (forward) direction; the returned tensor
        is `bijector().forward(batch)`, what the next layer sees.
        """
        return self._current().forward(self._assign_from(batch, force))

    def _assign_from(self, batch: tf.Tensor, force: bool = True) -> tf.Tensor:
        """Sets the weights from `batch` (if `force` or not yet initialised); returns `batch` in the weights' dtype."""
        batch = tf.cast(batch, self.variable_dtype)
        shift, log_scale = ActNorm.initial_parameters(batch, self.event_ndims, self.min_std)
        if not force:  # decided in the graph: `initialize` also runs inside `tf.function`
            needed = tf.equal(self.initialized, 0.0)
            shift = tf.where(needed, shift, tf.convert_to_tensor(self.shift))
            log_scale = tf.where(needed, log_scale, tf.convert_to_tensor(self.log_scale))
        self.shift.assign(shift)
        self.log_scale.assign(log_scale)
        self.initialized.assign(1.0)
        return batch

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, event_ndims=self.event_ndims, min_std=self.min_std)
        return config

