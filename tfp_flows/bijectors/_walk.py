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

from tensorflow_probability.python.bijectors import chain as _chain_lib, invert as _invert_lib

from tfp_flows.bijectors._base import FusedBijector

tfb = tfp.bijectors
# `tfb.Chain([...])` / `tfb.Invert(b)` return the non-CompositeTensor base classes `_Chain` /
# `_Invert` when a part is not a CompositeTensor (ours are not): match those.
_CHAIN = _chain_lib._Chain
_INVERT = _invert_lib._Invert


def walk(bijector: tfb.Bijector, x: tf.Tensor, event_ndims: int, forward: bool = True, **kwargs):
    """`(y, log_det, y_event_ndims)`: `bijector.forward(x, **kwargs)` (or `inverse`) and its log-det over `event_ndims`.

    `kwargs` are routed as TFP routes them: a `tfb.Chain` gives each part
    `kwargs.get(part.name, {})`, a `tfb.Invert` passes them on unchanged, and any other
    bijector receives them as keyword arguments (`conditional_input=c`).
    `conditional_kwargs` builds such a nested dict for a whole flow.
    """
    if isinstance(bijector, _CHAIN):
        parts = reversed(bijector.bijectors) if forward else bijector.bijectors  # a Chain applies its last first
        total = None
        for part in parts:
            x, log_det, event_ndims = walk(part, x, event_ndims, forward, **kwargs.get(part.name, {}))
            total = log_det if total is None else total + log_det
        return x, (tf.zeros([], x.dtype) if total is None else total), event_ndims
    if isinstance(bijector, _INVERT):
        return walk(bijector.bijector, x, event_ndims, not forward, **kwargs)
    if isinstance(bijector, FusedBijector):
        if forward:
            y, log_det = bijector._forward_and_log_det(x, **kwargs)
            min_ndims, out_ndims = bijector.forward_min_event_ndims, bijector.forward_event_ndims(event_ndims)
        else:
            y, log_det = bijector._inverse_and_log_det(x, **kwargs)
            min_ndims, out_ndims = bijector.inverse_min_event_ndims, bijector.inverse_event_ndims(event_ndims)
        extra = event_ndims - min_ndims  # log-dets are per minimal event: sum the rest of the event
        if extra > 0:
            log_det = tf.reduce_sum(log_det, axis=list(range(-extra, 0)))
        return y, log_det, out_ndims
    if forward:
        y = bijector.forward(x, **kwargs)
        return y, bijector.forward_log_det_jacobian(x, event_ndims, **kwargs), bijector.forward_event_ndims(event_ndims)
    y = bijector.inverse(x, **kwargs)
    return y, bijector.inverse_log_det_jacobian(x, event_ndims, **kwargs), bijector.inverse_event_ndims(event_ndims)


def conditional_kwargs(bijector: tfb.Bijector, conditional_input) -> dict:
    """The nested keyword arguments that give every conditional bijector in `bijector` `conditional_input`.

    The result is what `bijector.forward(x, **result)`, `walk(bijector, x, n, **result)`
    or `TransformedDistribution(base, bijector).log_prob(y, bijector_kwargs=result)` take:
    a `tfb.Chain` level maps part names to their own kwargs, a `tfb.Invert` passes its
    kwargs through, and a bijector whose `is_conditional` is True gets
    `{"conditional_input": conditional_input}` (a `FactorOut` also routes into its inner flow).
    Parts sharing a name get the union of their kwargs, as TFP's Chain gives them the same.
    Empty when nothing in `bijector` is conditional.

    Raises nothing itself: bijectors that receive a `conditional_input` they cannot use raise `ValueError`
    when called.

    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> from tfp_flows.bijectors import AffineCoupling, conditional_kwargs
    >>> net = lambda x_a, conditional_input: tf.concat([conditional_input, tf.zeros_like(x_a)], -1)
    >>> flow = tfp.bijectors.Chain([AffineCoupling(net, "halves", (2,), conditional=True, name="c1")])
    >>> sorted(conditional_kwargs(flow, tf.ones([1, 1])))
    ['c1']
    """
    if isinstance(bijector, _CHAIN):
        routed = {}
        for part in bijector.bijectors:
            sub = conditional_kwargs(part, conditional_input)
            if sub:
                routed[part.name] = _merge(routed.get(part.name, {}), sub)
        return routed
    if isinstance(bijector, _INVERT):
        return conditional_kwargs(bijector.bijector, conditional_input)
    routed = {}
    inner = getattr(bijector, "inner", None)
    if isinstance(inner, tfb.Bijector):  # FactorOut: kwargs other than its own go to the inner flow
        routed.update(conditional_kwargs(inner, conditional_input))
    if getattr(bijector, "is_conditional", False):
        routed["conditional_input"] = conditional_input
    return routed


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for key, value in b.items():
        out[key] = _merge(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out
