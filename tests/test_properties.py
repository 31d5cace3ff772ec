"""Property-based: random shapes, masks and hyperparameters keep every bijector finite and bijective,
with log-dets matching autodiff."""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import autodiff_log_det, random_conditioner
from tfp_flows import bijectors as fb

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def couplings(draw):
    image = draw(st.booleans())
    if image:
        shape = (draw(st.sampled_from([2, 4])), draw(st.sampled_from([2, 4])), draw(st.integers(1, 4)))
        kinds = ["checkerboard"] + (["channel", "odd_even"] if shape[2] >= 2 else [])
    else:
        shape = (draw(st.integers(2, 7)),)
        kinds = ["halves", "odd_even"]
    kind = draw(st.sampled_from(kinds))
    parity = draw(st.integers(0, 1))
    affine = draw(st.booleans())
    scale_fn = draw(st.sampled_from(["sigmoid", "soft_clamp", "exp"]))
    clamp = draw(st.floats(0.5, 4.0))
    seed = draw(st.integers(0, 2**16))
    mask = fb.make_mask(kind, shape, parity)
    out = mask.b_event_shape[-1] * (2 if affine else 1)
    conditioner = random_conditioner(mask.a_event_shape[-1], out, seed, spatial=image)
    if affine:
        bijector = fb.AffineCoupling(conditioner, mask, scale_fn=scale_fn, clamp=clamp)
    else:
        bijector = fb.AdditiveCoupling(conditioner, mask)
    return bijector, shape, seed


@st.composite
def channel_maps(draw):
    channels = draw(st.integers(1, 5))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), channels)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    which = draw(st.sampled_from(["actnorm", "lu", "plain"]))
    if which == "actnorm":
        bijector = fb.ActNorm(rng.normal(0, 2, channels), rng.normal(0, 1, channels))
    elif which == "lu":
        params = fb.Invertible1x1Conv.initial_lu(channels, seed, np.float64)
        for key in ("lower", "upper", "log_scale"):
            params[key] = params[key] + rng.normal(0, 0.5, params[key].shape)
        bijector = fb.Invertible1x1Conv(**params)
    else:
        bijector = fb.Invertible1x1Conv(fb.Invertible1x1Conv.initial_matrix(channels, seed, np.float64) + rng.normal(0, 0.2, (channels, channels)))
    return bijector, shape, seed


def _check(bijector, shape, seed):
    x = tf.constant(np.random.default_rng(seed + 1).normal(0, 2, (3,) + shape))
    y = bijector.forward(x)
    assert np.isfinite(y.numpy()).all()
    np.testing.assert_allclose(bijector.inverse(y).numpy(), x.numpy(), rtol=1e-8, atol=1e-8)
    fldj = np.broadcast_to(bijector.forward_log_det_jacobian(x, len(shape)).numpy(), (3,))
    assert np.isfinite(fldj).all()
    np.testing.assert_allclose(fldj, autodiff_log_det(bijector.forward, x), rtol=1e-7, atol=1e-7)
    ildj = np.broadcast_to(bijector.inverse_log_det_jacobian(tf.identity(y), len(shape)).numpy(), (3,))
    np.testing.assert_allclose(ildj, -fldj, rtol=1e-7, atol=1e-7)


@SETTINGS
@given(couplings())
def test_couplings(case):
    _check(*case)


@SETTINGS
@given(channel_maps())
def test_channel_maps(case):
    _check(*case)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 100))
def test_squeeze_is_a_permutation(h, w, c, seed):
    x = tf.constant(np.random.default_rng(seed).normal(size=(2, 2 * h, 2 * w, c)))
    y = fb.Squeeze().forward(x)
    assert y.shape == (2, h, w, 4 * c)
    np.testing.assert_array_equal(np.sort(y.numpy().ravel()), np.sort(x.numpy().ravel()))
    np.testing.assert_array_equal(fb.Squeeze().inverse(y).numpy(), x.numpy())
