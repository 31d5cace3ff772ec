"""Glow's activation normalisation (Kingma & Dhariwal 2018, section 3.1)."""
from __future__ import annotations

import tensorflow as tf
from tensorflow_probability.python.internal import parameter_properties

from tfp_flows.bijectors._base import SharedLogDetBijector, as_parameter, check_event_shape, maybe_check_finite, positions_of

DEFAULT_MIN_STD = 0.1


class ActNorm(SharedLogDetBijector):
    """Per-channel affine normalisation with data-dependent initialisation.

    With per-channel parameters `b` (shift) and `log_s` (log-scale) over the last axis,
    and `P` the number of positions per event (`H * W` for images, 1 for vectors):

    Forward:  `y = (x + b) * exp(log_s)`
    Inverse:  `x = y * exp(-log_s) - b`
    Log-det:  `log|det dy/dx| = P * sum(log_s)`

    `shift` and `log_scale` may be tensors, `tf.Variable`s, `keras.Variable`s or
    `DeferredTensor`s: they are read when the bijector is used, so gradients reach them
    and later assignments take effect.

    `ActNorm.initial_parameters(batch)` returns the `(b, log_s)` that give the batch zero
    mean and unit variance per channel (openai/glow's data-dependent init). The standard
    deviation is floored at `min_std`: a channel that is (nearly) constant in the data,
    like the always-zero border pixels of digits, would otherwise get a huge scale and a
    log-det that dominates the likelihood.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import ActNorm
    >>> x = tf.random.stateless_normal([64, 4, 4, 3], seed=[1, 2]) * 3.0 + 1.0
    >>> b = ActNorm(*ActNorm.initial_parameters(x))
    >>> y = b.forward(x)
    >>> bool(abs(float(tf.reduce_mean(y))) < 1e-5), bool(abs(float(tf.math.reduce_std(y)) - 1) < 1e-3)
    (True, True)

    Args:
      shift: `b`, shape `[C]` (a tensor or a variable; read when used).
      log_scale: `log_s`, shape `[C]`.
      event_ndims: rank of the event: 3 for images `(H, W, C)`, 2 for sequences `(T, C)`, 1 for vectors.

    Raises:
      ValueError: `event_ndims` not in (1, 2, 3), or `shift` and `log_scale` not vectors of one size.
    """

    def __init__(self, shift, log_scale, event_ndims: int = 3, validate_args: bool = False, name: str = "act_norm"):
        parameters = dict(locals())
        if event_ndims not in (1, 2, 3):
            raise ValueError(f"ActNorm: expected event_ndims in (1, 2, 3), got {event_ndims!r}.")
        with tf.name_scope(name):
            self._shift = as_parameter(shift, "shift", owner="ActNorm")
            self._log_scale = as_parameter(log_scale, "log_scale", dtype=self._shift.dtype, owner="ActNorm")
        if self._shift.shape.rank != 1 or self._log_scale.shape.rank != 1 or (
            self._shift.shape[0] is not None and self._shift.shape != self._log_scale.shape
        ):
            raise ValueError(
                "ActNorm: shift and log_scale must be vectors of one size (channels), got shapes "
                f"{self._shift.shape} and {self._log_scale.shape}."
            )
        self._event_ndims = event_ndims
        super().__init__(
            forward_min_event_ndims=event_ndims,
            validate_args=validate_args,
            dtype=self._shift.dtype,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(
            shift=parameter_properties.ParameterProperties(event_ndims=1),
            log_scale=parameter_properties.ParameterProperties(event_ndims=1),
        )

    @property
    def shift(self):
        return self._shift

    @property
    def log_scale(self):
        return self._log_scale

    @staticmethod
    def initial_parameters(
        batch: tf.Tensor, event_ndims: int = 3, min_std: float = DEFAULT_MIN_STD
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """`(shift, log_scale)` normalising `batch` to zero mean, unit variance per channel.

        Statistics are taken over every axis but the last (batch and spatial axes), so a
        channel's statistics come from the whole batch. `min_std` floors the standard
        deviation (must be > 0).
        """
        if not min_std > 0:
            raise ValueError(f"ActNorm.initial_parameters: expected min_std > 0, got {min_std!r}.")
        batch = tf.convert_to_tensor(batch)
        if batch.shape.rank is not None and batch.shape.rank < event_ndims + 1:
            raise ValueError(
                f"ActNorm.initial_parameters: expected a batch of rank >= {event_ndims + 1} "
                f"(batch + event of rank {event_ndims}), got shape {batch.shape}."
            )
        axes = list(range(batch.shape.rank - 1))
        mean, variance = tf.nn.moments(batch, axes=axes)
        std = tf.maximum(tf.sqrt(variance), tf.cast(min_std, batch.dtype))
        return -mean, -tf.math.log(std)

    def _apply(self, x, forward: bool, what: str):
        """`(output, log-det)`, the log-det one scalar for every event (see `FusedBijector`)."""
        check_event_shape(x, [None] * (self._event_ndims - 1) + [self._shift.shape[0]], "ActNorm", what)
        x = maybe_check_finite(x, self.validate_args, "ActNorm", what)
        shift, log_scale = tf.convert_to_tensor(self._shift), tf.convert_to_tensor(self._log_scale)
        log_det = positions_of(x, self._event_ndims) * tf.reduce_sum(log_scale)
        if forward:
            return (x + shift) * tf.exp(log_scale), log_det
        return x * tf.exp(-log_scale) - shift, -log_det

