"""Helpers of `FlowModel` that are not the model itself: input unpacking, dtype scoping, graph caches."""
from __future__ import annotations

import contextlib
import functools
import inspect
import weakref

import keras
import tensorflow as tf
from keras.src.trainers import compile_utils
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

from tfp_flows.bijectors import release_finished_graphs


def entry_point(method):
    """Marks a model entry point (`log_prob`, `sample`, ...): not transpiled by AutoGraph, and
    freeing the graphs of finished traces whenever it is traced.

    AutoGraph: the flows' Python control flow is static (loops over bijectors, shape checks),
    so AutoGraph has nothing to convert, but a user's `tf.function(model.log_prob)` would
    otherwise transpile every function the model calls: 3.9 of the 4.3 s of a tiny Glow's
    first traced `log_prob`. Keras and TFP are on AutoGraph's do-not-convert list for the
    same reason.

    Graphs: TFP's bijector cache keeps every finished trace of a flow alive
    (`bijectors.release_finished_graphs` says why); a process that trains or traces many
    models would grow by the size of each graph. Releasing them when the next trace starts
    bounds that to the graphs being traced.
    """

    @functools.wraps(method)
    def entry(*args, **kwargs):
        if not tf.executing_eagerly():
            release_finished_graphs()
        return method(*args, **kwargs)

    return tf.autograph.experimental.do_not_convert(entry)


def _event_shape(event_shape, owner) -> tuple[int, ...]:
    try:
        shape = tuple(int(d) for d in event_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: expected event_shape as a tuple of positive integers, got {event_shape!r}.") from None
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ValueError(f"{owner}: expected event_shape (D,) or (H, W, C) of positive integers, got {event_shape!r}.")
    return shape


def _take_images(x):
    """Accepts a tensor, or a dict from tensorflow-datasets with an 'image' entry."""
    if isinstance(x, dict):
        if "image" not in x:
            raise ValueError(f"expected a dict with an 'image' entry, got keys {sorted(x)}.")
        return x["image"]
    return x


def _init_rows(length: int, batch_size: int | None) -> slice:
    """A batch of rows spread evenly over in-memory data of `length` rows (every `length // n`-th).

    A table or an image array stored in some order (by class, by time, by region of a
    picture) would otherwise standardise and initialise every ActNorm from one corner of
    the data: a sorted table of photograph patches lost 5 held-out nats per row after
    1,000 steps that way.
    """
    count = batch_size or 32
    stride = max(1, int(length) // count)
    return slice(0, stride * count, stride)


def _first_batch(x, batch_size, keep_targets: bool = False):
    """A batch for the data-dependent initialisation: a dataset's first batch, or rows spread over an array.

    With `keep_targets`, a `(x, y)` batch is returned whole (conditional models read `y`).
    """
    if isinstance(x, tf.data.Dataset):
        batch = next(iter(x.take(1)))
    elif hasattr(x, "__getitem__") and hasattr(x, "__len__") and not isinstance(x, (tuple, list, dict)):
        if isinstance(x, keras.utils.PyDataset):
            batch = x[0]
        else:
            batch = x[_init_rows(len(x), batch_size)]
    elif isinstance(x, dict):
        batch = {k: v[_init_rows(len(v), batch_size)] for k, v in x.items()}
    else:
        raise ValueError(
            "fit: cannot take a first batch from data of type "
            f"{type(x).__name__} for the data-dependent initialisation; call model.initialize(batch) first."
        )
    if keep_targets:
        return tuple(batch) if isinstance(batch, list) else batch
    batch = keras.utils.unpack_x_y_sample_weight(batch)[0] if isinstance(batch, tuple) else batch
    return _take_images(batch)


@contextlib.contextmanager
def lean_graph_optimization():
    """Within the block, a TensorFlow function called for the first time is optimised in one round.

    TensorFlow optimises a function's graph (grappler) when it is first called: by default all
    its passes twice over, and the memory optimiser, whose swapping is for GPUs. For a Glow's
    training step that is most of the first call (32x32x3, levels 3, steps 8: 3.0 s of grappler
    on a loaded 2-core machine, 1.6 s in one round without the memory optimiser; the second
    round removed 64 of 4,492 nodes, the memory optimiser none). Here the passes run once, and
    the memory optimiser not at all on a machine with no GPU. Every other option of the user's
    configuration is kept, and only this thread's calls are affected (TensorFlow's per-call
    function options). Results are unchanged: both rounds rewrite the graph into an equal
    computation.
    """
    try:
        ctx = context.context()
        previous = ctx.function_call_options
        ctx.function_call_options = context.FunctionCallOptions(
            executor_type=previous.executor_type, config_proto=_lean_config(previous.config_proto_serialized)
        )
    except (AttributeError, TypeError, ValueError):  # another TensorFlow's internals: its own defaults
        yield
        return
    try:
        yield
    finally:
        ctx.function_call_options = previous


@functools.lru_cache(maxsize=8)
def _lean_config(serialized: bytes) -> config_pb2.ConfigProto:
    config = config_pb2.ConfigProto.FromString(serialized)
    options = config.graph_options.rewrite_options
    options.meta_optimizer_iterations = type(options).ONE
    if not tf.config.list_logical_devices("GPU"):
        options.memory_optimization = type(options).NO_MEM_OPT
    return config


def with_lean_graph_optimization(function):
    """`function` (a `tf.function` or a Keras step function), called under `lean_graph_optimization`."""
    if function is None or getattr(function, "_lean_graph_optimization", False):
        return function

    @functools.wraps(function)
    def call(*args, **kwargs):
        with lean_graph_optimization():
            return function(*args, **kwargs)

    call._lean_graph_optimization = True
    return call


# model -> {(entry, jit): tf.function}. Kept outside the model so that Keras and SavedModel
# export never see (or try to save) these inference helpers.
_GRAPH_FUNCTIONS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


class _MetricDirections(compile_utils.MetricsList):
    """The flow's metrics again, as a list: where Keras callbacks look up `_direction`."""

    def result(self):
        return self.get_result()


class _Recomputed:
    """A network whose activations are recomputed in the backward pass (`tf.recompute_grad`).

    Keeps the network's `weights` visible, so bijectors still list its variables.
    """

    def __init__(self, network):
        self.network = network
        self._call = tf.recompute_grad(lambda x: network(x))
        self._call_conditional = tf.recompute_grad(lambda x, c: network(x, conditional_input=c))

    @property
    def weights(self):
        return self.network.weights

    def __call__(self, x, conditional_input=None):
        if conditional_input is None:
            return self._call(x)
        return self._call_conditional(x, conditional_input)


class _Training:
    """A network called with `training=True` (its dropout active), for `fit`'s training steps.

    Keeps the network's `weights` visible, so bijectors still list its variables.
    """

    def __init__(self, network):
        self.network = network

    @property
    def weights(self):
        return self.network.weights

    def __call__(self, x, conditional_input=None):
        if conditional_input is None:
            return self.network(x, training=True)
        return self.network(x, conditional_input=conditional_input, training=True)


def _with_layer_dtype(init):
    """Wraps a model's `__init__` so that the layers it creates take the model's `dtype`.

    Keras layers take the global dtype policy when built, not their parent's: a model
    asked for `dtype="float64"` would otherwise hold float32 layers.
    """

    @functools.wraps(init)
    def wrapped(self, *args, **kwargs):
        with _global_dtype_policy(kwargs.get("dtype")):
            init(self, *args, **kwargs)

    wrapped.__signature__ = inspect.signature(init)  # Keras reads the constructor's arguments
    return wrapped


@contextlib.contextmanager
def _global_dtype_policy(dtype):
    if dtype is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
