"""A bijector that initialises its Keras layer from the first data that reaches it."""
from __future__ import annotations

from typing import Callable

import tensorflow as tf

from tfp_flows.bijectors._base import FusedBijector


class DataInitBijector(FusedBijector):
    """On `forward` (the normalising direction) calls `initialize(x)`, then applies `current()`.

    Layers return this from `bijector()` while their `initializing` flag is set, so one
    pass of a batch through a whole flow initialises every such layer in order, each from
    the data as it arrives there.
    """

    def __init__(self, initialize: Callable[[tf.Tensor], object], current: Callable[[], FusedBijector], event_ndims: int, name: str):
        self._initialize_fn = initialize
        self._current = current
        super().__init__(forward_min_event_ndims=event_ndims, name=name)

    def _forward_and_log_det(self, x):
        self._initialize_fn(x)
        return self._current()._forward_and_log_det(x)

    def _inverse_and_log_det(self, y):
        return self._current()._inverse_and_log_det(y)

    def _forward_and_compact_log_det(self, x):
        self._initialize_fn(x)
        return self._current()._forward_and_compact_log_det(x)

    def _inverse_and_compact_log_det(self, y):
        return self._current()._inverse_and_compact_log_det(y)
