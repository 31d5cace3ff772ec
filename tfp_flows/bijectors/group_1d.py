"""WaveGlow's 1-D squeeze: a waveform `(T,)` grouped into `n_group` channels `(T / n_group, n_group)`."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.bijectors._base import FusedBijector, batch_shape_of, check_event_shape, zeros_over_batch


class Group1D(FusedBijector):
    """Folds consecutive samples into channels: `(T,) <-> (T / g, g)`, `g = n_group`.

    Forward:  `y[..., t, j] = x[..., t * g + j]`
    Inverse:  `x[..., t * g + j] = y[..., t, j]`
    Log-det:  0 (a reshape).

    This is NVIDIA WaveGlow's `audio.unfold(1, g, g)` with channels last. Why our own:
    `tfb.Reshape` needs a static event size, and the length of a waveform follows its mel
    (unknown under `tf.function` and in exported signatures); this one reads `T` at run time.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import Group1D
    >>> Group1D(4).forward(tf.range(8.0)).numpy().tolist()
    [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]

    Raises:
      ValueError: `n_group < 1`, or a length `T` that is not a multiple of `n_group`.
    """

    def __init__(self, n_group: int, validate_args: bool = False, name: str = "group_1d"):
        parameters = dict(locals())
        if not isinstance(n_group, int) or isinstance(n_group, bool) or n_group < 1:
            raise ValueError(f"Group1D: expected an integer n_group >= 1, got {n_group!r}.")
        self._n_group = n_group
        super().__init__(
            forward_min_event_ndims=1,
            inverse_min_event_ndims=2,
            is_constant_jacobian=True,
            validate_args=validate_args,
            parameters=parameters,
            name=name,
        )

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def n_group(self) -> int:
        return self._n_group

    def _forward_and_log_det(self, x):
        check_event_shape(x, [None], "Group1D", "x")
        length = x.shape[-1]
        if length is not None and length % self._n_group:
            raise ValueError(
                f"Group1D: expected a length divisible by n_group = {self._n_group}, got {length} samples."
            )
        batch_shape = batch_shape_of(x, 1)
        y = tf.reshape(x, tf.concat([batch_shape, [-1, self._n_group]], axis=0))
        if x.shape.rank is not None:
            y.set_shape(self._forward_event_shape(x.shape))
        return y, zeros_over_batch(x, 1)

    def _inverse_and_log_det(self, y):
        check_event_shape(y, [None, self._n_group], "Group1D", "y")
        batch_shape = batch_shape_of(y, 2)
        x = tf.reshape(y, tf.concat([batch_shape, [-1]], axis=0))
        if y.shape.rank is not None:
            x.set_shape(self._inverse_event_shape(y.shape))
        return x, zeros_over_batch(y, 2)

    def _forward_event_shape(self, input_shape):
        shape = tf.TensorShape(input_shape)
        if shape.rank is None:
            return tf.TensorShape(None)
        length = shape[-1]
        return shape[:-1].concatenate([None if length is None else length // self._n_group, self._n_group])

    def _inverse_event_shape(self, output_shape):
        shape = tf.TensorShape(output_shape)
        if shape.rank is None:
            return tf.TensorShape(None)
        steps = shape[-2]
        return shape[:-2].concatenate([None if steps is None else steps * self._n_group])

    def _forward_event_shape_tensor(self, input_shape):
        return tf.stack([input_shape[-1] // self._n_group, self._n_group])

    def _inverse_event_shape_tensor(self, output_shape):
        return tf.reshape(output_shape[-2] * output_shape[-1], [1])
