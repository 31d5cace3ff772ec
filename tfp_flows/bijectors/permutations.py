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
    """`y[..., c] = x[..., C - 1 - c]`."""
    _check_channels(num_channels)
    return tfb.Permute(np.arange(num_channels)[::-1].copy(), axis=-1, validate_args=validate_args, name=name)


def shuffle_channels(
    num_channels: int, seed: int = 0, validate_args: bool = False, name: str = "shuffle_channels"
) -> tfb.Permute:
    """A fixed random permutation of the last axis, reproducible from `seed`."""
    _check_channels(num_channels)
    permutation = np.random.default_rng(seed).permutation(num_channels)
    return tfb.Permute(permutation, axis=-1, validate_args=validate_args, name=name)


def _check_channels(num_channels) -> None:
    if not isinstance(num_channels, (int, np.integer)) or num_channels < 1:
        raise ValueError(f"expected a positive number of channels, got {num_channels!r}.")
