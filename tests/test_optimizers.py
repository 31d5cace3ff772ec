"""FusedAdam: the same updates and weight average as Keras' Adam, from fused kernels."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import models
from tfp_flows.models import FusedAdam


LR, B1, B2, EPS, MOMENTUM, CLIPNORM = 0.05, 0.9, 0.999, 1e-6, 0.9, 5.0


def _gradients(steps=4):
    rng = np.random.default_rng(0)
    initial = [rng.normal(size=shape) for shape in [(3,), (2, 4), (1, 1, 2, 5)]]
    # Gradients from 1e-6 to 10: Adam's normalisation and epsilon both matter.
    grads = [[rng.normal(size=w.shape) * 10.0 ** rng.integers(-6, 2) for w in initial] for _ in range(steps)]
    return initial, grads


def _train(optimizer_cls, dtype, steps=4, jit_compile=False, **kwargs):
    """Variables of several shapes after `steps` updates with fixed random gradients: the weights and their average."""
    initial, grads = _gradients(steps)
    variables = [keras.Variable(w.astype(dtype), dtype=dtype) for w in initial]
    optimizer = optimizer_cls(learning_rate=LR, epsilon=EPS, **kwargs)
    optimizer.build(variables)
    apply = tf.function(lambda g: optimizer.apply_gradients(zip(g, variables)), jit_compile=jit_compile)
    for step_grads in grads:
        apply([tf.constant(g, dtype) for g in step_grads])
    averages = [a.numpy() for a in optimizer._model_variables_moving_average] if optimizer.use_ema else []
    return [v.numpy() for v in variables], averages, optimizer


def _reference(steps=4):
    """Adam with global-norm clipping and a weight average, by hand in float64 NumPy."""
    weights, grads = _gradients(steps)
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    averages = None
    for t, step_grads in enumerate(grads, start=1):
        norm = np.sqrt(sum((g**2).sum() for g in step_grads))
        step_grads = [g * CLIPNORM / max(norm, CLIPNORM) for g in step_grads]
        alpha = float(np.float32(LR)) * np.sqrt(1 - B2**t) / (1 - B1**t)  # Keras keeps the rate in float32
        for i, g in enumerate(step_grads):
            m[i] = B1 * m[i] + (1 - B1) * g
            v[i] = B2 * v[i] + (1 - B2) * g**2
            weights[i] = weights[i] - alpha * m[i] / (np.sqrt(v[i]) + EPS)
        averages = [w.copy() for w in weights] if averages is None else [
            MOMENTUM * a + (1 - MOMENTUM) * w for a, w in zip(averages, weights)
        ]
    return weights, averages


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_adam_steps_and_weight_average_match_the_hand_computation(dtype, jit_compile):
    kwargs = dict(use_ema=True, ema_momentum=MOMENTUM, global_clipnorm=CLIPNORM)
    ours, our_average, optimizer = _train(FusedAdam, dtype, jit_compile=jit_compile, **kwargs)
    weights, averages = _reference()
    tol = 2e-6 if dtype == "float32" else 1e-12
    for a, b in zip(ours + our_average, weights + averages):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert int(optimizer.iterations.numpy()) == 4
    assert np.abs(ours[0] - _gradients()[0][0]).max() > 0.1  # the updates did move the weights
    if dtype == "float32":  # and Keras' own Adam agrees (its float64 path rounds some constants to float32)
        keras_, keras_average, _ = _train(keras.optimizers.Adam, dtype, **kwargs)
        for a, b in zip(ours + our_average, keras_ + keras_average):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_amsgrad_and_plain_adam_fall_back_to_keras():
    ours, _, _ = _train(FusedAdam, "float32", amsgrad=True)
    keras_, _, _ = _train(keras.optimizers.Adam, "float32", amsgrad=True)
    for a, b in zip(ours, keras_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_default_optimizer_is_fused_and_survives_keras_save_and_load(tmp_path):
    model = models.NICE.from_preset("tiny", seed=0)
    model.compile()
    assert isinstance(model.optimizer, FusedAdam) and model.optimizer.use_ema
    x = np.random.default_rng(0).integers(0, 17, (32, 8, 8, 1)).astype(np.float32)
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer) is FusedAdam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert int(loaded.optimizer.iterations.numpy()) == 2


def test_compile_runs_a_users_keras_adam_fused_unless_told_not_to():
    model = models.NICE.from_preset("tiny", seed=0)
    adam = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=adam)
    assert model.optimizer is adam and isinstance(adam, FusedAdam) and abs(adam.get_config()["learning_rate"] - 1e-3) < 1e-9
    model.compile(optimizer="adam")
    assert type(model.optimizer) is FusedAdam
    plain = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=plain, fused_optimizer=False)
    assert type(model.optimizer) is keras.optimizers.Adam
    sgd = keras.optimizers.SGD(1e-2)
    model.compile(optimizer=sgd)
    assert model.optimizer is sgd and type(sgd) is keras.optimizers.SGD  # other optimizers are left alone


def test_global_norm_clipping_is_one_kernel_per_variable():
    """The clipping above (checked against NumPy) costs one `L2Loss` per variable in the traced step."""
    variables = [keras.Variable(np.ones(shape, np.float32)) for shape in [(3,), (2, 4), (5,)]]
    optimizer = FusedAdam(global_clipnorm=1.0)
    optimizer.build(variables)
    step = tf.function(lambda grads: optimizer.apply_gradients(zip(grads, variables)))
    graph = step.get_concrete_function([tf.TensorSpec(v.shape, tf.float32) for v in variables]).graph
    types = [op.type for op in graph.get_operations()]
    assert types.count("L2Loss") == 3 and "Square" not in types, types
