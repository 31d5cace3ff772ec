"""Coupling base class: `y_a = x_a`, `y_b = g(x_b; theta)`, `theta = conditioner(x_a)`.

Subclasses override one pair of hooks, `_couple` / `_uncouple`, which transform `x_b`
given the conditioner's output and return an elementwise log-det (or None when it is
zero). Masking, shape checks, conditioning and the log-det reduction live here.

Conditioning (TFP's keyword mechanism, as `tfb.MaskedAutoregressiveFlow`): a coupling
built with `conditional=True` takes `conditional_input=c` in `forward`, `inverse` and the
log-dets, and calls its conditioner as `conditioner(x_a, conditional_input=c)`, with
`x_a` folded to `[N, *a_event]` and `c` to `[N, C]`. `c` has shape `[*batch_c, C]`
where `batch_c` broadcasts against the batch of `x`. Inside a `tfb.Chain` it is routed by
name: `chain.forward(x, **{coupling.name: {"conditional_input": c}})`, and a
`TransformedDistribution` takes the same dict as `bijector_kwargs`.
"""
from __future__ import annotations

import abc
from typing import Callable, Sequence

import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.bijectors._base import FusedBijector, broadcast_condition, call_folded, variables_of, check_event_shape, maybe_check_finite, zeros_over_batch
from tfp_flows.bijectors.masks import Mask, make_mask


class Coupling(FusedBijector, abc.ABC):
    """Abstract coupling bijector over events of shape `mask.event_shape`.

    Args:
      conditioner: any callable (typically a Keras layer) mapping `x_a`, of event
        shape `mask.a_event_shape`, to the coupling parameters; its expected
        output event shape is `param_event_shape`.
      mask: a `Mask` or one of "channel", "halves", "odd_even", "checkerboard".
      event_shape: `(D,)` or `(H, W, C)`; needed when `mask` is a name.
      parity: 0 or 1, swaps the roles of the two parts.
      validate_args: check inputs are finite.
      conditional: the coupling takes `conditional_input=c` at call time (required), and
        its conditioner is called as `conditioner(x_a, conditional_input=c)`.

    Args:
      conditioner: callable of `x_a` (and `conditional_input=c` when `conditional=True`).
      mask: "channel"/"halves", "odd_even", "checkerboard" or a `Mask`.
      event_shape: the event shape the mask splits.
      parity: 0 or 1; 1 swaps the roles of the two parts.
      is_constant_jacobian: True for volume-preserving subclasses (additive couplings).

    Raises:
      ValueError: a non-callable conditioner, an unknown mask, a conditioner output of the wrong shape, or
        a missing/unexpected `conditional_input`.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import AdditiveCoupling, Coupling
    >>> b = AdditiveCoupling(lambda x_a: 2.0 * x_a, mask="halves", event_shape=(2,))
    >>> isinstance(b, Coupling), b.forward(tf.constant([1.0, 1.0])).numpy().tolist()
    (True, [1.0, 3.0])
    """

    def __init__(
        self,
        conditioner: Callable[[tf.Tensor], tf.Tensor],
        mask: str | Mask = "channel",
        event_shape: Sequence[int] | None = None,
        parity: int = 0,
        is_constant_jacobian: bool = False,
        validate_args: bool = False,
        name: str = "coupling",
        parameters: dict | None = None,
        conditional: bool = False,
    ):
        if not callable(conditioner):
            raise ValueError(f"{type(self).__name__}: conditioner must be callable, got {conditioner!r}.")
        self._conditioner = conditioner
        self._conditional = _checks.boolean(type(self).__name__, "conditional", conditional)
        self._conditioner_variables = variables_of(conditioner)  # listed in `trainable_variables`
        self._mask = make_mask(mask, event_shape, parity, owner=type(self).__name__)
        super().__init__(
            forward_min_event_ndims=len(self._mask.event_shape),
            is_constant_jacobian=is_constant_jacobian,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}  # the parameters live in the conditioner, not in tensors of this bijector

    @property
    def conditioner(self):
        return self._conditioner

    @property
    def is_conditional(self) -> bool:
        """Whether calls need `conditional_input=c` (passed on to the conditioner)."""
        return self._conditional

    @property
    def mask(self) -> Mask:
        return self._mask

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._mask.event_shape

    @property
    def param_event_shape(self) -> tuple[int, ...]:
        """The event shape the conditioner must output."""
        return self._mask.b_event_shape

    @abc.abstractmethod
    def _couple(self, x_b: tf.Tensor, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Forward transform of `x_b`: returns `(y_b, elementwise log-det or None for 0)`."""

    @abc.abstractmethod
    def _uncouple(self, y_b: tf.Tensor, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """Inverse transform of `y_b`: returns `(x_b, elementwise inverse log-det or None)`."""

    def _params(self, x_a: tf.Tensor, dtype, conditional_input=None) -> tf.Tensor:
        params = call_folded(self._conditioner, x_a, len(self._mask.a_event_shape), conditional_input)
        check_event_shape(params, self.param_event_shape, type(self).__name__, what="conditioner output")
        # Conditioners may compute in low precision; the transform and log-det stay in `dtype`.
        return tf.cast(params, dtype)

    def _check(self, x: tf.Tensor, what: str) -> tf.Tensor:
        check_event_shape(x, self.event_shape, type(self).__name__, what=what)
        return maybe_check_finite(x, self.validate_args, type(self).__name__, what)

    def _check_condition(self, conditional_input):
        owner = f"{type(self).__name__} {self.name!r}"
        if self._conditional and conditional_input is None:
            raise ValueError(f"{owner}: this coupling is conditional (conditional=True); pass conditional_input=c.")
        if not self._conditional and conditional_input is not None:
            raise ValueError(
                f"{owner}: got conditional_input, but this coupling is unconditional; build it with conditional=True "
                "and a conditioner taking (x_a, conditional_input=c)."
            )

    def _apply(self, x: tf.Tensor, hook, what: str, conditional_input=None, compact: bool = False):
        x = self._check(x, what)
        self._check_condition(conditional_input)
        if conditional_input is not None:
            x, conditional_input = broadcast_condition(
                x, len(self.event_shape), conditional_input, type(self).__name__, self.validate_args
            )
        x_a, x_b = self._mask.split(x)
        y_b, elementwise = hook(x_b, self._params(x_a, x.dtype, conditional_input))
        y = self._mask.merge(x_a, y_b)
        if elementwise is None:  # volume-preserving: a compact log-det is None (see `FusedBijector`)
            return y, (None if compact else zeros_over_batch(x, len(self.event_shape)))
        return y, self._mask.sum_log_det(elementwise)

    def _forward_and_log_det(self, x, conditional_input=None):
        return self._apply(x, self._couple, "x", conditional_input)

    def _inverse_and_log_det(self, y, conditional_input=None):
        return self._apply(y, self._uncouple, "y", conditional_input)

    def _forward_and_compact_log_det(self, x, conditional_input=None):
        return self._apply(x, self._couple, "x", conditional_input, compact=True)

    def _inverse_and_compact_log_det(self, y, conditional_input=None):
        return self._apply(y, self._uncouple, "y", conditional_input, compact=True)
