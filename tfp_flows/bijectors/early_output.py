"""WaveGlow's early outputs: the first channels leave the flow, the inner flow transforms the rest."""
from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._base import FusedBijector, batch_shape_of, check_event_shape

tfb = tfp.bijectors


class EarlyOutput(FusedBijector):
    """Passes the first `F` channels of a `(T', C)` event through and applies `inner` to the other `C - F`.

    Forward:  `y = concat([x[..., :F], inner.forward(x[..., F:])], axis=-1)`
    Inverse:  `x = concat([y[..., :F], inner.inverse(y[..., F:])], axis=-1)`
    Log-det:  `inner.forward_log_det_jacobian(x[..., F:])` over the `(T', C - F)` event.

    In the normalising direction (data -> latent) this is WaveGlow's `n_early_every`
    split: the `F = n_early_size` channels it passes through are already latent, exactly
    as NVIDIA's `output_audio.append(audio[:, :n_early_size])`, and the latent keeps the
    data's shape. Unlike `FactorOut` (images, learned prior, flat latent) no reshaping or
    prior is involved, and `T'` may be unknown until run time.

    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> from tfp_flows.bijectors import EarlyOutput
    >>> b = EarlyOutput(tfp.bijectors.Scale(2.0), num_early=1)
    >>> b.forward(tf.ones([1, 3, 2])).numpy()[0].tolist()
    [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]

    Raises:
      ValueError: `inner` not a `tfp.bijectors.Bijector`, `num_early` not an integer >= 1, or an input
        with no more than `num_early` channels.
    """

    def __init__(self, inner: tfb.Bijector, num_early: int, validate_args: bool = False, name: str = "early_output"):
        parameters = dict(locals())
        if not isinstance(inner, tfb.Bijector):
            raise ValueError(f"EarlyOutput: inner must be a tfp.bijectors.Bijector, got {inner!r}.")
        if not isinstance(num_early, int) or isinstance(num_early, bool) or num_early < 1:
            raise ValueError(f"EarlyOutput: expected an integer num_early >= 1, got {num_early!r}.")
        self._inner = inner
        self._num_early = num_early
        super().__init__(forward_min_event_ndims=2, validate_args=validate_args, parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def inner(self) -> tfb.Bijector:
        return self._inner

    @property
    def num_early(self) -> int:
        return self._num_early

    def _apply(self, x, forward: bool, what: str):
        check_event_shape(x, [None, None], "EarlyOutput", what)
        channels = x.shape[-1]
        if channels is not None and channels <= self._num_early:
            raise ValueError(
                f"EarlyOutput: expected more than num_early = {self._num_early} channels in {what}, got {channels}."
            )
        early, rest = x[..., : self._num_early], x[..., self._num_early :]
        if forward:
            out = self._inner.forward(rest)
            log_det = self._inner.forward_log_det_jacobian(rest, event_ndims=2)
        else:
            out = self._inner.inverse(rest)
            log_det = self._inner.inverse_log_det_jacobian(rest, event_ndims=2)
        y = tf.concat([early, out], axis=-1)
        y.set_shape(x.shape)
        return y, log_det + tf.zeros(batch_shape_of(x, 2), x.dtype)

    def _forward_and_log_det(self, x):
        return self._apply(x, True, "x")

    def _inverse_and_log_det(self, y):
        return self._apply(y, False, "y")
