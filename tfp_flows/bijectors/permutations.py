"""Fixed channel permutations (RealNVP's reversal, Glow's shuffle baseline).

`tfb.Permute` does this job well (zero log-det, a gather, any batch shape), so these
are constructors of it, not new bijectors. On images they permute the channels of
every pixel (`axis=-1`).
"""
from __future__ import annotations

import numpy as np
import tensorflow_probability as tfp

tfb = tfp.bijectors


def reverse_channels(num_channels: int, validate_args: bool = False, name: str = "reverse_channels") -> tfb.Permute:
    """`y[..., c] = x[..., C - 1 - c]`.

    Args:
      num_channels: `C`, the size of the last axis.

    Raises:
      ValueError: `num_channels < 1`.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import reverse_channels
    >>> reverse_channels(3).forward(tf.constant([1.0, 2.0, 3.0])).numpy().tolist()
    [3.0, 2.0, 1.0]
    """
    _check_channels(num_channels)
    return tfb.Permute(np.arange(num_channels)[::-1].copy(), axis=-1, validate_args=validate_args, name=name)


def shuffle_channels(
    num_channels: int, seed: int = 0, validate_args: bool = False, name: str = "shuffle_channels"
) -> tfb.Permute:
    """A fixed random permutation of the last axis, reproducible from `seed`.

    Args:
      num_channels: `C`, the size of the last axis.
      seed: the permutation's seed.

    Raises:
      ValueError: `num_channels < 1`.

    >>> import tensorflow as tf
    >>> from tfp_flows.bijectors import shuffle_channels
    >>> b = shuffle_channels(4, seed=0)
    >>> sorted(b.forward(tf.constant([1.0, 2.0, 3.0, 4.0])).numpy().tolist())
    [1.0, 2.0, 3.0, 4.0]
    """
    _check_channels(num_channels)
    permutation = np.random.default_rng(seed).permutation(num_channels)
    return tfb.Permute(permutation, axis=-1, validate_args=validate_args, name=name)


def _check_channels(num_channels) -> None:
    if not isinstance(num_channels, (int, np.integer)) or num_channels < 1:
        raise ValueError(f"expected a positive number of channels, got {num_channels!r}.")
