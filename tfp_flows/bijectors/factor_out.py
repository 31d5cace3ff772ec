"""Multi-scale factor-out: RealNVP's split and Glow's split with a learned prior."""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors._base import (
    FusedBijector, batch_shape_of, broadcast_condition, call_folded, check_event_shape, maybe_check_finite, over_batch, reshape_batch,
    variables_of,
)
from tfp_flows.bijectors._walk import sum_log_dets, walk_log_dets

tfb = tfp.bijectors


class FactorOut(FusedBijector):
    """Joins a flat latent into an image whose factored-out channels skip the inner flow.

    The event `h` of shape `(H, W, C)` is split on channels into `h_kept` (the first
    `C - F` channels, transformed further by `inner`) and `h_out` (the last `F`
    channels, factored out). The flat latent is `z = [eps, z_inner]` with
    `eps = flatten(e)` of size `H*W*F`, and `inner` maps `z_inner` to `h_kept`.

    With `prior(h_kept) = (mu, log_sigma)` (the last axis of its output split in halves;
    openai/glow's learned split prior) or `mu = 0, log_sigma = 0` without a prior
    (RealNVP's factor-out):

    Forward:  `h_kept = inner.forward(z_inner)`, `h_out = mu + exp(log_sigma) * e`
    Inverse:  `e = (h_out - mu) * exp(-log_sigma)`, `z_inner = inner.inverse(h_kept)`
    Log-det:  `log|det dh/dz| = inner.fldj(z_inner) + sum(log_sigma)`

    So a whole multi-scale flow is one bijector from a standard base over `z` (flat,
    size `H*W*C`) to images, and `inverse` returns every latent, factored-out parts
    included. A standard normal base on `e` gives `h_out ~ N(mu(h_kept), sigma(h_kept))`.

    Args:
      inner: bijector from flat `(D_inner,)` vectors to `(H, W, C - F)` images.
      event_shape: `(H, W, C)`, the image this bijector outputs.
      num_factored: `F`, the channels factored out (default `C // 2`).
      prior: optional callable (typically a Keras layer) mapping `h_kept` to
        `(H, W, 2F)`: `mu` then `log_sigma`.
      conditional: the prior is conditional (openai/glow's `split2d_prior` with `ycond`):
        calls take `conditional_input=c` (`[*batch_c, C]`, broadcasting against the batch)
        and the prior is called as `prior(h_kept, conditional_input=c)` on folded tensors.

    Keyword arguments other than `conditional_input` go to `inner` (TFP's routing: a
    `tfb.Chain` inner takes `{part_name: {...}}`), so conditional couplings inside the
    inner flow get their `conditional_input` through this bijector
    (`tfp_flows.bijectors.conditional_kwargs` builds the nested dict).

    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> from tfp_flows.bijectors import FactorOut
    >>> inner = tfp.bijectors.Reshape(event_shape_out=(2, 2, 1), event_shape_in=(4,))
    >>> split = FactorOut(inner, event_shape=(2, 2, 2))
    >>> split.forward(tf.zeros([3, 8])).shape, split.inverse(tf.zeros([3, 2, 2, 2])).shape
    (TensorShape([3, 2, 2, 2]), TensorShape([3, 8]))

    Raises:
      ValueError: `inner` not a bijector or not mapping flat vectors to the kept image, an event shape
        that is not an image, `num_factored` not in `[1, C)`, a non-callable `prior`, or `conditional=True`
        without a prior.
    """

    def __init__(
        self,
        inner: tfb.Bijector,
        event_shape: Sequence[int],
        num_factored: int | None = None,
        prior: Callable[[tf.Tensor], tf.Tensor] | None = None,
        validate_args: bool = False,
        name: str = "factor_out",
        conditional: bool = False,
    ):
        parameters = dict(locals())
        if not isinstance(inner, tfb.Bijector):
            raise ValueError(f"FactorOut: inner must be a tfp.bijectors.Bijector, got {inner!r}.")
        event_shape = _checks.shape("FactorOut", "event_shape", event_shape, ranks=(3,))
        height, width, channels = event_shape
        num_factored = channels // 2 if num_factored is None else _checks.integer("FactorOut", "num_factored", num_factored)
        if not 0 < num_factored < channels:
            raise ValueError(
                f"FactorOut: expected 0 < num_factored < C = {channels} channels, got {num_factored} "
                f"(event shape {event_shape})."
            )
        if prior is not None and not callable(prior):
            raise ValueError(f"FactorOut: prior must be callable or None, got {prior!r}.")
        if conditional and prior is None:
            raise ValueError("FactorOut: conditional=True needs a prior taking (h_kept, conditional_input=c).")
        self._conditional = bool(conditional)
        self._inner = inner
        self._prior = prior
        self._prior_variables = variables_of(prior)  # listed in `trainable_variables`
        self._event_shape = event_shape
        self._kept_shape = (height, width, channels - num_factored)
        self._out_shape = (height, width, num_factored)
        self._num_out = height * width * num_factored
        try:
            inner_in = inner.inverse_event_shape(self._kept_shape)
        except ValueError:
            inner_in = None
        if inner_in is None or inner_in.rank != 1 or inner_in[0] is None:
            raise ValueError(
                f"FactorOut: inner must map flat vectors to images of shape {self._kept_shape}, "
                f"but its inverse {'rejects that shape' if inner_in is None else f'gives event shape {inner_in}'}."
            )
        self._inner_size = int(inner_in[0])
        super().__init__(
            forward_min_event_ndims=1,
            inverse_min_event_ndims=3,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def inner(self) -> tfb.Bijector:
        return self._inner

    @property
    def prior(self):
        return self._prior

    @property
    def is_conditional(self) -> bool:
        """Whether calls need `conditional_input=c` (for the prior)."""
        return self._conditional

    def _check_condition(self, conditional_input):
        if self._conditional and conditional_input is None:
            raise ValueError(f"FactorOut {self.name!r}: its prior is conditional (conditional=True); pass conditional_input=c.")
        if not self._conditional and conditional_input is not None:
            raise ValueError(f"FactorOut {self.name!r}: got conditional_input, but its prior is unconditional (conditional=False).")

    @property
    def latent_size(self) -> int:
        """The size of the flat latent `z`."""
        return self._num_out + self._inner_size

    def _prior_params(self, h_kept, dtype, conditional_input=None):
        if self._prior is None:
            return None, None
        params = call_folded(self._prior, h_kept, 3, conditional_input)
        check_event_shape(params, self._out_shape[:-1] + (2 * self._out_shape[-1],), "FactorOut", "prior output")
        mean, log_sigma = tf.split(tf.cast(params, dtype), 2, axis=-1)
        return mean, log_sigma

    def _forward_and_compact_log_det(self, z, conditional_input=None, **inner_kwargs):
        check_event_shape(z, (self.latent_size,), "FactorOut", "z")
        z = maybe_check_finite(z, self.validate_args, "FactorOut", "z")
        self._check_condition(conditional_input)
        if conditional_input is not None:
            z, conditional_input = broadcast_condition(z, 1, conditional_input, "FactorOut", self.validate_args)
        eps, z_inner = tf.split(z, [self._num_out, self._inner_size], axis=-1)
        log_dets = []
        h_kept, _ = walk_log_dets(self._inner, z_inner, 1, True, log_dets, **inner_kwargs)
        h_out = self._unflatten(eps, z, 1, self._out_shape)
        mean, log_sigma = self._prior_params(h_kept, z.dtype, conditional_input)
        if mean is not None:
            h_out = mean + tf.exp(log_sigma) * h_out
            log_dets.append(tf.reduce_sum(log_sigma, axis=[-3, -2, -1]))
        h = tf.concat([h_kept, h_out], axis=-1)
        h.set_shape(z.shape[:-1].concatenate(self._event_shape))
        return h, sum_log_dets(log_dets)

    def _inverse_and_compact_log_det(self, h, conditional_input=None, **inner_kwargs):
        check_event_shape(h, self._event_shape, "FactorOut", "y")
        h = maybe_check_finite(h, self.validate_args, "FactorOut", "y")
        self._check_condition(conditional_input)
        if conditional_input is not None:
            h, conditional_input = broadcast_condition(h, 3, conditional_input, "FactorOut", self.validate_args)
        h_kept, h_out = tf.split(h, [self._kept_shape[-1], self._out_shape[-1]], axis=-1)
        log_dets = []
        z_inner, _ = walk_log_dets(self._inner, h_kept, 3, False, log_dets, **inner_kwargs)
        mean, log_sigma = self._prior_params(h_kept, h.dtype, conditional_input)
        if mean is not None:
            h_out = (h_out - mean) * tf.exp(-log_sigma)
            log_dets.append(-tf.reduce_sum(log_sigma, axis=[-3, -2, -1]))
        eps = self._unflatten(h_out, h, 3, (self._num_out,))
        z = tf.concat([eps, z_inner], axis=-1)
        z.set_shape(h.shape[:-3].concatenate([self.latent_size]))
        return z, sum_log_dets(log_dets)

    @staticmethod
    def _unflatten(x, like, like_event_ndims, event_shape):
        """`x` reshaped to the batch shape of `like` (whose event has `like_event_ndims` dims) then `event_shape`."""
        if like.shape.rank is not None:
            return reshape_batch(x, like.shape.rank - like_event_ndims, event_shape)
        return tf.reshape(x, tf.concat([batch_shape_of(like, like_event_ndims), event_shape], axis=0))

    def _forward_and_log_det(self, z, conditional_input=None, **inner_kwargs):
        h, log_det = self._forward_and_compact_log_det(z, conditional_input, **inner_kwargs)
        return h, self._batched(log_det, z, 1)

    def _inverse_and_log_det(self, h, conditional_input=None, **inner_kwargs):
        z, log_det = self._inverse_and_compact_log_det(h, conditional_input, **inner_kwargs)
        return z, self._batched(log_det, h, 3)

    @staticmethod
    def _batched(log_det, x, event_ndims):
        # Every batch member's log-det, as TFP's contract wants (the compact one may be a scalar or None).
        if log_det is None or log_det.shape.rank == 0:
            return over_batch(log_det, x, event_ndims)
        return log_det + tf.zeros(batch_shape_of(x, event_ndims), x.dtype)

    def _forward_event_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate(self._event_shape)

    def _inverse_event_shape(self, output_shape):
        return tf.TensorShape(output_shape)[:-3].concatenate([self.latent_size])

    def _forward_event_shape_tensor(self, input_shape):
        return tf.constant(self._event_shape, dtype=tf.int32)

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.constant([self.latent_size], dtype=tf.int32)

    def _forward_dtype(self, input_dtype, **kwargs):
        return input_dtype

    def _inverse_dtype(self, output_dtype, **kwargs):
        return output_dtype

