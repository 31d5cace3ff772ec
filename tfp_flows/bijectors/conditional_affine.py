"""An elementwise affine map whose shift and log-scale are functions of a conditioning input."""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors._base import (
    FusedBijector, broadcast_condition, call_folded, check_event_shape, maybe_check_finite, variables_of,
)

tfb = tfp.bijectors


class ConditionalAffine(FusedBijector):
    """`y = shift(c) + exp(log_scale(c)) * x` for a conditioning input `c` given at call time.

    With `(shift, log_scale) = param_fn(c)` (the last axis of its output split in halves):

    Forward:  `y = shift + exp(log_scale) * x`
    Inverse:  `x = (y - shift) * exp(-log_scale)`
    Log-det:  `log|det dy/dx| = sum(log_scale)` over the event

    Following a standard base, it gives the learned conditional prior
    `N(shift(c), exp(log_scale(c))^2)`: openai/glow's class-conditional prior (`ycond`),
    or a context-dependent prior of a vector flow. Calls need `conditional_input=c` of
    shape `[*batch_c, C]`, `batch_c` broadcasting against the batch of `x`; `param_fn`
    gets `c` folded to `[N, C]` and returns `[N, *event[:-1], 2 * event[-1]]` (or a shape
    that broadcasts to it, e.g. `[N, 1, 1, 2C]` for a per-channel image prior).

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import ConditionalAffine
    >>> b = ConditionalAffine(lambda c: tf.concat([c, tf.zeros_like(c)], -1), event_shape=(2,))
    >>> b.forward(tf.zeros([1, 2]), conditional_input=tf.constant([[1.0, -1.0]])).numpy().tolist()
    [[1.0, -1.0]]

    Raises:
      ValueError: a non-callable `param_fn`, an empty event shape, or a call without `conditional_input`.
    """

    def __init__(
        self,
        param_fn: Callable[[tf.Tensor], tf.Tensor],
        event_shape: Sequence[int],
        validate_args: bool = False,
        name: str = "conditional_affine",
    ):
        parameters = dict(locals())
        if not callable(param_fn):
            raise ValueError(f"ConditionalAffine: param_fn must be callable, got {param_fn!r}.")
        event_shape = _checks.shape("ConditionalAffine", "event_shape", event_shape)
        self._param_fn = param_fn
        self._param_variables = variables_of(param_fn)  # listed in `trainable_variables`
        self._event_shape = event_shape
        super().__init__(
            forward_min_event_ndims=len(event_shape), validate_args=validate_args, parameters=parameters, name=name
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def is_conditional(self) -> bool:
        return True

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _shift_and_log_scale(self, x, conditional_input, what):
        owner = f"ConditionalAffine {self.name!r}"
        if conditional_input is None:
            raise ValueError(f"{owner}: this bijector is conditional; pass conditional_input=c.")
        check_event_shape(x, self._event_shape, "ConditionalAffine", what)
        x = maybe_check_finite(x, self.validate_args, "ConditionalAffine", what)
        x, c = broadcast_condition(x, len(self._event_shape), conditional_input, "ConditionalAffine", self.validate_args)
        params = tf.cast(call_folded(self._param_fn, c, 1), x.dtype)  # [*batch, *param_event]
        shift, log_scale = tf.split(params, 2, axis=-1)
        log_scale = tf.broadcast_to(log_scale, tf.shape(x))
        return x, shift, log_scale

    def _log_det(self, log_scale):
        return tf.reduce_sum(log_scale, axis=list(range(-len(self._event_shape), 0)))

    def _forward_and_log_det(self, x, conditional_input=None):
        x, shift, log_scale = self._shift_and_log_scale(x, conditional_input, "x")
        return shift + tf.exp(log_scale) * x, self._log_det(log_scale)

    def _inverse_and_log_det(self, y, conditional_input=None):
        y, shift, log_scale = self._shift_and_log_scale(y, conditional_input, "y")
        return (y - shift) * tf.exp(-log_scale), -self._log_det(log_scale)
