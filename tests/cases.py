"""Every bijector under test, with randomised (not zero-initialised) parameters.

A case builds `(bijector, x_event_shape)` for a dtype; `x_event_shape` is the event
shape of the forward input.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import random_conditioner
from tfp_flows import bijectors as fb

tfb = tfp.bijectors
IMAGE = (4, 4, 2)
VECTOR = (6,)


def _rng(seed):
    return np.random.default_rng(seed)


def additive_halves(dtype):
    return fb.AdditiveCoupling(random_conditioner(3, 3, 1, False), "halves", VECTOR), VECTOR


def additive_odd_even(dtype):
    return fb.AdditiveCoupling(random_conditioner(3, 3, 2, False), "odd_even", VECTOR, parity=1), VECTOR


def additive_checkerboard(dtype):
    return fb.AdditiveCoupling(random_conditioner(2, 2, 3, True), "checkerboard", IMAGE), IMAGE


def affine_channel_sigmoid(dtype):
    return fb.AffineCoupling(random_conditioner(1, 2, 4, True), "channel", IMAGE, scale_fn="sigmoid"), IMAGE


def affine_checkerboard_soft_clamp(dtype):
    cond = random_conditioner(2, 4, 5, True)
    return fb.AffineCoupling(cond, "checkerboard", IMAGE, parity=1, scale_fn="soft_clamp"), IMAGE


def affine_odd_even_exp(dtype):
    return fb.AffineCoupling(random_conditioner(3, 6, 6, False), "odd_even", VECTOR, scale_fn="exp"), VECTOR


def scaling(dtype):
    return fb.Scaling(_rng(7).normal(0, 0.5, VECTOR).astype(dtype)), VECTOR


def actnorm_image(dtype):
    rng = _rng(8)
    return fb.ActNorm(rng.normal(0, 1, 2).astype(dtype), rng.normal(0, 0.5, 2).astype(dtype)), IMAGE


def actnorm_vector(dtype):
    rng = _rng(9)
    return fb.ActNorm(rng.normal(0, 1, 6).astype(dtype), rng.normal(0, 0.5, 6).astype(dtype), event_ndims=1), VECTOR


def conv1x1_lu(dtype):
    params = fb.Invertible1x1Conv.initial_lu(2, seed=10, dtype=dtype)
    rng = _rng(10)
    for key in ("lower", "upper", "log_scale"):
        params[key] = (params[key] + rng.normal(0, 0.3, params[key].shape)).astype(dtype)
    return fb.Invertible1x1Conv(**params), IMAGE


def conv1x1_lu_4ch(dtype):
    params = fb.Invertible1x1Conv.initial_lu(4, seed=11, dtype=dtype)
    params["log_scale"] = (params["log_scale"] + _rng(11).normal(0, 0.3, 4)).astype(dtype)
    return fb.Invertible1x1Conv(**params), (2, 2, 4)


def conv1x1_plain(dtype):
    matrix = fb.Invertible1x1Conv.initial_matrix(2, seed=12, dtype=dtype) + _rng(12).normal(0, 0.3, (2, 2))
    return fb.Invertible1x1Conv(matrix.astype(dtype)), IMAGE


def linear_vector(dtype):
    """The vector flows' mixing: an LU linear map of (D,) that starts as a random permutation, once trained."""
    params = fb.Invertible1x1Conv.initial_permutation_lu(6, seed=15, dtype=dtype)
    rng = _rng(15)
    for key in ("lower", "upper", "log_scale"):
        params[key] = (params[key] + rng.normal(0, 0.3, params[key].shape)).astype(dtype)
    return fb.Invertible1x1Conv(**params, event_ndims=1), VECTOR


def squeeze(dtype):
    return fb.Squeeze(), IMAGE


def reverse(dtype):
    return fb.reverse_channels(2), IMAGE


def shuffle(dtype):
    return fb.shuffle_channels(4, seed=3), (2, 2, 4)


def _inner_to_kept(dtype):
    """Flat (16,) -> (4, 4, 1) image through a nonlinear coupling: a non-trivial inner flow."""
    coupling = fb.AffineCoupling(random_conditioner(8, 16, 13, False), "halves", (16,), scale_fn="soft_clamp")
    return tfb.Chain([tfb.Reshape(event_shape_out=(4, 4, 1), event_shape_in=(16,)), coupling])


def factor_out_with_prior(dtype):
    return fb.FactorOut(_inner_to_kept(dtype), IMAGE, prior=random_conditioner(1, 2, 14, True)), (32,)


def factor_out_plain(dtype):
    return fb.FactorOut(_inner_to_kept(dtype), IMAGE), (32,)


def glow_step(dtype):
    """ActNorm -> 1x1 conv -> affine coupling (Glow's step), data direction reversed."""
    act, _ = actnorm_image(dtype)
    conv, _ = conv1x1_lu(dtype)
    coupling, _ = affine_channel_sigmoid(dtype)
    return tfb.Chain([act, conv, coupling]), IMAGE


CASES = {
    fn.__name__: fn
    for fn in [
        additive_halves,
        additive_odd_even,
        additive_checkerboard,
        affine_channel_sigmoid,
        affine_checkerboard_soft_clamp,
        affine_odd_even_exp,
        scaling,
        actnorm_image,
        actnorm_vector,
        conv1x1_lu,
        conv1x1_lu_4ch,
        conv1x1_plain,
        linear_vector,
        squeeze,
        reverse,
        shuffle,
        factor_out_with_prior,
        factor_out_plain,
        glow_step,
    ]
}


def build(name, dtype):
    bijector, event_shape = CASES[name](dtype)
    return bijector, event_shape


def sample_input(event_shape, dtype, batch=(3,), seed=0):
    return tf.constant(np.random.default_rng(seed).normal(0, 1, tuple(batch) + tuple(event_shape)).astype(dtype))
