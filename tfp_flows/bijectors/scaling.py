"""NICE's diagonal scaling layer (Dinh et al. 2014, section 3.3)."""
from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._base import FusedBijector, as_parameter, check_event_shape, maybe_check_finite, over_batch

tfb = tfp.bijectors


class Scaling(FusedBijector):
    """Elementwise scaling by `exp(s)`, where `s` has the full event shape.

    Forward:  `y = x * exp(s)`
    Inverse:  `x = y * exp(-s)`
    Log-det:  `log|det dy/dx| = sum(s)`, the same for every input.

    Why not `tfb.Scale(log_scale=s)`: that bijector is elementwise (event rank 0), so
    it cannot check that `s` matches the event, and its log-det is broadcast to every
    element and summed per call; this one has the event rank of `s`.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import Scaling
    >>> b = Scaling(tf.math.log([2.0, 4.0]))
    >>> b.forward(tf.ones([1, 2])).numpy().tolist(), round(float(b.forward_log_det_jacobian(tf.ones([1, 2]), 1)[0]), 4)
    ([[2.0, 4.0]], 2.0794)

    Raises:
      ValueError: a scalar `log_scale` (it must have the event shape, rank >= 1).
    """

    def __init__(self, log_scale, validate_args: bool = False, name: str = "scaling"):
        parameters = dict(locals())
        with tf.name_scope(name):
            self._log_scale = as_parameter(log_scale, "log_scale", owner="Scaling")  # read when used
        if self._log_scale.shape.rank in (None, 0):
            raise ValueError(
                f"Scaling: log_scale must have the event shape (rank >= 1), got shape {self._log_scale.shape}."
            )
        super().__init__(
            forward_min_event_ndims=self._log_scale.shape.rank,
            is_constant_jacobian=True,
            validate_args=validate_args,
            dtype=self._log_scale.dtype,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        from tensorflow_probability.python.internal import parameter_properties

        return dict(log_scale=parameter_properties.ParameterProperties(event_ndims=lambda self, x_event_ndims=None: self.forward_min_event_ndims))

    @property
    def log_scale(self):
        return self._log_scale

    def _apply(self, x, sign, what):
        check_event_shape(x, self._log_scale.shape.as_list(), "Scaling", what)
        x = maybe_check_finite(x, self.validate_args, "Scaling", what)
        log_scale = tf.convert_to_tensor(self._log_scale)
        # one scalar for every event (see `FusedBijector`)
        return x * tf.exp(sign * log_scale), sign * tf.reduce_sum(log_scale)

    def _forward_and_compact_log_det(self, x):
        return self._apply(x, 1.0, "x")

    def _inverse_and_compact_log_det(self, y):
        return self._apply(y, -1.0, "y")

    def _forward_and_log_det(self, x):
        y, log_det = self._apply(x, 1.0, "x")
        return y, over_batch(log_det, x, self.forward_min_event_ndims)

    def _inverse_and_log_det(self, y):
        x, log_det = self._apply(y, -1.0, "y")
        return x, over_batch(log_det, y, self.forward_min_event_ndims)
