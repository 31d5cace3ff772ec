"""Shared machinery of tfp_flows bijectors: one-pass log-dets and shape checks."""
from __future__ import annotations

from typing import Sequence

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import cache_util, tensor_util

tfb = tfp.bijectors


class FusedBijector(tfb.Bijector):
    """A `tfb.Bijector` whose transform and log-det come from one computation.

    Subclasses implement `_forward_and_log_det(x)` and `_inverse_and_log_det(y)`,
    each returning `(output, log_det)` where `log_det` is the forward (resp.
    inverse) log-det-Jacobian reduced over `forward_min_event_ndims`.

    Why: TFP's default contract computes `inverse(y)` and
    `inverse_log_det_jacobian(y)` separately, so a coupling would run its
    conditioner network twice per `log_prob`. TFP's greedy-attribute cache
    (the mechanism `tfb.FFJORD` uses) stores the log-det computed during the
    transform, so `TransformedDistribution.log_prob` costs a single pass.
    """

    _cache = cache_util.BijectorCacheWithGreedyAttrs(
        forward_name="_augmented_forward", inverse_name="_augmented_inverse"
    )

    def _get_parameterization(self):
        # Equality (and so the cache key) by identity: bijectors are rebuilt on every call
        # from weights read in the current graph, and two equal-looking instances built in
        # different graphs (Keras traces a scratch graph first) must never share cached tensors.
        return id(self)

    def _augmented_forward(self, x):
        y, fldj = self._forward_and_log_det(x)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y):
        x, ildj = self._inverse_and_log_det(y)
        return x, {"ildj": ildj, "fldj": -ildj}

    def _forward(self, x):
        return self._forward_and_log_det(x)[0]

    def _inverse(self, y):
        return self._inverse_and_log_det(y)[0]

    def _forward_log_det_jacobian(self, x):
        attrs = self._cache.forward_attributes(x)
        if "fldj" not in attrs:
            self.forward(x)  # the greedy cache fills `attrs`
        if "fldj" not in attrs:  # `x` was converted to a new tensor on the way
            attrs.update(self._augmented_forward(x)[1])
        return attrs["fldj"]

    def _inverse_log_det_jacobian(self, y):
        attrs = self._cache.inverse_attributes(y)
        if "ildj" not in attrs:
            self.inverse(y)
        if "ildj" not in attrs:
            attrs.update(self._augmented_inverse(y)[1])
        return attrs["ildj"]

    def forward_and_log_det(self, x, name: str = "forward_and_log_det"):
        """Returns `(forward(x), forward_log_det_jacobian(x))` in one pass."""
        with tf.name_scope(name):
            y = self.forward(x)
            return y, self.forward_log_det_jacobian(x, self.forward_min_event_ndims)

    def inverse_and_log_det(self, y, name: str = "inverse_and_log_det"):
        """Returns `(inverse(y), inverse_log_det_jacobian(y))` in one pass."""
        with tf.name_scope(name):
            x = self.inverse(y)
            return x, self.inverse_log_det_jacobian(y, self.inverse_min_event_ndims)


def variables_of(network) -> tuple:
    """The variables of a Keras layer (or any object with `weights`), as `tf.Variable`s.

    Stored on a bijector, they make `bijector.trainable_variables` (and so a
    distribution's) list what its networks train, as TFP's own bijectors list theirs.
    A network that creates its weights on first call contributes those present now.
    """
    out = []
    for weight in getattr(network, "weights", ()) or ():
        inner = getattr(weight, "value", None)
        out.append(inner if isinstance(inner, tf.Variable) and not isinstance(weight, tf.Variable) else weight)
    return tuple(out)


