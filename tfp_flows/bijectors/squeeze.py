"""RealNVP's squeeze: 2x2 space-to-depth."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.bijectors._base import FusedBijector, batch_shape_of, check_event_shape, zeros_over_batch


class Squeeze(FusedBijector):
    """Trades spatial resolution for channels: `(H, W, C) <-> (H/f, W/f, f*f*C)`.

    Forward:  `y[i, j, (p*f + q)*C + c] = x[f*i + p, f*j + q, c]` (`tf.nn.space_to_depth`)
    Inverse:  `tf.nn.depth_to_space`
    Log-det:  0 (a permutation of the entries).

    Why our own: TFP has no space-to-depth bijector. Extra batch dimensions are folded
    into one for the 4-D op and restored after.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import Squeeze
    >>> Squeeze().forward(tf.zeros([5, 8, 8, 1])).shape
    TensorShape([5, 4, 4, 4])

    Args:
      factor: `f`, the side of the space-to-depth block (2 in RealNVP and Glow).

    Raises:
      ValueError: `factor < 2`, height or width not divisible by `f` (forward), or channels not divisible by
        `f * f` (inverse).
    """

    def __init__(self, factor: int = 2, validate_args: bool = False, name: str = "squeeze"):
        parameters = dict(locals())
        if not isinstance(factor, int) or factor < 2:
            raise ValueError(f"Squeeze: expected an integer factor >= 2, got {factor!r}.")
        self._factor = factor
        super().__init__(
            forward_min_event_ndims=3,
            is_constant_jacobian=True,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def factor(self) -> int:
        return self._factor

    def _check(self, x, what):
        check_event_shape(x, [None, None, None], "Squeeze", what)
        if x.shape.rank is None:  # checked by the ops at run time
            return
        height, width, channels = x.shape[-3:]
        f = self._factor
        if what == "x" and ((height is not None and height % f) or (width is not None and width % f)):
            raise ValueError(
                f"Squeeze: expected height and width divisible by {f}, got event shape ({height}, {width}, {channels})."
            )
        if what == "y" and channels is not None and channels % (f * f):
            raise ValueError(
                f"Squeeze: expected channels divisible by {f * f} to unsqueeze, got event shape "
                f"({height}, {width}, {channels})."
            )

    def _rearrange(self, x, op):
        if x.shape.rank == 4:  # one batch dimension, what the op takes: no reshapes
            return op(x, self._factor)
        batch_shape = batch_shape_of(x, 3)
        event_shape = tf.shape(x)[-3:]
        out = op(tf.reshape(x, tf.concat([[-1], event_shape], axis=0)), self._factor)
        return tf.reshape(out, tf.concat([batch_shape, tf.shape(out)[-3:]], axis=0))

    def _forward_and_compact_log_det(self, x):
        self._check(x, "x")
        return _with_static_event(self._rearrange(x, tf.nn.space_to_depth), x, self._factor, True), None

    def _inverse_and_compact_log_det(self, y):
        self._check(y, "y")
        return _with_static_event(self._rearrange(y, tf.nn.depth_to_space), y, self._factor, False), None

    def _forward_and_log_det(self, x):
        return self._forward_and_compact_log_det(x)[0], zeros_over_batch(x, 3)

    def _inverse_and_log_det(self, y):
        return self._inverse_and_compact_log_det(y)[0], zeros_over_batch(y, 3)

    def _forward_event_shape(self, input_shape):
        return _squeezed(input_shape, self._factor, True)

    def _inverse_event_shape(self, output_shape):
        return _squeezed(output_shape, self._factor, False)

    def _forward_event_shape_tensor(self, input_shape):
        h, w, c = input_shape[-3], input_shape[-2], input_shape[-1]
        f = self._factor
        return tf.stack([h // f, w // f, c * f * f])

    def _inverse_event_shape_tensor(self, output_shape):
        h, w, c = output_shape[-3], output_shape[-2], output_shape[-1]
        f = self._factor
        return tf.stack([h * f, w * f, c // (f * f)])


def _squeezed(shape: tf.TensorShape, f: int, forward: bool) -> tf.TensorShape:
    shape = tf.TensorShape(shape)
    if shape.rank is None:
        return shape
    h, w, c = shape[-3:]
    if forward:
        new = [None if h is None else h // f, None if w is None else w // f, None if c is None else c * f * f]
    else:
        new = [None if h is None else h * f, None if w is None else w * f, None if c is None else c // (f * f)]
    return shape[:-3].concatenate(new)


def _with_static_event(out, inp, f, forward):
    if inp.shape.rank is not None:
        out.set_shape(_squeezed(inp.shape, f, forward))
    return out
