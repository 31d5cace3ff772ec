"""Bad input fails early with a ValueError naming what was expected and what came."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import random_conditioner
from tfp_flows import bijectors as fb

tfb = tfp.bijectors


def test_squeeze_needs_even_height_and_width():
    with pytest.raises(ValueError, match=r"divisible by 2, got event shape \(5, 4, 1\)"):
        fb.Squeeze().forward(tf.zeros([2, 5, 4, 1]))
    with pytest.raises(ValueError, match=r"channels divisible by 4 to unsqueeze, got event shape \(2, 2, 3\)"):
        fb.Squeeze().inverse(tf.zeros([2, 2, 2, 3]))
    with pytest.raises(ValueError, match=r"event shape \(None, None, None\).*got shape \(4, 4\)"):
        fb.Squeeze().forward(tf.zeros([4, 4]))
    with pytest.raises(ValueError, match="integer factor >= 2"):
        fb.Squeeze(factor=1)


def test_coupling_input_must_match_mask():
    coupling = fb.AffineCoupling(random_conditioner(1, 2, 0, True), "channel", (4, 4, 2))
    with pytest.raises(ValueError, match=r"AffineCoupling: expected x with event shape \(4, 4, 2\), got shape \(3, 4, 4, 3\)"):
        coupling.forward(tf.zeros([3, 4, 4, 3]))
    with pytest.raises(ValueError, match=r"expected y with event shape \(4, 4, 2\) \(rank >= 3\), got shape \(4, 2\)"):
        coupling.inverse(tf.zeros([4, 2]))


def test_conditioner_output_must_fit():
    wrong = fb.AffineCoupling(random_conditioner(1, 1, 0, True), "channel", (4, 4, 2))  # 1 channel, needs 2
    with pytest.raises(ValueError, match=r"expected conditioner output with event shape \(4, 4, 2\), got shape \(3, 4, 4, 1\)"):
        wrong.forward(tf.zeros([3, 4, 4, 2]))
    additive = fb.AdditiveCoupling(lambda x_a: tf.concat([x_a, x_a], -1), "halves", (6,))
    with pytest.raises(ValueError, match=r"AdditiveCoupling: expected conditioner output with event shape \(3,\), got shape \(2, 6\)"):
        additive.forward(tf.zeros([2, 6]))
    with pytest.raises(ValueError, match="conditioner must be callable"):
        fb.AdditiveCoupling("not a network", "halves", (6,))
    with pytest.raises(ValueError, match="unknown scale_fn 'softplus'"):
        fb.AffineCoupling(lambda x: x, "halves", (6,), scale_fn="softplus")


def test_channel_counts_must_match():
    act = fb.ActNorm(tf.zeros(3), tf.zeros(3))
    with pytest.raises(ValueError, match=r"ActNorm: expected x with event shape \(None, None, 3\), got shape \(2, 4, 4, 2\)"):
        act.forward(tf.zeros([2, 4, 4, 2]))
    with pytest.raises(ValueError, match=r"vectors of one size.*\(3,\) and \(2,\)"):
        fb.ActNorm(tf.zeros(3), tf.zeros(2))
    conv = fb.Invertible1x1Conv(**fb.Invertible1x1Conv.initial_lu(3, seed=0))
    with pytest.raises(ValueError, match=r"Invertible1x1Conv: expected y with event shape \(None, None, 3\), got shape \(2, 4, 4, 4\)"):
        conv.inverse(tf.zeros([2, 4, 4, 4]))
    with pytest.raises(ValueError, match=r"matrix must be square \(C, C\), got shape \(2, 3\)"):
        fb.Invertible1x1Conv(np.zeros([2, 3], np.float32))
    parts = fb.Invertible1x1Conv.initial_lu(3, seed=0)
    parts["lower"] = np.zeros([2, 2], np.float32)
    with pytest.raises(ValueError, match=r"expected lower of shape \(3, 3\) for 3 channels, got \(2, 2\)"):
        fb.Invertible1x1Conv(**parts)
    with pytest.raises(ValueError, match="missing \\['sign'\\]"):
        fb.Invertible1x1Conv(**{k: v for k, v in parts.items() if k != "sign"})
    with pytest.raises(ValueError, match=r"Scaling: expected x with event shape \(6,\), got shape \(2, 5\)"):
        fb.Scaling(tf.zeros(6)).forward(tf.zeros([2, 5]))


def test_factor_out_checks_its_parts():
    inner = tfb.Reshape(event_shape_out=(2, 2, 1), event_shape_in=(4,))
    with pytest.raises(ValueError, match=r"inner must map flat vectors to images of shape \(2, 2, 2\)"):
        fb.FactorOut(inner, (2, 2, 4))
    with pytest.raises(ValueError, match="0 < num_factored < C = 2"):
        fb.FactorOut(inner, (2, 2, 2), num_factored=2)
    split = fb.FactorOut(inner, (2, 2, 2), prior=lambda h: tf.concat([h, h, h], -1))
    with pytest.raises(ValueError, match=r"expected z with event shape \(8,\), got shape \(3, 9\)"):
        split.forward(tf.zeros([3, 9]))
    with pytest.raises(ValueError, match=r"expected prior output with event shape \(2, 2, 2\), got shape \(3, 2, 2, 3\)"):
        split.forward(tf.zeros([3, 8]))


def test_validate_args_rejects_non_finite_input():
    coupling = fb.AdditiveCoupling(lambda x_a: x_a, "halves", (4,), validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="AdditiveCoupling: x must be finite"):
        coupling.forward(tf.constant([[1.0, np.nan, 0.0, 0.0]]))
    act = fb.ActNorm(tf.zeros(2), tf.zeros(2), validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="ActNorm: y must be finite"):
        act.inverse(tf.constant(np.full([1, 2, 2, 2], np.inf, np.float32)))
    # Without validate_args the fast path does not check.
    assert np.isnan(fb.AdditiveCoupling(lambda x_a: x_a, "halves", (4,)).forward(tf.constant([[1.0, np.nan, 0, 0]])).numpy()).any()
