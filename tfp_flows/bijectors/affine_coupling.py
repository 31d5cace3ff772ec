"""RealNVP / Glow affine coupling (Dinh et al. 2016; Kingma & Dhariwal 2018)."""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.masks import Mask

SCALE_FUNCTIONS = ("sigmoid", "exp", "soft_clamp")


class AffineCoupling(Coupling):
    """Affine coupling: one part is scaled and shifted by functions of the other.

    With `(t, h) = conditioner(x_a)` (the conditioner's last axis split in two halves,
    shift first) and `log s = scale_fn(h)`:

    Forward:  `y_a = x_a`,  `y_b = x_b * s + t`
    Inverse:  `x_a = y_a`,  `x_b = (y_b - t) / s`
    Log-det:  `log|det dy/dx| = sum(log s)` over the transformed entries.

    `scale_fn` keeps the scale numerically stable:
      * "sigmoid" (Glow): `s = sigmoid(h + 2)`, so `log s = log_sigmoid(h + 2)` in (-inf, 0),
        and a zero-initialised conditioner starts near the identity (s = 0.88);
      * "soft_clamp": `log s = c * tanh(h / c)` with `c = clamp`, bounded in (-c, c);
      * "exp": `log s = h`, for conditioners that bound `h` themselves (RealNVP's
        `scale * tanh` ResNet output).

    The conditioner must output event shape `param_event_shape`: the shape of `x_b`
    with the last axis doubled.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import AffineCoupling
    >>> net = lambda x_a: tf.concat([x_a, tf.zeros_like(x_a)], axis=-1)  # t = x_a, h = 0
    >>> b = AffineCoupling(net, mask="halves", event_shape=(4,), scale_fn="exp")
    >>> b.forward(tf.constant([[1.0, 2.0, 3.0, 4.0]])).numpy().tolist()
    [[1.0, 2.0, 4.0, 6.0]]

    `conditional=True` (see `Coupling`): the conditioner also gets `conditional_input=c`.

    >>> shift_by_c = lambda x_a, conditional_input: tf.concat([conditional_input, tf.zeros_like(x_a)], -1)
    >>> b = AffineCoupling(shift_by_c, mask="halves", event_shape=(4,), scale_fn="exp", conditional=True)
    >>> b.forward(tf.zeros([1, 4]), conditional_input=tf.constant([[5.0, 6.0]])).numpy().tolist()
    [[0.0, 0.0, 5.0, 6.0]]

    Args:
      conditioner: callable `x_a -> [t, h]`, output of shape `param_event_shape` (`x_b`'s, last axis doubled).
      mask: "channel"/"halves", "odd_even", "checkerboard" or a `Mask`.
      event_shape: the event shape the mask splits, e.g. `(D,)` or `(H, W, C)`.
      parity: 0 or 1; 1 swaps the roles of the two parts.
      scale_fn: "sigmoid", "soft_clamp" or "exp" (above).
      clamp: the bound `c` of "soft_clamp".
      conditional: the conditioner also takes `conditional_input=c`.

    Raises:
      ValueError: an unknown `scale_fn` or mask, `clamp <= 0`, a conditioner output of the wrong shape, or a
        missing/unexpected `conditional_input`.
    """

    def __init__(
        self,
        conditioner: Callable[[tf.Tensor], tf.Tensor],
        mask: str | Mask = "channel",
        event_shape: Sequence[int] | None = None,
        parity: int = 0,
        scale_fn: str = "sigmoid",
        clamp: float = 2.0,
        validate_args: bool = False,
        name: str = "affine_coupling",
        conditional: bool = False,
    ):
        parameters = dict(locals())
        if scale_fn not in SCALE_FUNCTIONS:
            raise ValueError(f"AffineCoupling: unknown scale_fn {scale_fn!r}; expected one of {SCALE_FUNCTIONS}.")
        _checks.number("AffineCoupling", "clamp", clamp, low=0.0, low_open=True)
        self._scale_fn = scale_fn
        self._clamp = float(clamp)
        super().__init__(
            conditioner,
            mask=mask,
            event_shape=event_shape,
            parity=parity,
            validate_args=validate_args,
            name=name,
            parameters=parameters,
            conditional=conditional,
        )

    @property
    def param_event_shape(self):
        b_shape = self.mask.b_event_shape
        return b_shape[:-1] + (2 * b_shape[-1],)

    def _shift_and_log_scale(self, params):
        shift, raw = tf.split(params, 2, axis=-1)
        if self._scale_fn == "sigmoid":
            return shift, tf.math.log_sigmoid(raw + 2.0)
        if self._scale_fn == "soft_clamp":
            return shift, self._clamp * tf.tanh(raw / self._clamp)
        return shift, raw

    def _couple(self, x_b, params):
        shift, log_scale = self._shift_and_log_scale(params)
        # `add_n` of two tensors of one shape is `+` with a gradient of no op; `+` with an unknown batch
        # size reduces through a dynamic broadcast in its gradient.
        return tf.add_n([x_b * tf.exp(log_scale), shift]), log_scale

    def _uncouple(self, y_b, params):
        shift, log_scale = self._shift_and_log_scale(params)
        return (y_b - shift) * tf.exp(-log_scale), -log_scale
