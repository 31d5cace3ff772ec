"""`FusedAdam`: Keras' Adam whose per-variable update is one fused TensorFlow kernel."""
from __future__ import annotations

import numbers

import keras
import numpy as np
import tensorflow as tf

from tfp_flows import _checks


@keras.saving.register_keras_serializable(package="tfp_flows")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam`, same arguments and the same update, built from fused kernels.

    Keras' Adam writes each variable's update as about a dozen separate ops (moment
    updates, bias correction, the step), and its weight average as five more. A flow
    has many small variables (a tiny RealNVP 170, a Glow thousands), so the optimizer
    dominated both the time to trace `fit`'s first step (3.5 of 9.3 s for the tiny
    RealNVP) and, on small images, the op count of every step. Here each variable's
    update is TensorFlow's `ResourceApplyAdam` and each weight average one
    `ResourceApplyGradientDescent` (`average -= (1 - momentum) * (average - var)`),
    both with CPU, GPU and XLA kernels.

    The update is Adam's (Kingma & Ba 2015, with Keras' epsilon outside the square root):
    `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
    `var -= lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`.
    Under a `tf.distribute` strategy, with `amsgrad`, or off the TensorFlow backend it
    runs Keras' own update, which is the same arithmetic.

    >>> import numpy as np, tensorflow as tf
    >>> from tfp_flows.models.optimizers import FusedAdam
    >>> w = tf.Variable([1.0, -2.0])
    >>> opt = FusedAdam(0.1)
    >>> _ = opt.apply_gradients([(tf.constant([0.5, -0.5]), w)])
    >>> [round(float(v), 4) for v in w.numpy()]  # the first Adam step is lr * sign(g)
    [0.9, -1.9]

    Its arguments are exactly `keras.optimizers.Adam`'s: `learning_rate`, `beta_1`, `beta_2`, `epsilon`,
    `amsgrad`, `weight_decay`, `clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`, `ema_momentum`,
    `ema_overwrite_frequency`, `loss_scale_factor`, `gradient_accumulation_steps` and `name`.

    Raises:
      ValueError: what `keras.optimizers.Adam` raises for the same arguments (e.g. `ema_momentum` outside
        `[0, 1]`).
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        if isinstance(learning_rate, numbers.Number):  # else a schedule, a callable or a variable
            _checks.number("FusedAdam", "learning_rate", learning_rate, low=0.0, low_open=True)
        _checks.number("FusedAdam", "beta_1", beta_1, 0.0, 1.0, high_open=True)
        _checks.number("FusedAdam", "beta_2", beta_2, 0.0, 1.0, high_open=True)
        _checks.number("FusedAdam", "epsilon", epsilon, low=0.0, low_open=True)
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, **kwargs)

    def add_variable_from_reference(self, reference_variable, name=None, initializer="zeros"):
        # Zeros given as a numpy array: each slot variable (Adam's two per weight, hundreds for a
        # Glow, all created when `fit` starts) then starts without running a fill op of its own.
        if isinstance(initializer, str) and initializer == "zeros":
            initializer = _numpy_zeros
        return super().add_variable_from_reference(reference_variable, name=name, initializer=initializer)

    def _fused(self) -> bool:
        return keras.backend.backend() == "tensorflow" and not self.amsgrad and not tf.distribute.has_strategy()

    def _clip_gradients(self, grads):
        present = [g for g in grads if g is not None]
        if not (
            self._fused() and self.global_clipnorm and self.global_clipnorm > 0 and not self.clipnorm
            and present and len({g.dtype for g in present}) == 1
        ):
            return super()._clip_gradients(grads)
        # Keras' global norm, sqrt(sum_i sum(g_i^2)), as TensorFlow computes it: one `L2Loss` kernel
        # per gradient where Keras builds a square, a sum and its axis constant (1 op per variable, not 3).
        # Not `tf.clip_by_global_norm`: it adds an Identity per gradient.
        norm = tf.linalg.global_norm(present)
        clip = tf.constant(self.global_clipnorm, norm.dtype)
        scale = clip * tf.minimum(1.0 / norm, 1.0 / clip) + (norm - norm)  # NaN for a non-finite norm, as Keras
        return [g * scale if g is not None else None for g in grads]

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self._fused():
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        scalars = {}  # the step's constants, once per dtype rather than once per variable
        for gradient, variable in zip(grads, trainable_variables):
            dtype = variable.dtype
            if dtype not in scalars:
                step = tf.cast(self.iterations + 1, dtype)
                beta1, beta2 = tf.constant(self.beta_1, dtype), tf.constant(self.beta_2, dtype)
                scalars[dtype] = dict(
                    beta1_power=tf.pow(beta1, step), beta2_power=tf.pow(beta2, step), lr=tf.cast(learning_rate, dtype),
                    beta1=beta1, beta2=beta2, epsilon=tf.constant(self.epsilon, dtype),
                )
            index = self._get_variable_index(variable)
            tf.raw_ops.ResourceApplyAdam(
                var=_handle(variable), m=_handle(self._momentums[index]), v=_handle(self._velocities[index]),
                grad=tf.cast(gradient, dtype), **scalars[dtype],
            )

    def _update_model_variables_moving_average(self, trainable_variables):
        if not (self.use_ema and self._fused()):
            return super()._update_model_variables_moving_average(trainable_variables)
        first = tf.equal(self.iterations, 0)  # the first step copies the weights (momentum 0), as Keras does
        weights = {}
        for var, average in zip(trainable_variables, self._model_variables_moving_average):
            if average is None:
                continue
            dtype = average.dtype
            if dtype not in weights:
                weights[dtype] = tf.where(first, tf.constant(1.0, dtype), tf.constant(1.0 - self.ema_momentum, dtype))
            tf.raw_ops.ResourceApplyGradientDescent(
                var=_handle(average), alpha=weights[dtype], delta=tf.convert_to_tensor(average) - tf.cast(var, dtype)
            )


def _handle(variable):
    """The resource handle of a `keras.Variable` (its `tf.Variable`) or of a `tf.Variable`."""
    if isinstance(variable, keras.Variable):
        variable = variable.value
    return variable.handle


def _numpy_zeros(shape, dtype=None):
    """Keras' "zeros" initializer, as a numpy array."""
    return np.zeros(shape, tf.as_dtype(dtype or "float32").as_numpy_dtype)
