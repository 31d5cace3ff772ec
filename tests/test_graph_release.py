"""Finished traces are freed: TFP's bijector cache no longer keeps every traced graph of a flow alive."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow.python.framework.func_graph import FuncGraph

from tfp_flows import bijectors, models

tfb = tfp.bijectors


def _graphs(name: str) -> dict:
    """Weak references to the live `tf.function` graphs called `name`, by id."""
    gc.collect()
    return {id(g): weakref.ref(g) for g in gc.get_objects() if isinstance(g, FuncGraph) and g.name == name}


def _new_graphs(name: str, before: dict) -> list:
    """The graphs called `name` traced since `before` (other tests' graphs may still be alive)."""
    return [ref for key, ref in _graphs(name).items() if key not in before]


def test_release_drops_only_finished_graphs_and_keeps_results():
    before = _graphs("<lambda>")
    shift = tf.function(lambda x: tfb.Shift(x).forward(x))
    np.testing.assert_allclose(shift(tf.ones([2])).numpy(), [2.0, 2.0])
    graphs = _new_graphs("<lambda>", before)
    assert graphs, "the trace left no graph to check"
    del shift  # the function no longer holds its graph: only TFP's cache does
    gc.collect()
    assert [g for g in graphs if g() is not None]  # TFP alone keeps it: a cycle through its module-level cache
    assert bijectors.release_finished_graphs() >= 2  # the forward entry and its inverse twin
    gc.collect()
    assert not [g for g in graphs if g() is not None]

    seen = {}

    @tf.function
    def inside_a_trace(x):
        y = tfb.Shift(x).forward(x)
        seen["released"] = bijectors.release_finished_graphs()  # the graph being traced is not finished
        return y

    np.testing.assert_allclose(inside_a_trace(tf.ones([2])).numpy(), [2.0, 2.0])
    assert seen["released"] == 0


def test_a_deleted_models_graphs_are_freed_by_the_next_trace():
    """A user's traced `log_prob` is freed once the model and the function are gone: the model's own
    pass holds no TFP cache entry, and a traced `model.distribution.log_prob` (TFP's Chain, Reshape
    and Shift go through TFP's cache) is released by the next traced entry point."""
    x = np.random.default_rng(0).integers(0, 17, (4, 8, 8, 1)).astype(np.float32)
    before = _graphs("log_prob")
    model = models.NICE.from_preset("tiny", seed=0)
    y = model.dequantize(x)
    own, through_tfp = tf.function(model.log_prob), tf.function(model.distribution.log_prob)
    own(y)
    own_graphs = _new_graphs("log_prob", before)
    through_tfp(y)
    own_ids = {id(ref()) for ref in own_graphs}
    graphs = [ref for ref in _new_graphs("log_prob", before) if id(ref()) not in own_ids]
    assert own_graphs and graphs
    del model, own, through_tfp
    gc.collect()
    assert not [g for g in own_graphs if g() is not None]
    assert [g for g in graphs if g() is not None]  # held by TFP's cache alone
    other = models.NICE.from_preset("tiny", seed=1)
    tf.function(other.log_prob)(other.dequantize(x))  # any traced entry point releases finished graphs
    gc.collect()
    assert not [g for g in graphs if g() is not None]