"""Frees the graphs of finished `tf.function` traces that TFP's bijector cache keeps alive.

TFP caches every `forward`/`inverse` in one process-wide dict per cache class
(`tfb.Bijector._cache`, and our `FusedBijector._cache`), keyed *weakly* by the input tensor,
so an entry should vanish with its tensor. In a traced function it never does: the key also
holds the bijector (and its keyword arguments) strongly, a `tfb.Shift(t)` built in the trace
holds the graph tensor `t`, that tensor holds its graph, and the graph holds the key's input
tensor. The cycle runs through a module-level dict, so `gc` cannot break it: every trace of a
flow that contains a `tfb.Shift`, `tfb.Reshape`, ... leaks its whole graph (measured: 20-30 MB
per `fit` of a tiny Glow, 460 MB over three; TFP's own `tfb.Glow` leaks the same way).

A graph tensor can only be used while its graph is being traced, so once the trace is over its
cache entries can never be looked up again. `release_finished_graphs` drops exactly those
entries; models call it whenever they trace (`models._model_support.entry_point`).
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow.python.framework import func_graph as _func_graph

tfb = tfp.bijectors


def _cache_storages() -> list[dict]:
    """The distinct storages of every bijector class's cache (subclasses may declare their own)."""
    storages, classes = {}, [tfb.Bijector]
    while classes:
        cls = classes.pop()
        classes.extend(cls.__subclasses__())
        cache = cls.__dict__.get("_cache")
        storage = getattr(cache, "storage", None)
        if isinstance(storage, dict):
            storages[id(storage)] = storage
    return list(storages.values())


def _graphs_being_traced() -> set[int]:
    """The current thread's graph and every graph it is nested in (ids)."""
    graphs, graph = set(), tf.compat.v1.get_default_graph()
    while graph is not None:
        graphs.add(id(graph))
        graph = getattr(graph, "outer_graph", None)
    return graphs


def _finished_graph(key, live: set[int]) -> bool:
    for ref in key.ref_set:
        graph = getattr(ref(), "graph", None)  # None for a dead ref, an eager tensor or an array
        if isinstance(graph, _func_graph.FuncGraph) and id(graph) not in live:
            return True
    return False


def release_finished_graphs() -> int:
    """Drops the bijector-cache entries of `tf.function` graphs no longer being traced; returns how many.

    Entries of the graphs being traced in this thread (and of eager tensors, which TFP frees
    itself) are kept, so caching within a trace is unchanged. A dropped entry could only ever
    be a cache miss, so results never change.

    >>> import tensorflow as tf, tensorflow_probability as tfp
    >>> shift = tf.function(lambda x: tfp.bijectors.Shift(x).forward(x))
    >>> _ = shift(tf.ones([2]))
    >>> release_finished_graphs() >= 2
    True
    >>> release_finished_graphs()
    0

    Raises nothing: entries of graphs still being traced are kept.
    """
    live, released = _graphs_being_traced(), 0
    for storage in _cache_storages():
        for key in list(storage):  # a copy: weakref callbacks may delete entries meanwhile
            if _finished_graph(key, live):
                key.cancel()  # its weakref callback would otherwise delete it a second time
                if storage.pop(key, None) is not None:
                    released += 1
    return released
