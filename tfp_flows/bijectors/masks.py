"""Masks that split an event into the conditioning part `a` and the transformed part `b`.

A coupling computes `y_b = g(x_b; conditioner(x_a))`, `y_a = x_a`. Two families:

* `ChannelMask`: a partition of the last axis (channels of an image, entries of a
  vector). `x_a` and `x_b` are the gathered sub-tensors, so the conditioner sees
  only `x_a` and outputs parameters for `x_b` alone.
* `CheckerboardMask`: RealNVP's spatial mask `m[i, j] = (i + j) % 2 == parity`.
  `x_a = where(m, x, 0)` and `x_b = x` keep the full image shape; the conditioner sees the
  masked image and its output is applied where `m == 0` only.
"""
from __future__ import annotations

import abc
from typing import Sequence

import numpy as np
import tensorflow as tf

MASK_KINDS = ("channel", "halves", "odd_even", "checkerboard")


class Mask(abc.ABC):
    """Base class: `split`, `merge` and the per-event log-det reduction.

    Subclasses (`ChannelMask`, `CheckerboardMask`, `SequenceChannelMask`) raise `ValueError` for event
    shapes they cannot split.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import make_mask
    >>> mask = make_mask("halves", (4,))
    >>> x_a, x_b = mask.split(tf.constant([1.0, 2.0, 3.0, 4.0]))
    >>> x_a.numpy().tolist(), mask.merge(x_a, x_b).numpy().tolist()
    ([1.0, 2.0], [1.0, 2.0, 3.0, 4.0])
    """

    event_shape: tuple[int, ...]

    @property
    @abc.abstractmethod
    def a_event_shape(self) -> tuple[int, ...]:
        """Event shape of `x_a`, the conditioner's input."""

    @property
    @abc.abstractmethod
    def b_event_shape(self) -> tuple[int, ...]:
        """Event shape of `x_b`, and of every coupling parameter."""

    @abc.abstractmethod
    def split(self, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns `(x_a, x_b)`."""

    @abc.abstractmethod
    def merge(self, x_a: tf.Tensor, x_b: tf.Tensor) -> tf.Tensor:
        """Inverse of `split`: the full event from its two parts."""

    def sum_log_det(self, elementwise: tf.Tensor) -> tf.Tensor:
        """Sums elementwise log-dets of `x_b` over the event, counting transformed entries only."""
        axes = list(range(-len(self.b_event_shape), 0))
        return tf.reduce_sum(elementwise, axis=axes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event_shape={self.event_shape})"


class ChannelMask(Mask):
    """Partition of the last axis; `conditioning[i]` is True where entry `i` belongs to `x_a`.

    Args:
      event_shape: `(..., C)`; the partition is over the last axis.
      conditioning: `C` booleans, True for the entries of `x_a`.

    Raises:
      ValueError: `conditioning` not of shape `(C,)`, or one part empty.

    >>> from tfp_flows.bijectors import ChannelMask
    >>> ChannelMask((4,), [True, False, True, False]).a_event_shape
    (2,)
    """

    def __init__(self, event_shape: Sequence[int], conditioning: Sequence[bool]):
        self.event_shape = _as_event_shape(event_shape, "ChannelMask")
        conditioning = np.asarray(conditioning, dtype=bool)
        n = self.event_shape[-1]
        if conditioning.shape != (n,):
            raise ValueError(
                f"ChannelMask: expected a boolean pattern of shape ({n},) for event shape "
                f"{self.event_shape}, got shape {conditioning.shape}."
            )
        if conditioning.all() or not conditioning.any():
            raise ValueError(
                "ChannelMask: the pattern must put at least one entry in each part, "
                f"got {conditioning.astype(int).tolist()}."
            )
        self.conditioning = conditioning
        self._a_idx = np.flatnonzero(conditioning)
        self._b_idx = np.flatnonzero(~conditioning)
        order = np.concatenate([self._a_idx, self._b_idx])
        self._merge_idx = np.argsort(order)
        # Contiguous blocks split and merge with slices instead of gathers.
        self._a_first = _is_range(order, 0, n)
        self._b_first = _is_range(np.concatenate([self._b_idx, self._a_idx]), 0, n)

    @property
    def a_event_shape(self):
        return self.event_shape[:-1] + (len(self._a_idx),)

    @property
    def b_event_shape(self):
        return self.event_shape[:-1] + (len(self._b_idx),)

    def split(self, x):
        na, nb = len(self._a_idx), len(self._b_idx)
        if self._a_first:  # one split op (and one concat in its gradient) rather than two slices
            x_a, x_b = tf.split(x, [na, nb], axis=-1)
            return x_a, x_b
        if self._b_first:
            x_b, x_a = tf.split(x, [nb, na], axis=-1)
            return x_a, x_b
        return tf.gather(x, self._a_idx, axis=-1), tf.gather(x, self._b_idx, axis=-1)

    def merge(self, x_a, x_b):
        if self._a_first:
            return tf.concat([x_a, x_b], axis=-1)
        if self._b_first:
            return tf.concat([x_b, x_a], axis=-1)
        return tf.gather(tf.concat([x_a, x_b], axis=-1), self._merge_idx, axis=-1)


class CheckerboardMask(Mask):
    """Spatial checkerboard over `(H, W, C)` images: pixel `(i, j)` conditions when `(i + j) % 2 == parity`.

    Args:
      event_shape: `(H, W, C)`.
      parity: which colour of the checkerboard conditions (0 or 1).

    Raises:
      ValueError: an event shape that is not an image, or fewer than 2 pixels.

    >>> from tfp_flows.bijectors import CheckerboardMask
    >>> CheckerboardMask((4, 4, 1)).b_event_shape  # both parts keep the image shape, masked
    (4, 4, 1)
    """

    def __init__(self, event_shape: Sequence[int], parity: int = 0):
        self.event_shape = _as_event_shape(event_shape, "CheckerboardMask")
        if len(self.event_shape) != 3:
            raise ValueError(
                f"CheckerboardMask: expected an image event shape (H, W, C), got {self.event_shape}."
            )
        _check_parity(parity, "CheckerboardMask")
        height, width, _ = self.event_shape
        if height * width < 2:
            raise ValueError(f"CheckerboardMask: needs at least 2 pixels, got event shape {self.event_shape}.")
        self.parity = int(parity) % 2
        ii, jj = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
        self._pattern = ((ii + jj) % 2 == self.parity).astype(np.float32)[..., None]

    @property
    def a_event_shape(self):
        return self.event_shape

    @property
    def b_event_shape(self):
        return self.event_shape

    def _conditions(self) -> tf.Tensor:
        return tf.constant(self._pattern > 0)  # (H, W, 1), True where a pixel conditions

    # `tf.where`, not `x * m`: an Inf or NaN pixel must stay where it is, not turn its
    # neighbours' products (Inf * 0) into NaN.
    def split(self, x):
        return tf.where(self._conditions(), x, tf.zeros([], x.dtype)), x

    def merge(self, x_a, x_b):
        return tf.where(self._conditions(), x_a, x_b)

    def sum_log_det(self, elementwise):
        transformed = tf.where(self._conditions(), tf.zeros([], elementwise.dtype), elementwise)
        return tf.reduce_sum(transformed, axis=[-3, -2, -1])


def make_mask(kind: str | Mask, event_shape: Sequence[int] | None, parity: int = 0, owner: str = "make_mask") -> Mask:
    """Builds a mask by name.

    Args:
      kind: "channel" or "halves" (first half of the last axis conditions),
        "odd_even" (even entries of the last axis condition), "checkerboard"
        (images only), or a `Mask` instance (returned unchanged).
      event_shape: `(D,)` for vectors, `(H, W, C)` for images.
      parity: 0 or 1; 1 swaps the roles of the two parts, so alternating
        parity between successive couplings transforms every entry.
      owner: who asks (a coupling's class name), for the error messages.

    Raises:
      ValueError: an unknown `kind`, a missing `event_shape`, or a `Mask` built for another event shape.

    >>> from tfp_flows.bijectors import make_mask
    >>> make_mask("checkerboard", (4, 4, 1), parity=1)
    CheckerboardMask(event_shape=(4, 4, 1))
    """
    if isinstance(kind, Mask):
        if event_shape is not None and tuple(event_shape) != kind.event_shape:
            raise ValueError(
                f"{owner}: the mask was built for event shape {kind.event_shape}, "
                f"but event_shape={tuple(event_shape)} was given."
            )
        return kind
    if event_shape is None:
        raise ValueError(f"{owner}: mask {kind!r} needs the event_shape, got None.")
    event_shape = _as_event_shape(event_shape, owner)
    _check_parity(parity, owner)
    if kind == "checkerboard":
        return CheckerboardMask(event_shape, parity)
    n = event_shape[-1]
    if kind in ("channel", "halves"):
        if n < 2:
            raise ValueError(
                f"{owner}: a {kind!r} mask needs at least 2 entries on the last axis, "
                f"got event shape {event_shape}."
            )
        pattern = np.arange(n) < n // 2
    elif kind == "odd_even":
        if n < 2:
            raise ValueError(
                f"{owner}: an 'odd_even' mask needs at least 2 entries on the last axis, "
                f"got event shape {event_shape}."
            )
        pattern = np.arange(n) % 2 == 0
    else:
        raise ValueError(f"{owner}: unknown mask {kind!r}; expected one of {MASK_KINDS}.")
    return ChannelMask(event_shape, pattern if parity == 0 else ~pattern)


def _as_event_shape(event_shape, owner: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in event_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: expected event_shape as positive integers, got {event_shape!r}.") from None
    if not shape or any(d <= 0 for d in shape) or isinstance(event_shape, str):
        raise ValueError(f"{owner}: expected event_shape as positive integers, got {event_shape!r}.")
    return shape


def _check_parity(parity, owner: str) -> None:
    if isinstance(parity, bool) or parity not in (0, 1) or not isinstance(parity, (int, np.integer)):
        raise ValueError(f"{owner}: expected parity 0 or 1, got {parity!r}.")


def _is_range(order: np.ndarray, start: int, stop: int) -> bool:
    return np.array_equal(order, np.arange(start, stop))
