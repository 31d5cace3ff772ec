"""NICE's additive coupling (Dinh et al. 2014)."""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.masks import Mask


class AdditiveCoupling(Coupling):
    """Additive coupling: a volume-preserving shift of one part by a function of the other.

    Forward:  `y_a = x_a`,  `y_b = x_b + m(x_a)`
    Inverse:  `x_a = y_a`,  `x_b = y_b - m(y_a)`
    Log-det:  `log|det dy/dx| = 0` (the Jacobian is unit-triangular).

    `m` is the `conditioner`; its output must have event shape `param_event_shape`
    (the shape of `x_b`).

    `conditional=True` makes the conditioner take `conditional_input=c` too (see `Coupling`).

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import AdditiveCoupling
    >>> shift_net = lambda x_a: 2.0 * x_a
    >>> b = AdditiveCoupling(shift_net, mask="halves", event_shape=(6,))
    >>> x = tf.range(6, dtype=tf.float32)[None]
    >>> b.forward(x).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0, 6.0, 9.0]]

    Args:
      conditioner: callable `x_a -> m(x_a)`, output shaped like `x_b` (`param_event_shape`).
      mask: "channel"/"halves", "odd_even", "checkerboard" or a `Mask`.
      event_shape: the event shape the mask splits, e.g. `(D,)` or `(H, W, C)`.
      parity: 0 or 1; 1 swaps the roles of the two parts.
      conditional: the conditioner also takes `conditional_input=c`.

    Raises:
      ValueError: an unknown mask, a non-callable conditioner, a conditioner output of the wrong shape, or
        `conditional_input` given to an unconditional coupling (and missing for a conditional one).
    """

    def __init__(
        self,
        conditioner: Callable[[tf.Tensor], tf.Tensor],
        mask: str | Mask = "channel",
        event_shape: Sequence[int] | None = None,
        parity: int = 0,
        validate_args: bool = False,
        name: str = "additive_coupling",
        conditional: bool = False,
    ):
        parameters = dict(locals())
        super().__init__(
            conditioner,
            mask=mask,
            event_shape=event_shape,
            parity=parity,
            is_constant_jacobian=True,
            validate_args=validate_args,
            name=name,
            parameters=parameters,
            conditional=conditional,
        )

    def _couple(self, x_b, shift):
        return x_b + shift, None

    def _uncouple(self, y_b, shift):
        return y_b - shift, None
