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

    def _augmented_forward(self, x, **kwargs):
        y, fldj = self._forward_and_log_det(x, **kwargs)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x, ildj = self._inverse_and_log_det(y, **kwargs)
        return x, {"ildj": ildj, "fldj": -ildj}

    # Keyword arguments (`conditional_input=c` of conditional bijectors) reach the hooks as TFP
    # passes them; TFP's cache keys every entry by them, so log-dets cached under one `c` are
    # never returned for another.
    def _forward(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)[0]

    def _inverse(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)[0]

    def _forward_log_det_jacobian(self, x, **kwargs):
        attrs = self._cache.forward_attributes(x, **kwargs)
        if "fldj" not in attrs:
            self.forward(x, **kwargs)  # the greedy cache fills `attrs`
        if "fldj" not in attrs:  # `x` was converted to a new tensor on the way
            attrs.update(self._augmented_forward(x, **kwargs)[1])
        return attrs["fldj"]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        attrs = self._cache.inverse_attributes(y, **kwargs)
        if "ildj" not in attrs:
            self.inverse(y, **kwargs)
        if "ildj" not in attrs:
            attrs.update(self._augmented_inverse(y, **kwargs)[1])
        return attrs["ildj"]

    # Models' own passes (`walk`) ask for the log-det in a compact form: any tensor that
    # broadcasts against the batch shape, or None for zero. A bijector whose log-det is the same
    # for every event (ActNorm, a 1x1 convolution) returns a scalar and one that has none (a
    # squeeze) returns None: spreading them over the batch and summing them per example would
    # add a few ops each to the traced graph and to its gradient, for nothing.
    def _forward_and_compact_log_det(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)

    def _inverse_and_compact_log_det(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)

    def forward_and_log_det(self, x, name: str = "forward_and_log_det", **kwargs):
        """Returns `(forward(x), forward_log_det_jacobian(x))` in one pass."""
        with tf.name_scope(name):
            y = self.forward(x, **kwargs)
            return y, self.forward_log_det_jacobian(x, self.forward_min_event_ndims, **kwargs)

    def inverse_and_log_det(self, y, name: str = "inverse_and_log_det", **kwargs):
        """Returns `(inverse(y), inverse_log_det_jacobian(y))` in one pass."""
        with tf.name_scope(name):
            x = self.inverse(y, **kwargs)
            return x, self.inverse_log_det_jacobian(y, self.inverse_min_event_ndims, **kwargs)



class SharedLogDetBijector(FusedBijector):
    """A `FusedBijector` whose log-det is the same for every event (ActNorm, 1x1 convolutions).

    Subclasses set `self._event_ndims` and implement `_apply(value, forward, what) -> (out,
    log_det)` with a scalar `log_det`; models' own passes take the scalar as it is, TFP's
    methods get it spread over the batch.
    """

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
    if x.shape.rank is not None:  # a static slice: one op instead of the rank arithmetic
        return shape[: x.shape.rank - event_ndims]
    return shape[: tf.size(shape) - event_ndims]