def batch_shape_of(x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """The dynamic batch shape (int32) of `x` whose last `event_ndims` dims are the event."""
    shape = tf.shape(x)
    return shape[: tf.size(shape) - event_ndims]


def call_folded(fn, x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """`fn` applied to `x` with its batch dimensions folded into one, then unfolded.

    Conditioner networks (Keras layers) expect `[N, *event]`; bijectors take any number
    of leading batch dimensions, none included, as TFP's own bijectors do. The output's
    event is whatever `fn` returns after its first axis. A callable marked
    `takes_any_batch = True` (one that broadcasts a bound context over the batch
    dimensions itself, like WaveGlow's mel-conditioned networks) gets `x` as it is.
    """
    rank = x.shape.rank
    if rank == event_ndims + 1 or getattr(fn, "takes_any_batch", False):
        return fn(x)  # already [N, *event]: the common case, no reshapes
    batch_shape = batch_shape_of(x, event_ndims)
    folded = tf.reshape(x, tf.concat([[-1], tf.shape(x)[tf.rank(x) - event_ndims :]], axis=0))
    if rank is not None:
        folded.set_shape([None] + x.shape.as_list()[rank - event_ndims :])
    out = fn(folded)
    out_event = tf.shape(out)[1:]
    unfolded = tf.reshape(out, tf.concat([batch_shape, out_event], axis=0))
    if rank is not None:
        unfolded.set_shape(x.shape[: rank - event_ndims].concatenate(out.shape[1:]))
    return unfolded


def zeros_over_batch(x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """A log-det of zero for every batch member of `x`."""
    return tf.zeros(batch_shape_of(x, event_ndims), dtype=x.dtype)


def check_event_shape(
    x: tf.Tensor, expected: Sequence[int | None], owner: str, what: str = "input"
) -> None:
    """Raises `ValueError` when the static shape of `x` cannot end in `expected`.

    `None` entries in `expected` match any size. Unknown static dimensions of `x`
    are accepted (they are checked by TensorFlow at run time).
    """
    expected = tuple(expected)
    if not x.dtype.is_floating:
        raise ValueError(f"{owner}: expected a floating-point {what}, got dtype {x.dtype.name}.")
    shape = x.shape
    if shape.rank is None:
        return
    if shape.rank < len(expected):
        raise ValueError(
            f"{owner}: expected {what} with event shape {_fmt(expected)} "
            f"(rank >= {len(expected)}), got shape {_fmt(shape.as_list())}."
        )
    if not expected:
        return
    actual = shape.as_list()[-len(expected):]
    for want, got in zip(expected, actual):
        if want is not None and got is not None and want != got:
            raise ValueError(
                f"{owner}: expected {what} with event shape {_fmt(expected)}, "
                f"got shape {_fmt(shape.as_list())}."
            )


def _fmt(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def maybe_check_finite(x: tf.Tensor, validate_args: bool, owner: str, what: str = "input") -> tf.Tensor:
    """`x`, checked to be free of NaN and Inf when `validate_args` is set."""
    if not validate_args:
        return x
    return tf.debugging.check_numerics(x, message=f"{owner}: {what} must be finite (got NaN or Inf)")


def as_parameter(value, name: str, dtype=None):
    """A bijector parameter kept as given, to be read when used (TFP's `convert_nonref_to_tensor`).

    Tensors, `tf.Variable`s and `tfp.util.DeferredTensor`s are kept as they are, so a
    bijector built once follows later `assign`s and gradients reach the variables. A
    `keras.Variable` is kept as the `tf.Variable` that holds its value (TFP and
    `tf.Module.trainable_variables` see `tf.Variable`s). Python numbers and arrays become
    tensors (float32 unless `dtype` says otherwise; arrays keep their float dtype).
    """
    inner = getattr(value, "value", None)
    if isinstance(inner, tf.Variable) and not isinstance(value, tf.Variable):
        value = inner  # a keras.Variable (TensorFlow backend)
    if dtype is None and not tensor_util.is_ref(value) and not tf.is_tensor(value):
        dtype = getattr(value, "dtype", None)
        dtype = dtype if dtype is not None and tf.as_dtype(dtype).is_floating else tf.float32
    return tensor_util.convert_nonref_to_tensor(value, dtype=dtype, name=name)
