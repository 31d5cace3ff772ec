"""Input checks of the public model entries: errors that say what was expected and what came.

Eagerly a check raises `ValueError` at once; inside a `tf.function` it becomes a run-time
assertion (`tf.errors.InvalidArgumentError` with the same message). XLA drops
assertions, so compiled training steps rely on the eager check of the first batch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors._base import check_event_shape


def as_real_tensor(value, owner: str, what: str, dtype=tf.float32) -> tf.Tensor:
    """`value` as a `dtype` (float32) tensor; refuses non-numeric dtypes by name."""
    try:
        tensor = tf.convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: expected a numeric array for {what}, got {type(value).__name__} ({error}).") from None
    if not (tensor.dtype.is_floating or tensor.dtype.is_integer) or tensor.dtype.is_bool:
        raise ValueError(f"{owner}: expected {what} of a real (float or integer) dtype, got dtype {tensor.dtype.name}.")
    return tf.cast(tensor, dtype)


def check_batch(x: tf.Tensor, event_shape: Sequence[int], owner: str, what: str) -> None:
    """Event shape (after any number of batch dimensions, none included) and a non-empty batch, from the static shape."""
    check_event_shape(x, event_shape, owner, what)
    batch = x.shape.as_list()[: x.shape.rank - len(event_shape)]
    if any(d == 0 for d in batch):
        raise ValueError(f"{owner}: expected at least one example in {what}, got an empty batch of shape {tuple(x.shape.as_list())}.")


def check_values(x: tf.Tensor, owner: str, what: str, low: float | None = None, high: float | None = None,
                 high_inclusive: bool = True, integer: bool = False) -> tf.Tensor:
    """Finite values (and in `[low, high]` / integer-valued when asked); returns `x`, checked."""
    finite = tf.reduce_all(tf.math.is_finite(x))
    conditions = [(finite, f"{what} must be finite, got NaN or Inf")]
    if low is not None or high is not None:
        in_range = tf.constant(True)
        if low is not None:
            in_range = tf.logical_and(in_range, tf.reduce_all(x >= low))
        if high is not None:
            in_range = tf.logical_and(in_range, tf.reduce_all(x <= high if high_inclusive else x < high))
        if high is None:
            conditions.append((in_range, f"{what} must be >= {low}"))
        elif low is None:
            conditions.append((in_range, f"{what} must be {'<=' if high_inclusive else '<'} {high}"))
        else:
            bracket = "]" if high_inclusive else ")"
            conditions.append((in_range, f"{what} must lie in [{low}, {high}{bracket}"))
    if integer:
        conditions.append((tf.reduce_all(tf.equal(x, tf.round(x))), f"{what} must be integer-valued (discrete levels)"))
    if tf.executing_eagerly():
        for ok, message in conditions:
            if not bool(ok):
                raise ValueError(f"{owner}: {message}, got {_describe(x)}.")
        return x
    # The raw op, not `tf.debugging.Assert`: that one wraps an assertion with float data in a `tf.cond`
    # (two more graph functions to trace and lower per check) to spare a GPU copying two scalars.
    asserts = [
        tf.raw_ops.Assert(condition=ok, data=[f"{owner}: {message}; min, max:", tf.reduce_min(x), tf.reduce_max(x)], summarize=3)
        for ok, message in conditions
    ]
    with tf.control_dependencies(asserts):
        return tf.identity(x)


def check_num_samples(n, owner: str):
    if isinstance(n, (bool, np.bool_)):
        raise ValueError(f"{owner}: expected num_samples as an integer >= 1, got {n!r}.")
    if isinstance(n, (int, np.integer)):
        if n < 1:
            raise ValueError(f"{owner}: expected num_samples >= 1, got {n}.")
        return int(n)
    n = tf.convert_to_tensor(n)
    if not n.dtype.is_integer or n.shape.rank not in (0, None):
        raise ValueError(f"{owner}: expected num_samples as an integer scalar, got {n.dtype.name} of shape {n.shape}.")
    if tf.executing_eagerly():
        return check_num_samples(int(n), owner)
    with tf.control_dependencies([tf.debugging.Assert(n >= 1, [f"{owner}: expected num_samples >= 1, got", n])]):
        return tf.identity(n)


def check_sample_shape(n, owner: str):
    """An int, a scalar integer tensor or a sequence of ints >= 1: a TFP sample shape."""
    if isinstance(n, (tuple, list)) or (isinstance(n, np.ndarray) and n.ndim == 1):
        if len(n) == 0:
            return ()
        return tuple(check_num_samples(d, owner) for d in n)
    if isinstance(n, tf.TensorShape):
        return check_sample_shape(n.as_list(), owner)
    return check_num_samples(n, owner)


def check_temperature(t, owner: str):
    t = tf.cast(as_real_tensor(t, owner, "temperature"), tf.float32)
    if t.shape.rank not in (0, None):
        raise ValueError(f"{owner}: expected temperature as a scalar, got shape {t.shape}.")
    return check_values(t, owner, "temperature", low=0.0)


def _describe(x: tf.Tensor) -> str:
    values = x.numpy()
    finite = values[np.isfinite(values)]
    parts = [f"shape {tuple(values.shape)}"]
    if finite.size:
        parts.append(f"min {finite.min():g}, max {finite.max():g}")
    if finite.size < values.size:
        parts.append(f"{values.size - finite.size} non-finite values")
    return ", ".join(parts)
