"""Spatial masks over a grid of patch tokens (Jet's checkerboard and stripe couplings)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.masks import Mask

TOKEN_PATTERNS = ("checkerboard", "hstripes", "vstripes")


class TokenMask(Mask):
    """Splits the tokens of a `(T, K)` event, `T = grid_h * grid_w` patches, into two spatial halves.

    Token `t` sits at patch `(i, j) = divmod(t, grid_w)` and conditions when the pattern
    is 0 there (1 with `parity=1`):

      * "checkerboard": `(i + j) % 2`;  "hstripes": `i % 2` (rows);  "vstripes": `j % 2` (columns).

    `x_a` and `x_b` are the gathered token sets `[..., T/2, K]`, so a transformer
    conditioner attends over the conditioning tokens only (as in Jet, Kolesnikov et al.
    2024) and outputs parameters for the other half.

    >>> import tensorflow as tf
    >>> mask = TokenMask((2, 2), 3, "checkerboard")
    >>> x_a, x_b = mask.split(tf.reshape(tf.range(12.0), (1, 4, 3)))
    >>> x_a[0, :, 0].numpy().tolist(), x_b[0, :, 0].numpy().tolist()
    ([0.0, 9.0], [3.0, 6.0])
    """

    def __init__(self, grid: Sequence[int], features: int, pattern: str = "checkerboard", parity: int = 0):
        if pattern not in TOKEN_PATTERNS:
            raise ValueError(f"TokenMask: unknown pattern {pattern!r}; expected one of {TOKEN_PATTERNS}.")
        if parity not in (0, 1):
            raise ValueError(f"TokenMask: expected parity 0 or 1, got {parity!r}.")
        grid_h, grid_w = (int(d) for d in grid)
        if grid_h < 1 or grid_w < 1 or features < 1:
            raise ValueError(f"TokenMask: expected a positive grid and features, got grid {tuple(grid)}, features {features}.")
        ii, jj = np.meshgrid(np.arange(grid_h), np.arange(grid_w), indexing="ij")
        code = {"checkerboard": ii + jj, "hstripes": ii, "vstripes": jj}[pattern].reshape(-1) % 2
        conditioning = code == parity
        if conditioning.sum() != (~conditioning).sum():
            raise ValueError(
                f"TokenMask: a {pattern!r} split of a {grid_h}x{grid_w} patch grid gives unequal halves "
                f"({conditioning.sum()} and {(~conditioning).sum()} tokens); use an even grid side."
            )
        self.event_shape = (grid_h * grid_w, int(features))
        self.grid, self.pattern, self.parity = (grid_h, grid_w), pattern, parity
        self._a_idx = np.flatnonzero(conditioning)
        self._b_idx = np.flatnonzero(~conditioning)
        self._merge_idx = np.argsort(np.concatenate([self._a_idx, self._b_idx]))

    @property
    def a_event_shape(self):
        return (len(self._a_idx), self.event_shape[1])

    @property
    def b_event_shape(self):
        return (len(self._b_idx), self.event_shape[1])

    def split(self, x):
        return tf.gather(x, self._a_idx, axis=-2), tf.gather(x, self._b_idx, axis=-2)

    def merge(self, x_a, x_b):
        return tf.gather(tf.concat([x_a, x_b], axis=-2), self._merge_idx, axis=-2)
