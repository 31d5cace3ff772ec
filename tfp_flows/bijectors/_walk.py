"""One pass through a composed flow: the transform and its log-det, without TFP's per-call machinery.

`tfb.Chain` and `tfb.Invert` route every call through TFP's bijector cache, name scopes and
dtype/shape checks: right for a general library, but for a deep flow (Glow: hundreds of
bijectors) it dominates the time to trace a training step. Models call `walk` instead;
it applies our `FusedBijector`s through their one-pass hooks and falls back to the public
TFP methods for any other bijector, so the result equals `bijector.forward(x)` and
`bijector.forward_log_det_jacobian(x, event_ndims)` (the tests compare them).
"""
from __future__ import annotations

import functools
import operator

import tensorflow as tf
import tensorflow_probability as tfp

from tensorflow_probability.python.bijectors import chain as _chain_lib, invert as _invert_lib

from tfp_flows.bijectors._base import FusedBijector, over_batch, reshape_batch

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
    log_dets = []
    y, y_event_ndims = walk_log_dets(bijector, x, event_ndims, forward, log_dets, **kwargs)
    total = sum_log_dets(log_dets)
    if total is None or total.shape.rank == 0:  # every part's log-det is shared by all events
        total = over_batch(total, x, event_ndims)
    return y, total, y_event_ndims


def walk_log_dets(bijector: tfb.Bijector, x: tf.Tensor, event_ndims: int, forward: bool, log_dets: list, **kwargs):
    """`(y, y_event_ndims)` as `walk`, appending each part's log-det to `log_dets` instead of summing them.

    The log-dets are compact (see `FusedBijector`): one scalar for a part whose log-det is the same
    for every event (ActNorm, a 1x1 convolution), none for a volume-preserving part (a squeeze, a
    shift, a reshape); `sum_log_dets` adds them up.
    """
    if isinstance(bijector, _CHAIN):
        parts = reversed(bijector.bijectors) if forward else bijector.bijectors  # a Chain applies its last first
        for part in parts:
            x, event_ndims = walk_log_dets(part, x, event_ndims, forward, log_dets, **kwargs.get(part.name, {}))
        return x, event_ndims
    if isinstance(bijector, _INVERT):
        return walk_log_dets(bijector.bijector, x, event_ndims, not forward, log_dets, **kwargs)
    if isinstance(bijector, FusedBijector):
        min_ndims = bijector.forward_min_event_ndims if forward else bijector.inverse_min_event_ndims
        out_ndims = bijector.forward_event_ndims(event_ndims) if forward else bijector.inverse_event_ndims(event_ndims)
        extra = event_ndims - min_ndims  # log-dets are per minimal event: sum the rest of the event
        if extra > 0:
            y, log_det = (bijector._forward_and_log_det if forward else bijector._inverse_and_log_det)(x, **kwargs)
            log_det = tf.reduce_sum(log_det, axis=list(range(-extra, 0)))
        else:
            y, log_det = (bijector._forward_and_compact_log_det if forward else bijector._inverse_and_compact_log_det)(x, **kwargs)
        if log_det is not None:
            log_dets.append(log_det)
        return y, out_ndims
    if not kwargs and type(bijector) is tfb.Shift:  # volume-preserving: what TFP computes, without its machinery
        shift = tf.convert_to_tensor(bijector.shift)
        if shift.shape.rank is not None and shift.shape.rank <= event_ndims:  # the shift stays within the event
            return (x + shift if forward else x - shift), event_ndims
    if not kwargs and type(bijector) is tfb.Reshape and x.shape.rank is not None:
        out_shape = bijector.forward_event_shape(x.shape) if forward else bijector.inverse_event_shape(x.shape)
        in_ndims = bijector.forward_min_event_ndims if forward else bijector.inverse_min_event_ndims
        batch_ndims = x.shape.rank - in_ndims
        if out_shape.rank is not None and out_shape[batch_ndims:].is_fully_defined():
            y = reshape_batch(x, batch_ndims, out_shape[batch_ndims:])
            return y, (bijector.forward_event_ndims if forward else bijector.inverse_event_ndims)(event_ndims)
    if forward:
        y = bijector.forward(x, **kwargs)
        log_dets.append(bijector.forward_log_det_jacobian(x, event_ndims, **kwargs))
        return y, bijector.forward_event_ndims(event_ndims)
    y = bijector.inverse(x, **kwargs)
    log_dets.append(bijector.inverse_log_det_jacobian(x, event_ndims, **kwargs))
    return y, bijector.inverse_event_ndims(event_ndims)


def sum_log_dets(log_dets: list) -> tf.Tensor | None:
    """The sum of compact log-dets (see `walk_log_dets`); None when there are none.

    The per-example ones (same static shape) are added by one `tf.add_n`, whose gradient adds
    no op: `a + b` of two `[None]` tensors adds a dynamic broadcast reduction to the gradient
    of each. The scalars shared by every event are added after.
    """
    shared = [t for t in log_dets if t.shape.rank == 0]
    batched = [t for t in log_dets if t.shape.rank != 0]
    total = None
    if batched:
        if len(batched) > 1 and batched[0].shape.rank is not None and all(t.shape == batched[0].shape for t in batched):
            total = tf.add_n(batched)
        else:
            total = functools.reduce(operator.add, batched)
    if shared:
        scalar = tf.add_n(shared) if len(shared) > 1 else shared[0]
        total = scalar if total is None else total + scalar
    return total


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
