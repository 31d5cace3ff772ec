"""Glow's ActNorm followed by its invertible 1x1 convolution, folded into one affine map per position."""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from tfp_flows.bijectors._base import SharedLogDetBijector, check_event_shape, maybe_check_finite, positions_of, reshape_as
from tfp_flows.bijectors.actnorm import ActNorm
from tfp_flows.bijectors.invertible_1x1_conv import Invertible1x1Conv, log_abs_det_and_matrix


class FoldedActNormConv1x1(SharedLogDetBijector):
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
    (two triangular solves) or QR, as `Invertible1x1Conv` computes them. `fold_steps` folds
    several pairs whose matrices are computed together (Glow's steps of one level).

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
        self._stack, self._stack_index = None, None  # set by `fold_steps`
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
        if self._stack is not None and not tf.executing_eagerly():
            matrix, bias, log_det = self._stack.parameters(self._stack_index, forward)
        else:
            matrix, bias, log_det = folded_parameters(
                tf.convert_to_tensor(self._actnorm.shift), tf.convert_to_tensor(self._actnorm.log_scale),
                self._conv._read_parameters(), forward,
            )
        # Every position's channel row `v` maps to `v @ matrix^T`, one matmul with the transpose
        # inside it (a standalone transpose of a small matrix is slower than the matmul on CPU),
        # then one bias add.
        flat = tf.reshape(x, [-1, channels])
        out = reshape_as(tf.nn.bias_add(tf.matmul(flat, matrix, transpose_b=True), bias), x)
        log_det = positions_of(x, self._event_ndims) * log_det
        return out, (log_det if forward else -log_det)  # one scalar for every event (see `FusedBijector`)



def folded_parameters(shift, log_scale, conv_parameters: dict, forward: bool):
    """`(M, M b, sum(log_s) + log|det W|)` (`forward`) or `(M^-1, -b, sum(log_s) + log|det W|)`.

    `shift` `b` and `log_scale` `log_s` (`[..., C]`) are the ActNorm's, `conv_parameters`
    the 1x1 convolution's (`Invertible1x1Conv._read_parameters`); leading dims stack several folds.
    """
    log_abs_det_w, weight = log_abs_det_and_matrix(conv_parameters, forward)
    if forward:
        scale = tf.exp(log_scale)
        matrix = weight * (scale if scale.shape.rank == 1 else tf.expand_dims(scale, -2))  # W diag(s): column k times s_k
        bias = tf.linalg.matvec(matrix, shift)  # M b, on the C x C side
    else:
        matrix = weight * tf.expand_dims(tf.exp(-log_scale), -1)  # M^-1 = diag(1/s) W^-1: row k over s_k
        bias = -shift
    return matrix, bias, tf.reduce_sum(log_scale, axis=-1) + log_abs_det_w


def fold_steps(actnorms: Sequence[ActNorm], convs: Sequence[Invertible1x1Conv]) -> list[FoldedActNormConv1x1]:
    """`FoldedActNormConv1x1(actnorm, conv)` of each pair, their C x C matrices computed together.

    The steps of one Glow level all fold pairs of one channel count. In a graph (`fit`, a
    `tf.function`), the first fold that runs computes the matrices of all of them as one stacked
    computation, once per direction, and the others take theirs from it: a level of K steps
    traces one op per stage instead of K, in the pass and in its gradient, with the same
    arithmetic. Eagerly each fold computes its own. Pairs that cannot stack (other channel
    counts, dtypes or parametrisations) are folded one by one.

    Args:
      actnorms: the `ActNorm` of each pair, applied first.
      convs: the `Invertible1x1Conv` of each pair, applied after its ActNorm.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import ActNorm, Invertible1x1Conv
    >>> from tfp_flows.bijectors.actnorm_conv1x1 import fold_steps
    >>> pairs = [(ActNorm([0.1, 0.2], [0.0, 0.3]), Invertible1x1Conv(**Invertible1x1Conv.initial_lu(2, seed=s))) for s in range(3)]
    >>> folds = fold_steps(*zip(*pairs))
    >>> run = tf.function(lambda x: [f.forward(x) for f in folds])
    >>> x = tf.ones([1, 2, 2, 2])
    >>> all(float(tf.reduce_max(tf.abs(a - f.forward(x)))) < 1e-6 for a, f in zip(run(x), folds))
    True

    Raises:
      ValueError: as `FoldedActNormConv1x1`, for a pair that does not fold.
    """
    folds = [FoldedActNormConv1x1(actnorm, conv) for actnorm, conv in zip(actnorms, convs)]
    kinds = {(f.conv.channels, f.dtype, f.conv.is_lu, f.forward_min_event_ndims) for f in folds}
    if len(folds) > 1 and len(kinds) == 1:
        stack = _StackedFolds(folds)
        for index, fold in enumerate(folds):
            fold._stack, fold._stack_index = stack, index
    return folds


class _StackedFolds:
    """The parameters of several folds, computed together once per graph, replica and direction.

    Results are kept only for graphs (a traced pass reads every parameter once, where it
    starts); eagerly each fold computes its own, so a later update of the variables is always seen.
    """

    def __init__(self, folds: list[FoldedActNormConv1x1]):
        self._folds = folds
        self._computed = {}

    def parameters(self, index: int, forward: bool):
        key = (tf.compat.v1.get_default_graph(), tf.distribute.get_replica_context(), forward)
        if key not in self._computed:
            conv_parameters = [fold.conv._read_parameters() for fold in self._folds]
            matrices, biases, log_dets = folded_parameters(
                tf.stack([tf.convert_to_tensor(fold.actnorm.shift) for fold in self._folds]),
                tf.stack([tf.convert_to_tensor(fold.actnorm.log_scale) for fold in self._folds]),
                {name: tf.stack([p[name] for p in conv_parameters]) for name in conv_parameters[0]},
                forward,
            )
            self._computed[key] = list(zip(tf.unstack(matrices), tf.unstack(biases), tf.unstack(log_dets)))
        return self._computed[key][index]
