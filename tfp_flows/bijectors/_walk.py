"""One pass through a composed flow: the transform and its log-det, without TFP's per-call machinery.

`tfb.Chain` and `tfb.Invert` route every call through TFP's bijector cache, name scopes and
dtype/shape checks: right for a general library, but for a deep flow (Glow: hundreds of
bijectors) it dominates the time to trace a training step. Models call `walk` instead;
it applies our `FusedBijector`s through their one-pass hooks and falls back to the public
TFP methods for any other bijector, so the result equals `bijector.forward(x)` and
`bijector.forward_log_det_jacobian(x, event_ndims)` (the tests compare them).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._base import FusedBijector

tfb = tfp.bijectors


def walk(bijector: tfb.Bijector, x: tf.Tensor, event_ndims: int, forward: bool = True):
    """`(y, log_det, y_event_ndims)`: `bijector.forward(x)` (or `inverse`) and its log-det over `event_ndims`."""
    if isinstance(bijector, tfb.Chain):
        parts = reversed(bijector.bijectors) if forward else bijector.bijectors  # a Chain applies its last first
        total = None
        for part in parts:
            x, log_det, event_ndims = walk(part, x, event_ndims, forward)
            total = log_det if total is None else total + log_det
        return x, (tf.zeros([], x.dtype) if total is None else total), event_ndims
    if isinstance(bijector, tfb.Invert):
        return walk(bijector.bijector, x, event_ndims, not forward)
    if isinstance(bijector, FusedBijector):
        if forward:
            y, log_det = bijector._forward_and_log_det(x)
            min_ndims, out_ndims = bijector.forward_min_event_ndims, bijector.forward_event_ndims(event_ndims)
        else:
            y, log_det = bijector._inverse_and_log_det(x)
            min_ndims, out_ndims = bijector.inverse_min_event_ndims, bijector.inverse_event_ndims(event_ndims)
        extra = event_ndims - min_ndims  # log-dets are per minimal event: sum the rest of the event
        if extra > 0:
            log_det = tf.reduce_sum(log_det, axis=list(range(-extra, 0)))
        return y, log_det, out_ndims
    if forward:
        y = bijector.forward(x)
        return y, bijector.forward_log_det_jacobian(x, event_ndims), bijector.forward_event_ndims(event_ndims)
    y = bijector.inverse(x)
    return y, bijector.inverse_log_det_jacobian(x, event_ndims), bijector.inverse_event_ndims(event_ndims)
