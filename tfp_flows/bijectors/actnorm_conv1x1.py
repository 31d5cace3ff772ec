"""Glow's ActNorm followed by its invertible 1x1 convolution, folded into one affine map per position."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.bijectors._base import FusedBijector, check_event_shape, maybe_check_finite, over_batch, positions_of, reshape_as
from tfp_flows.bijectors.actnorm import ActNorm
from tfp_flows.bijectors.invertible_1x1_conv import Invertible1x1Conv


class FoldedActNormConv1x1(FusedBijector):
    """`Invertible1x1Conv(W)` applied after `ActNorm(b, log_s)`, as one matmul and one add.

    Both act on the channels of every position (the last axis). With `s = exp(log_s)`,
    `M = W diag(s)` and `P` positions per event (`H * W` for images):

    Forward:  `z = W ((x + b) * s) = M x + M b`
    Inverse:  `x = M^-1 z - b`, `M^-1 = diag(1 / s) W^-1`
    Log-det:  `log|det dz/dx| = P * (sum(log_s) + log|det W|)`

    The same map as `tfb.Chain([conv, actnorm])`, but one matmul and one bias add over the
    image tensor (oneDNN fuses the two) instead of two elementwise passes and a matmul, in
    both directions and in their gradients. The C x C matrices `M`, `M^-1` and the bias
    `M b` are computed from the parameters on each call: O(C^3), nothing next to the
    O(N H W C^2) matmul. `W^-1` and `log|det W|` come from the convolution's own LU factors
    (two triangular solves) or QR, as `Invertible1x1Conv` computes them.

    Why not `tfb.ScaleMatvecLU` + `tfb.Shift`: that solves per position in the inverse and
    keeps two passes over the tensor.

    The parts are kept, not copied: their parameters (tensors or variables) are read when
    the folded bijector runs, so gradients reach them and later assignments take effect.
    Fold only a plain `ActNorm`: a layer initialising itself from data (Glow's first
    batch) needs the unfolded `ActNorm` to see its input.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import ActNorm, FoldedActNormConv1x1, Invertible1x1Conv
    >>> actnorm = ActNorm(shift=[0.5, -1.0, 2.0], log_scale=[0.1, -0.2, 0.3])
    >>> conv = Invertible1x1Conv(**Invertible1x1Conv.initial_lu(3, seed=0))
    >>> folded = FoldedActNormConv1x1(actnorm, conv)
    >>> x = tf.random.stateless_normal([2, 4, 4, 3], seed=[0, 1])
    >>> chained = tf.reduce_max(tf.abs(folded.forward(x) - conv.forward(actnorm.forward(x))))
    >>> float(chained) < 1e-5, float(tf.reduce_max(tf.abs(folded.inverse(folded.forward(x)) - x))) < 1e-5
    (True, True)
    >>> round(float(folded.forward_log_det_jacobian(x, event_ndims=3)[0]), 4)  # 16 * (0.1 - 0.2 + 0.3), W a rotation
    3.2

    Raises:
      ValueError: `actnorm` not an `ActNorm`, `conv` not an `Invertible1x1Conv`, or the two of different
        channel counts or event ranks.
    """

    def __init__(self, actnorm: ActNorm, conv: Invertible1x1Conv, validate_args: bool = False, name: str | None = None):
        parameters = dict(locals())
        if not isinstance(actnorm, ActNorm):
            raise ValueError(f"FoldedActNormConv1x1: expected an ActNorm as `actnorm`, got {type(actnorm).__name__}.")
        if not isinstance(conv, Invertible1x1Conv):
            raise ValueError(
                f"FoldedActNormConv1x1: expected an Invertible1x1Conv as `conv`, got {type(conv).__name__}."
            )
        channels = actnorm.shift.shape[0]
        if channels is not None and channels != conv.channels:
            raise ValueError(
                f"FoldedActNormConv1x1: the ActNorm has {channels} channels but the 1x1 convolution "
                f"{conv.channels}; they must act on the same channels."
            )
        if actnorm.forward_min_event_ndims != conv.forward_min_event_ndims:
            raise ValueError(
                "FoldedActNormConv1x1: the ActNorm and the 1x1 convolution must have the same event_ndims, got "
                f"{actnorm.forward_min_event_ndims} and {conv.forward_min_event_ndims}."
            )
        if actnorm.dtype != conv.dtype:
            raise ValueError(
                f"FoldedActNormConv1x1: the ActNorm's dtype {actnorm.dtype.name} differs from the 1x1 "
                f"convolution's {conv.dtype.name}."
            )
        self._actnorm, self._conv = actnorm, conv
        self._event_ndims = conv.forward_min_event_ndims
        super().__init__(
            forward_min_event_ndims=self._event_ndims,
            validate_args=validate_args,
            dtype=conv.dtype,
            parameters=parameters,
            name=name or f"{actnorm.name}_{conv.name}",
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()  # the parts hold the parameters

    @property
    def actnorm(self) -> ActNorm:
        return self._actnorm

    @property
    def conv(self) -> Invertible1x1Conv:
        return self._conv

    def _apply(self, x, forward: bool, what: str):
        channels = self._conv.channels
        check_event_shape(x, [None] * (self._event_ndims - 1) + [channels], "FoldedActNormConv1x1", what)
        x = maybe_check_finite(x, self.validate_args, "FoldedActNormConv1x1", what)
        shift = tf.convert_to_tensor(self._actnorm.shift)
        log_scale = tf.convert_to_tensor(self._actnorm.log_scale)
        log_abs_det_w, inverse_weight = self._conv._log_abs_det_and_inverse_weight(need_inverse=not forward)
        # `matrix` is M (forward) or M^-1 (inverse); every position's channel row `v` maps to
        # `v @ matrix^T`, one matmul with the transpose inside it (a standalone transpose of a
        # small matrix is slower than the matmul on CPU), then one bias add.
        if forward:
            matrix = self._conv.weight() * tf.exp(log_scale)  # W diag(s): column k times s_k
            bias = tf.linalg.matvec(matrix, shift)  # M b, on the C x C side
        else:
            matrix = inverse_weight * tf.expand_dims(tf.exp(-log_scale), -1)  # diag(1/s) W^-1: row k over s_k
            bias = -shift
        flat = tf.reshape(x, [-1, channels])
        out = reshape_as(tf.nn.bias_add(tf.matmul(flat, matrix, transpose_b=True), bias), x)
        log_det = positions_of(x, self._event_ndims) * (tf.reduce_sum(log_scale) + log_abs_det_w)
        return out, (log_det if forward else -log_det)  # one scalar for every event (see `FusedBijector`)

    def _forward_and_compact_log_det(self, x):
        return self._apply(x, True, "x")

    def _inverse_and_compact_log_det(self, y):
        return self._apply(y, False, "y")

    def _forward_and_log_det(self, x):
        y, log_det = self._apply(x, True, "x")
        return y, over_batch(log_det, x, self._event_ndims)

    def _inverse_and_log_det(self, y):
        x, log_det = self._apply(y, False, "y")
        return x, over_batch(log_det, y, self._event_ndims)
