"""Keras weights of an `Invertible1x1Conv` bijector (LU or plain)."""
from __future__ import annotations

import keras

from tfp_flows import _checks
from tfp_flows.bijectors.invertible_1x1_conv import Invertible1x1Conv

INITS = ("rotation", "permutation")


@keras.saving.register_keras_serializable(package="tfp_flows")
class Invertible1x1ConvLayer(keras.layers.Layer):
    """Weights of Glow's 1x1 convolution, initialised to a random rotation.

    LU (`lu=True`): trainable `lower`, `upper`, `log_scale`; fixed `permutation` and
    `sign` (non-trainable weights, so they are saved with the model). Plain: one
    trainable `matrix`.

    `init="permutation"` (LU only) starts from a random permutation instead (`L = I`,
    `U = I`; nflows' `RandomPermutation` then `LULinear`), which is how the vector flows
    mix entries between couplings: `event_ndims=1` applies `W` to vectors `(D,)`.

    Args:
      channels: `C`; `W` is `C x C`.
      lu: the LU parametrisation (else a plain trainable matrix).
      seed: seed of the random rotation.
      event_ndims: 3 for images `(H, W, C)`, 2 for sequences `(T, C)`, 1 for vectors `(D,)`.
      init: "rotation" (a random rotation) or "permutation" (a random permutation, LU only).

    Raises:
      ValueError: `channels < 1`, a non-boolean `lu`, a negative `seed`, or an unknown `init`.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import Invertible1x1ConvLayer
    >>> conv = Invertible1x1ConvLayer(channels=4, seed=0)
    >>> x = tf.random.normal([2, 3, 3, 4], seed=1)
    >>> b = conv.bijector()
    >>> float(tf.reduce_max(tf.abs(b.inverse(b.forward(x)) - x))) < 1e-5
    True
    """

    def __init__(self, channels: int, lu: bool = True, seed: int | None = None, event_ndims: int = 3,
                 init: str = "rotation", **kwargs):
        super().__init__(**kwargs)
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"Invertible1x1ConvLayer: expected channels >= 1, got {channels!r}.")
        _checks.boolean("Invertible1x1ConvLayer", "lu", lu)
        if seed is not None:
            _checks.integer("Invertible1x1ConvLayer", "seed", seed, minimum=0)
        _checks.integer("Invertible1x1ConvLayer", "event_ndims", event_ndims)
        if init not in INITS or (init == "permutation" and not lu):
            raise ValueError(f"Invertible1x1ConvLayer: expected init in {INITS} ('permutation' with lu=True), got {init!r} with lu={lu!r}.")
        self.channels, self.lu, self.seed, self.event_ndims, self.init = channels, lu, seed, event_ndims, init
        if lu:
            start = Invertible1x1Conv.initial_lu if init == "rotation" else Invertible1x1Conv.initial_permutation_lu
            factors = start(channels, seed)
            for key in ("lower", "upper", "log_scale"):
                setattr(self, key, self._weight(key, factors[key], trainable=True))
            self.sign = self._weight("sign", factors["sign"], trainable=False)
            self.permutation = self._weight("permutation", factors["permutation"], trainable=False, dtype="int32")
        else:
            self.matrix = self._weight("matrix", Invertible1x1Conv.initial_matrix(channels, seed), trainable=True)
        self.built = True

    def _weight(self, name, value, trainable, dtype=None):
        return self.add_weight(
            shape=value.shape,
            initializer=keras.initializers.Constant(value),
            trainable=trainable,
            dtype=dtype,
            autocast=False,  # flow parameters stay in the variables' dtype under mixed precision
            name=name,
        )

    def bijector(self) -> Invertible1x1Conv:
        # The variables themselves, read when the bijector runs: a held bijector stays live.
        if self.lu:
            return Invertible1x1Conv(
                permutation=self.permutation, lower=self.lower, upper=self.upper, log_scale=self.log_scale,
                sign=self.sign, event_ndims=self.event_ndims, name=self.name,
            )
        return Invertible1x1Conv(self.matrix, event_ndims=self.event_ndims, name=self.name)

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, lu=self.lu, seed=self.seed, event_ndims=self.event_ndims, init=self.init)
        return config
