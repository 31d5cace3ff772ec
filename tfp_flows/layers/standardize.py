"""Keras weights of a fixed standardisation `y -> (y - mean) / std`, the first step of vector flows.

Tabular data come in the user's units (metres, volts, dollars); the flow sees them
standardised, and because the standardisation is a bijector inside the model its
Jacobian, `-sum(log std)`, is part of `log_prob`, which therefore stays a density in the
user's units. The statistics are non-trainable weights (saved with the model), set once
from the training data by `adapt` (or, if never adapted, by `FlowModel.initialize` from
the batch `fit` initialises with: rows spread over an in-memory array, a dataset's first
batch).

>>> import numpy as np
>>> layer = StandardizeLayer(2)
>>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
>>> layer.bijector().forward([[1.0, 20.0]]).numpy().tolist()
[[0.0, 0.0]]
>>> round(float(layer.bijector().forward_log_det_jacobian([[1.0, 20.0]], event_ndims=1)), 4)  # -log(1) - log(10)
-2.3026
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow_probability as tfp

from tfp_flows import _checks

tfb = tfp.bijectors


@keras.saving.register_keras_serializable(package="tfp_flows")
class StandardizeLayer(keras.layers.Layer):
    """Non-trainable per-feature `mean` and `std` (identity until adapted) and an `adapted` flag.

    `bijector()` maps data to standardised values, reading the weights each time it is
    built (the model rebuilds its flow on every call). `std` is floored at `min_std`
    times the feature's scale so a constant column cannot make the flow singular.

    Args:
      dims: `D`, the number of features.
      min_std: floor of `std`, relative to the feature's scale.

    Raises:
      ValueError: `dims < 1`; `adapt` on data that is not `[N, D]` with `N >= 1`, or not finite.

    >>> import numpy as np
    >>> from tfp_flows.layers import StandardizeLayer
    >>> layer = StandardizeLayer(dims=2)
    >>> layer.adapt(np.array([[0.0, 10.0], [2.0, 30.0]], "float32"))
    >>> layer.bijector().forward(np.array([[1.0, 20.0]], "float32")).numpy().tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, dims: int, min_std: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
            raise ValueError(f"StandardizeLayer: expected dims >= 1, got {dims!r}.")
        _checks.number("StandardizeLayer", "min_std", min_std, low=0.0, low_open=True)
        self.dims, self.min_std = int(dims), float(min_std)
        self.mean = self.add_weight(shape=(self.dims,), initializer="zeros", trainable=False, autocast=False, name="mean")
        self.std = self.add_weight(shape=(self.dims,), initializer="ones", trainable=False, autocast=False, name="std")
        self.adapted = self.add_weight(shape=(), initializer="zeros", trainable=False, name="adapted")
        self.built = True

    @property
    def is_adapted(self) -> bool:
        return bool(self.adapted.numpy() > 0)

    def adapt(self, data) -> None:
        """Sets `mean` and `std` per feature from `data` `[N, dims]` (N >= 1, finite)."""
        values = np.asarray(data, np.float64)
        if values.ndim != 2 or values.shape[1] != self.dims or values.shape[0] < 1:
            raise ValueError(f"StandardizeLayer.adapt: expected data [N, {self.dims}] with N >= 1, got shape {values.shape}.")
        if not np.all(np.isfinite(values)):
            raise ValueError("StandardizeLayer.adapt: data must be finite, got NaN or Inf.")
        mean = values.mean(axis=0)
        floor = self.min_std * np.maximum(1.0, np.abs(mean))
        std = np.maximum(values.std(axis=0), floor)
        self.mean.assign(mean.astype(self.variable_dtype))
        self.std.assign(std.astype(self.variable_dtype))
        self.adapted.assign(1.0)

    def bijector(self) -> tfb.Bijector:
        """`y -> (y - mean) / std` (forward: data to standardised), log-det `-sum(log std)`.

        TFP's `Shift` and `Scale` hold the variables themselves and read them when they run.
        """
        return tfb.Invert(tfb.Chain([tfb.Shift(self.mean), tfb.Scale(self.std)]), name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(dims=self.dims, min_std=self.min_std)
        return config
