"""The math of every bijector: round trips, log-dets against autodiff, shapes, likelihoods."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from cases import CASES, build, sample_input
from conftest import autodiff_log_det, tolerance

tfd = tfp.distributions
NAMES = sorted(CASES)


def _event_ndims(shape):
    return len(shape)


@pytest.mark.parametrize("name", NAMES)
def test_round_trips(name, dtype):
    bijector, event_shape = build(name, dtype)
    x = sample_input(event_shape, dtype)
    y = bijector.forward(x)
    assert y.dtype == dtype
    np.testing.assert_allclose(bijector.inverse(y).numpy(), x.numpy(), **tolerance(dtype))
    # An independent y, not one produced by forward (so no cache can answer).
    y2 = sample_input(bijector.forward_event_shape(event_shape), dtype, seed=1)
    np.testing.assert_allclose(bijector.forward(bijector.inverse(y2)).numpy(), y2.numpy(), **tolerance(dtype))


@pytest.mark.parametrize("name", NAMES)
def test_forward_log_det_matches_autodiff(name, dtype):
    bijector, event_shape = build(name, dtype)
    x = sample_input(event_shape, dtype, seed=2)
    # A fresh bijector call per Jacobian evaluation; bypasses nothing of the real code path.
    expected = autodiff_log_det(bijector.forward, x)
    fldj = bijector.forward_log_det_jacobian(x, event_ndims=_event_ndims(event_shape))
    np.testing.assert_allclose(np.broadcast_to(fldj.numpy(), expected.shape), expected, **tolerance(dtype))


@pytest.mark.parametrize("name", NAMES)
def test_inverse_log_det_matches_autodiff_and_negated_forward(name, dtype):
    bijector, event_shape = build(name, dtype)
    y_shape = bijector.forward_event_shape(event_shape)
    y = sample_input(y_shape, dtype, seed=3)
    ildj = bijector.inverse_log_det_jacobian(y, event_ndims=_event_ndims(y_shape))
    expected = autodiff_log_det(bijector.inverse, y)
    np.testing.assert_allclose(np.broadcast_to(ildj.numpy(), expected.shape), expected, **tolerance(dtype))
    # fldj(x) == -ildj(forward(x)), computed on a fresh bijector so nothing is cached.
    x = sample_input(event_shape, dtype, seed=4)
    fldj = bijector.forward_log_det_jacobian(x, event_ndims=_event_ndims(event_shape))
    fresh, _ = build(name, dtype)
    ildj_of_forward = fresh.inverse_log_det_jacobian(tf.identity(bijector.forward(x)), _event_ndims(y_shape))
    np.testing.assert_allclose(
        np.broadcast_to(fldj.numpy(), [3]), -np.broadcast_to(ildj_of_forward.numpy(), [3]), **tolerance(dtype)
    )


@pytest.mark.parametrize("name", NAMES)
def test_extra_batch_dimensions(name):
    bijector, event_shape = build(name, np.float32)
    x = sample_input(event_shape, np.float32, batch=(2, 3))
    y = bijector.forward(x)
    assert y.shape == (2, 3) + tuple(bijector.forward_event_shape(event_shape))
    fldj = bijector.forward_log_det_jacobian(x, _event_ndims(event_shape))
    flat = bijector.forward_log_det_jacobian(tf.reshape(x, (6,) + tuple(event_shape)), _event_ndims(event_shape))
    np.testing.assert_allclose(
        np.broadcast_to(fldj.numpy(), (2, 3)).reshape(6), np.broadcast_to(flat.numpy(), (6,)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(bijector.inverse(y).numpy(), x.numpy(), rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("name", NAMES)
def test_tf_function_with_unknown_batch_dimension(name):
    bijector, event_shape = build(name, np.float32)
    y_shape = tuple(bijector.forward_event_shape(event_shape))
    nx, ny = _event_ndims(event_shape), _event_ndims(y_shape)

    @tf.function(input_signature=[tf.TensorSpec((None,) + tuple(event_shape), tf.float32)])
    def round_trip(x):
        y = bijector.forward(x)
        return y, bijector.inverse(y), bijector.forward_log_det_jacobian(x, nx), bijector.inverse_log_det_jacobian(y, ny)

    x = sample_input(event_shape, np.float32, batch=(5,))
    y, x_back, fldj, ildj = round_trip(x)
    assert y.shape == (5,) + y_shape
    np.testing.assert_allclose(x_back.numpy(), x.numpy(), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(np.broadcast_to(fldj, [5]), -np.broadcast_to(ildj, [5]), rtol=1e-4, atol=1e-4)
    # the traced function serves another batch size without retracing errors
    assert round_trip(sample_input(event_shape, np.float32, batch=(1,)))[0].shape == (1,) + y_shape


@pytest.mark.parametrize("name", NAMES)
def test_transformed_distribution_log_prob_by_hand(name, dtype):
    bijector, event_shape = build(name, dtype)
    base = tfd.Independent(
        tfd.Normal(tf.zeros(event_shape, dtype), tf.ones(event_shape, dtype)), reinterpreted_batch_ndims=len(event_shape)
    )
    dist = tfd.TransformedDistribution(base, bijector)
    x = sample_input(event_shape, dtype, seed=5)
    y = tf.identity(bijector.forward(x))
    # By hand: log p(y) = log N(x; 0, I) - log|det dy/dx| with x = f^-1(y) and the Jacobian from autodiff.
    fresh, _ = build(name, dtype)
    x_hand = fresh.inverse(y)
    base_log_prob = np.sum(-0.5 * x_hand.numpy() ** 2 - 0.5 * np.log(2 * np.pi), axis=tuple(range(1, x.shape.rank)))
    expected = base_log_prob - autodiff_log_det(fresh.forward, x_hand)
    np.testing.assert_allclose(dist.log_prob(y).numpy(), expected, **tolerance(dtype))
    assert dist.event_shape == bijector.forward_event_shape(event_shape)


@pytest.mark.parametrize("name", NAMES)
def test_parameters_declare_no_batch_shape(name):
    """`_parameter_properties` is implemented: TFP infers an empty batch shape from the parameters."""
    bijector, _ = build(name, np.float32)
    assert bijector.experimental_batch_shape() == tf.TensorShape([])
