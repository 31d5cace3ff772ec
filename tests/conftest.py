"""Shared helpers: random conditioners, autodiff log-dets, the bijector cases under test."""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

# TensorFlow is imported inside the helpers, not here: the pytest-xdist controller loads this
# file too, and importing TensorFlow there would keep ~650 MB in a process that runs no test.


def random_conditioner(in_channels: int, out_channels: int, seed: int, spatial: bool):
    """A fixed random nonlinear map usable as a conditioner, for any dtype and batch shape.

    Images (`spatial=True`) get a 3x3 convolution so checkerboard couplings see neighbours;
    the output is large enough (not zero-initialised) to make the couplings non-trivial.
    """
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    if spatial:
        kernel = rng.normal(0, 0.5, (3, 3, in_channels, out_channels))
    else:
        kernel = rng.normal(0, 0.7, (in_channels, out_channels))
    bias = rng.normal(0, 0.3, (out_channels,))

    def conditioner(x):
        k = tf.constant(kernel, x.dtype)
        b = tf.constant(bias, x.dtype)
        if spatial:
            shape = tf.shape(x)
            folded = tf.reshape(x, tf.concat([[-1], shape[-3:]], 0))
            out = tf.nn.conv2d(folded, k, strides=1, padding="SAME")
            out = tf.reshape(out, tf.concat([shape[:-1], [out_channels]], 0))
        else:
            out = tf.tensordot(x, k, axes=[[-1], [0]])
        return tf.tanh(out + b) * 1.5

    return conditioner


def autodiff_log_det(fn, x) -> np.ndarray:
    """log|det J| of `fn` at every batch member of `x` (a tensor [B, *event]) from the full Jacobian.

    One backward pass per output, all inside one traced graph (a `tf.while_loop`,
    `experimental_use_pfor=False`): `fn` and its gradient are traced once per call. Eagerly, the
    first backward pass through a model's traced entry point (`model.encode`) builds its gradient
    function, and every later pass runs op by op: 2-3x the CPU time for a whole model. TensorFlow's
    default (pfor) vectorises the backward passes by rewriting the gradient graph, slower still here.
    """
    import tensorflow as tf

    batch = x.shape[0]

    @tf.function(autograph=False)
    def log_det(x_flat):
        with tf.GradientTape() as tape:
            tape.watch(x_flat)
            y_flat = tf.reshape(fn(tf.reshape(x_flat, x.shape)), [batch, -1])
        jac = tape.batch_jacobian(y_flat, x_flat, experimental_use_pfor=False)
        assert jac.shape[1] == jac.shape[2], f"non-square Jacobian {jac.shape}"
        return tf.linalg.slogdet(jac)[1]

    return log_det(tf.reshape(x, [batch, -1])).numpy()


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


def run_cli(argv, capsys) -> tuple[int, str]:
    """Runs `tfp-flows argv` in-process; returns its exit code and stripped stderr (argparse exits count)."""
    from tfp_flows import cli

    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.strip()


def tolerance(dtype) -> dict:
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)


TINY_GLOW_TRAIN = ["train", "--model", "glow", "--preset", "tiny", "--batch-size", "256", "--warmup-steps", "2", "--samples", "16"]


# Objects built by this worker's shared fixtures (see `shared_directory`), by name.
_BUILT_HERE: dict = {}


