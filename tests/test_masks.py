"""Masks partition the event, and alternating parity transforms every entry."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfp_flows.bijectors import ChannelMask, CheckerboardMask, make_mask


@pytest.mark.parametrize(
    "kind, event_shape",
    [("halves", (6,)), ("halves", (5,)), ("odd_even", (7,)), ("channel", (2, 2, 4)), ("odd_even", (2, 2, 3)), ("checkerboard", (4, 4, 2))],
)
@pytest.mark.parametrize("parity", [0, 1])
def test_split_merge_round_trip(kind, event_shape, parity):
    mask = make_mask(kind, event_shape, parity)
    x = tf.random.stateless_normal((3,) + event_shape, seed=[1, parity])
    x_a, x_b = mask.split(x)
    assert tuple(x_a.shape[1:]) == mask.a_event_shape
    assert tuple(x_b.shape[1:]) == mask.b_event_shape
    np.testing.assert_array_equal(mask.merge(x_a, x_b).numpy(), x.numpy())


@pytest.mark.parametrize("kind, event_shape", [("halves", (6,)), ("odd_even", (7,)), ("channel", (2, 2, 4)), ("checkerboard", (4, 4, 2))])
def test_parities_are_complementary(kind, event_shape):
    """An entry conditions under parity 0 exactly when it is transformed under parity 1."""
    conditioned = []
    for parity in (0, 1):
        mask = make_mask(kind, event_shape, parity)
        x = tf.reshape(tf.range(1, np.prod(event_shape) + 1, dtype=tf.float32), event_shape)[None]
        # Replace the transformed part by zeros: what survives is the conditioning part.
        x_a, x_b = mask.split(x)
        kept = mask.merge(x_a, tf.zeros_like(x_b)).numpy() != 0
        conditioned.append(kept)
    assert np.all(conditioned[0] ^ conditioned[1])


def test_checkerboard_pattern():
    mask = CheckerboardMask((2, 3, 1), parity=0)
    x_a, _ = mask.split(tf.ones([1, 2, 3, 1]))
    np.testing.assert_array_equal(x_a.numpy()[0, :, :, 0], [[1, 0, 1], [0, 1, 0]])


def test_odd_even_uses_gather_and_halves_uses_slices():
    odd_even = make_mask("odd_even", (6,))
    assert isinstance(odd_even, ChannelMask)
    x_a, x_b = odd_even.split(tf.constant([[0.0, 1, 2, 3, 4, 5]]))
    np.testing.assert_array_equal(x_a.numpy(), [[0, 2, 4]])
    np.testing.assert_array_equal(x_b.numpy(), [[1, 3, 5]])
    x_a, x_b = make_mask("halves", (6,), parity=1).split(tf.constant([[0.0, 1, 2, 3, 4, 5]]))
    np.testing.assert_array_equal(x_a.numpy(), [[3, 4, 5]])
    np.testing.assert_array_equal(x_b.numpy(), [[0, 1, 2]])


@pytest.mark.parametrize(
    "args, message",
    [
        (("diagonal", (4,)), "unknown mask 'diagonal'"),
        (("checkerboard", (6,)), r"expected an image event shape \(H, W, C\), got \(6,\)"),
        (("halves", (1,)), "at least 2 entries"),
        (("halves", None), "needs the event_shape"),
        (("halves", (4, 0)), "positive integers"),
    ],
)
def test_bad_masks(args, message):
    with pytest.raises(ValueError, match=message):
        make_mask(*args)


def test_bad_parity_and_pattern():
    with pytest.raises(ValueError, match="parity 0 or 1, got 2"):
        make_mask("halves", (4,), parity=2)
    with pytest.raises(ValueError, match=r"pattern of shape \(4,\).*got shape \(3,\)"):
        ChannelMask((4,), [True, False, True])
    with pytest.raises(ValueError, match="at least one entry in each part"):
        ChannelMask((2,), [True, True])