def over_batch(log_det: tf.Tensor | None, x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """A compact log-det (a scalar shared by every event, or None for zero) given to every batch member of `x`."""
    if log_det is None:
        return zeros_over_batch(x, event_ndims)
    return tf.fill(batch_shape_of(x, event_ndims), log_det)


def positions_of(x: tf.Tensor, event_ndims: int) -> tf.Tensor | float:
    """The number of positions per event of `x`: the product of its event dims but the last (channels).

    A Python number when those dims are static (a constant in the graph), else computed from `tf.shape`.
    """
    dims = x.shape[x.shape.rank - event_ndims : -1] if x.shape.rank is not None else tf.TensorShape(None)
    if dims.is_fully_defined():
        return float(dims.num_elements())
    return tf.cast(tf.reduce_prod(tf.shape(x)[-event_ndims:-1]), x.dtype)


def reshape_as(t: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
    """`t` reshaped to the shape of `x`: a constant target shape when at most one dim of `x` is unknown."""
    if x.shape.rank is not None and sum(d is None for d in x.shape.as_list()) <= 1:
        return tf.reshape(t, [-1 if d is None else d for d in x.shape.as_list()])
    out = tf.reshape(t, tf.shape(x))
    out.set_shape(x.shape)
    return out


def reshape_batch(x: tf.Tensor, batch_ndims: int, event_shape: Sequence[int]) -> tf.Tensor:
    """`x` with its first `batch_ndims` dims kept and the rest reshaped to `event_shape` (static ints).

    With at most one batch dim of unknown size, the target shape is a constant (that dim -1):
    no shape arithmetic in the graph.
    """
    event_shape = [int(d) for d in event_shape]
    if x.shape.rank is not None:
        batch = x.shape[:batch_ndims].as_list()
        if sum(d is None for d in batch) <= 1:
            return tf.reshape(x, [-1 if d is None else d for d in batch] + event_shape)
    return tf.reshape(x, tf.concat([tf.shape(x)[:batch_ndims], event_shape], axis=0))


def call_folded(fn, x: tf.Tensor, event_ndims: int, conditional_input: tf.Tensor | None = None) -> tf.Tensor:
    """`fn` applied to `x` with its batch dimensions folded into one, then unfolded.

    Conditioner networks (Keras layers) expect `[N, *event]`; bijectors take any number
    of leading batch dimensions, none included, as TFP's own bijectors do. The output's
    event is whatever `fn` returns after its first axis. A callable marked
    `takes_any_batch = True` (one that broadcasts a bound context over the batch
    dimensions itself, like WaveGlow's mel-conditioned networks) gets `x` as it is.

    With `conditional_input` `c` (shape `[*batch_c, C]`, its batch already broadcast to
    the batch of `x` by `broadcast_condition`), `fn` is called as
    `fn(x_folded, conditional_input=c_folded)` with `c_folded` of shape `[N, C]`.
    """
    rank = x.shape.rank
    if conditional_input is None:
        call = fn
    else:
        def call(folded):
            condition = tf.reshape(conditional_input, tf.stack([-1, tf.shape(conditional_input)[-1]]))
            condition.set_shape([None, conditional_input.shape[-1]])
            return fn(folded, conditional_input=condition)
    if rank == event_ndims + 1 or (conditional_input is None and getattr(fn, "takes_any_batch", False)):
        return call(x)  # already [N, *event]: the common case, no reshapes
    batch_shape = batch_shape_of(x, event_ndims)
    folded = tf.reshape(x, tf.concat([[-1], tf.shape(x)[tf.rank(x) - event_ndims :]], axis=0))
    if rank is not None:
        folded.set_shape([None] + x.shape.as_list()[rank - event_ndims :])
    out = call(folded)
    out_event = tf.shape(out)[1:]
    unfolded = tf.reshape(out, tf.concat([batch_shape, out_event], axis=0))
    if rank is not None:
        unfolded.set_shape(x.shape[: rank - event_ndims].concatenate(out.shape[1:]))
    return unfolded


def broadcast_condition(x: tf.Tensor, event_ndims: int, conditional_input, owner: str, validate_args: bool = False):
    """`(x, c)` with their batch shapes broadcast to a common one (`c` is `[*batch_c, C]`).

    TFP's conditional bijectors (`MaskedAutoregressiveFlow`) take any `conditional_input`
    whose batch broadcasts against that of `x`: one context for a whole batch, one per
    example, or a grid of contexts against one `x`. When the static shapes already agree
    (the common case inside models) nothing is added to the graph.
    """
    c = tf.convert_to_tensor(conditional_input)
    if c.dtype != x.dtype:
        if not (c.dtype.is_floating or c.dtype.is_integer) or c.dtype.is_bool:
            raise ValueError(f"{owner}: expected a real conditional_input, got dtype {c.dtype.name}.")
        c = tf.cast(c, x.dtype)
    if c.shape.rank == 0:
        raise ValueError(f"{owner}: expected conditional_input of shape [..., C] (C >= 1), got a scalar.")
    c = maybe_check_finite(c, validate_args, owner, "conditional_input")
    x_batch = x.shape[: x.shape.rank - event_ndims] if x.shape.rank is not None else tf.TensorShape(None)
    c_batch = c.shape[:-1]
    try:
        static_joint = tf.broadcast_static_shape(x_batch, c_batch)
    except ValueError:
        raise ValueError(
            f"{owner}: the batch shape {c_batch.as_list()} of conditional_input (shape {c.shape.as_list()}) "
            f"does not broadcast against the batch shape {x_batch.as_list()} of the input (shape {x.shape.as_list()})."
        ) from None
    if x_batch.is_fully_defined() and c_batch.is_fully_defined() and x_batch == c_batch:
        return x, c
    joint = tf.broadcast_dynamic_shape(batch_shape_of(x, event_ndims), tf.shape(c)[:-1])
    x_b = tf.broadcast_to(x, tf.concat([joint, tf.shape(x)[tf.rank(x) - event_ndims :]], axis=0))
    c_b = tf.broadcast_to(c, tf.concat([joint, tf.shape(c)[-1:]], axis=0))
    if x.shape.rank is not None:
        x_b.set_shape(static_joint.concatenate(x.shape[x.shape.rank - event_ndims :]))
    c_b.set_shape(static_joint.concatenate(c.shape[-1:]))
    return x_b, c_b


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


def as_parameter(value, name: str, dtype=None, owner: str = "bijector"):
    """A bijector parameter kept as given, to be read when used (TFP's `convert_nonref_to_tensor`).

    Tensors, `tf.Variable`s and `tfp.util.DeferredTensor`s are kept as they are, so a
    bijector built once follows later `assign`s and gradients reach the variables. A
    `keras.Variable` is kept as the `tf.Variable` that holds its value (TFP and
    `tf.Module.trainable_variables` see `tf.Variable`s). Python numbers and arrays become
    tensors (float32 unless `dtype` says otherwise; arrays keep their float dtype); anything
    else is a `ValueError` naming `owner` and `name`.
    """
    if value is None:
        raise ValueError(f"{owner}: expected {name} as a real-valued array, tensor or variable, got None.")
    inner = getattr(value, "value", None)
    if isinstance(inner, tf.Variable) and not isinstance(value, tf.Variable):
        value = inner  # a keras.Variable (TensorFlow backend)
    if dtype is None and not tensor_util.is_ref(value) and not tf.is_tensor(value):
        dtype = getattr(value, "dtype", None)
        dtype = dtype if dtype is not None and tf.as_dtype(dtype).is_floating else tf.float32
    try:
        return tensor_util.convert_nonref_to_tensor(value, dtype=dtype, name=name)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: expected {name} as a real-valued array, tensor or variable, got "
                         f"{type(value).__name__} {value!r:.80}.") from None