def shared_directory(tmp_path_factory, name: str, build):
    """`<the run's temporary root>/name`, written once per test run by `build(path)` and read by every worker.

    pytest-xdist gives each worker its own session, so a session fixture would otherwise be built once per
    worker: the first worker to ask builds it under a file lock while the others wait for it, then reuse it.
    `build`'s return value is kept in `_BUILT_HERE[name]` in the worker that built it.
    """
    import fcntl
    import shutil

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' temporary roots lie side by side in the run's one
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # what a worker that failed half-way left
            _BUILT_HERE[name] = build(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def trained_tiny_run(tmp_path_factory) -> str:
    """A tiny Glow trained 2 epochs on digits through the CLI, once per test run (read-only: copy it)."""
    from tfp_flows import cli

    def train(path):
        assert cli.main(TINY_GLOW_TRAIN + ["--epochs", "2", "--output", str(path / "run")]) == 0

    return str(shared_directory(tmp_path_factory, "trained_tiny_run", train) / "run")


@pytest.fixture(scope="session")
def exported_tiny_glow(tmp_path_factory) -> dict:
    """A tiny Glow (seed 0, initialised on 128 digits) exported once per test run as
    `<export_dir>/1`: `model`, `path`, `export_dir`. Read-only: copy `export_dir` to change it.

    `model` is the exported model itself in the worker that exported it; other workers load its
    Keras file (`glow.keras` beside the export), the same weights."""
    import keras
    from sklearn.datasets import load_digits

    from tfp_flows import export, models

    def build(path):
        model = models.Glow.from_preset("tiny", seed=0)
        model.initialize(load_digits().images[:128, :, :, None].astype(np.float32))
        export.save(model, str(path / "export"), version=1)
        model.save(path / "glow.keras")
        return model

    path = shared_directory(tmp_path_factory, "exported_tiny_glow", build)
    model = _BUILT_HERE["exported_tiny_glow"] if "exported_tiny_glow" in _BUILT_HERE else keras.saving.load_model(path / "glow.keras")
    export_dir = str(path / "export")
    return dict(model=model, path=os.path.join(export_dir, "1"), export_dir=export_dir)


def saved_model_ops(path) -> set[str]:
    """The op types in a SavedModel's graphs and functions (calls of its own library functions left out)."""
    import pathlib

    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString(pathlib.Path(path, "saved_model.pb").read_bytes())
    ops, functions = set(), set()
    for meta_graph in proto.meta_graphs:
        ops |= {node.op for node in meta_graph.graph_def.node}
        for function in meta_graph.graph_def.library.function:
            functions.add(function.signature.name)
            ops |= {node.op for node in function.node_def}
    return ops - functions  # calls of library functions appear as nodes named after them


def non_core_ops(path) -> list[str]:
    """Ops of a SavedModel that a TensorFlow-only process (TF Serving) could not run: Python
    functions and ops outside TensorFlow's core registry."""
    from tensorflow.python.framework import op_def_registry

    return sorted(op for op in saved_model_ops(path) if "PyFunc" in op or op_def_registry.get(op) is None)


def write_raw_wav(path, samples: bytes, channels: int, width: int, rate: int) -> str:
    """A PCM WAV file written with the `wave` module (any channels, sample width and rate)."""
    import wave

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(samples)
    return str(path)


def copy_run(source: str, target) -> str:
    """A private copy of a run directory (tests that change a run must not change the shared one)."""
    import shutil

    return shutil.copytree(source, str(target))


collect_ignore = ["_reload_saved_model.py"]  # a script run in a subprocess, not a test module

# The slowest modules first (measured with `--durations=0`): pytest-xdist's `--dist loadfile` hands
# whole modules to the two workers in collection order (`--no-loadscope-reorder` in setup.cfg; by
# default xdist orders them by test count), so starting with the long ones keeps one worker from
# finishing minutes of work alone at the end. Unlisted modules follow in their own order.
SLOW_MODULES_FIRST = [
    "test_export.py", "test_models.py", "test_tfp_contract.py", "test_reliability.py", "test_distributed.py",
    "test_scale.py", "test_examples.py", "test_docs.py", "test_cli.py", "test_waveglow.py", "test_bijector_math.py",
    "test_cli_own_data.py", "test_spline_coupling.py", "test_conditional_cli.py", "test_jet.py",
    "test_bad_input_table.py", "test_conditional_export.py", "test_actnorm_conv_fold.py", "test_properties.py",
]


def pytest_configure(config):
    # At the end of a session pytest runs gc.collect() five times to report exceptions raised in
    # `__del__`; over a worker's heap of traced TensorFlow graphs each pass takes ~0.7 s (py-spy:
    # 7 s of the suite). One pass still collects and reports them. The key is pytest's own knob
    # (a stash entry, there so its tests can change it), absent in older pytest versions.
    try:
        from _pytest.unraisableexception import gc_collect_iterations_key
    except ImportError:
        return
    config.stash[gc_collect_iterations_key] = 1


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOW_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its order
