"""Where the first training step of a Glow goes: construction, data init, Keras set-up, tracing, first run.

A user types `Glow(...)`, `compile(optimizer=keras.optimizers.Adam(1e-3))` and `fit(dataset)`; the
time to the end of the first step is what they wait before anything trains (PyTorch's normflows:
0.1 s at 8x8, 0.2-0.5 s at 32x32x3). Each repeat runs in a fresh process (TensorFlow's own one-time
costs included, as for a user) and reports, in wall and CPU seconds:

  construct    `Glow(...)` and `compile(...)`
  data init    `model.initialize(first batch)`, run by the first `fit` (every ActNorm from the data)
  Keras setup  the rest of `fit` before it traces: data adapter, callbacks, optimizer build
  trace        tracing the training step (the flow, its gradient, the optimizer update); its CPU
               time is the least noisy figure on a shared machine
  outer trace  Keras' wrapper function around the step
  first run    the first call of the traced step: graph optimisation (grappler) and kernels
  first step   `fit` called to the end of step 1 (as `benchmarks/compare_peers.py` reports it)

and the op count of the traced step's graph (by type), which sets most of the trace and first-run
time. Sizes as in issue 28: 8x8x1 (levels 2, steps 4, width 64, batch 64) and 32x32x3 (levels 3,
steps 8, width 128, batch 16). Wall times are trustworthy only on a quiet machine.

`--steady N` also times N more steps (a second `fit` call on the same traced step) and reports
their median, so that a change that shortens the first step can be checked against the steps that
follow. `--grappler off` turns TensorFlow's graph optimiser off for the whole worker process
(`tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})`): most of the
first run is grappler's, and this shows what it buys per step.

Run: python benchmarks/first_step.py [--sizes 8x8 32x32x3] [--repeats 3] [--steady 30] [--grappler off] [--json out.json]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import subprocess
import sys
import time

SIZES = {  # event shape, levels, steps, width, batch
    "8x8": ((8, 8, 1), 2, 4, 64, 64),
    "32x32x3": ((32, 32, 3), 3, 8, 128, 16),
}
PHASES = ("construct", "data_init", "keras_setup", "trace", "outer_trace", "first_run", "first_step")


def worker(size: str, steady: int = 0, grappler: str = "default") -> dict:
    """One fresh-process measurement of `size`; returns phases (wall, cpu) and the step graph's op counts."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    from tensorflow.python.eager.polymorphic_function import tracing_compilation

    from tfp_flows import models

    if grappler == "off":
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    shape, levels, steps, width, batch = SIZES[size]
    images = np.random.default_rng(0).integers(0, 256, (batch * 2,) + shape).astype(np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch)
    marks = {}

    def mark(name):
        marks[name] = (time.perf_counter(), time.process_time())

    keras.utils.set_random_seed(0)
    mark("start")
    model = models.Glow(event_shape=shape, levels=levels, steps=steps, hidden_channels=width)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    mark("constructed")

    initialize = model.initialize

    def timed_initialize(*args, **kwargs):
        mark("init_start")
        out = initialize(*args, **kwargs)
        mark("init_end")
        return out

    model.initialize = timed_initialize
    traces = []  # (depth, start, end, concrete function), in order of completion
    trace_function, depth = tracing_compilation.trace_function, [0]

    def timed_trace(*args, **kwargs):
        start = (time.perf_counter(), time.process_time())
        depth[0] += 1
        try:
            function = trace_function(*args, **kwargs)
        finally:
            depth[0] -= 1
        traces.append((depth[0], start, (time.perf_counter(), time.process_time()), function))
        return function

    tracing_compilation.trace_function = timed_trace

    class FirstStep(keras.callbacks.Callback):
        def on_train_batch_begin(self, index, logs=None):
            if index == 0:
                mark("batch_begin")

        def on_train_batch_end(self, index, logs=None):
            if index == 0:
                mark("batch_end")

    mark("fit")
    model.fit(dataset, epochs=1, steps_per_epoch=1, verbose=0, callbacks=[FirstStep()])
    tracing_compilation.trace_function = trace_function
    del model.initialize

    def span(a, b):
        return [round(b[0] - a[0], 3), round(b[1] - a[1], 3)]

    # Traces of the first step: the outermost (Keras' iterator function) and the step inside it.
    outer = [t for t in traces if t[0] == 0]
    inner = [t for t in traces if t[0] == 1]
    if not outer or not inner:
        raise RuntimeError(f"first_step: expected a nested trace of the train step, got depths {[t[0] for t in traces]}.")
    outer_start, outer_end = outer[0][1], outer[0][2]
    inner_start, inner_end = inner[0][1], inner[-1][2]
    inner_span, outer_span = span(inner_start, inner_end), span(outer_start, outer_end)
    phases = dict(
        construct=span(marks["start"], marks["constructed"]),
        data_init=span(marks["init_start"], marks["init_end"]),
        keras_setup=[round(a - b, 3) for a, b in zip(span(marks["fit"], outer_start), span(marks["init_start"], marks["init_end"]))],
        trace=inner_span,
        outer_trace=[round(a - b, 3) for a, b in zip(outer_span, inner_span)],
        first_run=span(outer_end, marks["batch_end"]),
        first_step=span(marks["fit"], marks["batch_end"]),
    )
    graph = max((t[3] for t in inner), key=lambda f: len(f.graph.get_operations())).graph
    operations = graph.get_operations()
    counts = collections.Counter(op.type for op in operations)
    result = dict(size=size, phases=phases, ops=len(operations), op_types=dict(counts.most_common(12)))
    if steady:
        seconds = []

        class StepTimer(keras.callbacks.Callback):
            def on_train_batch_begin(self, index, logs=None):
                self.begin = time.perf_counter()

            def on_train_batch_end(self, index, logs=None):
                seconds.append(time.perf_counter() - self.begin)

        model.fit(dataset.repeat(), epochs=1, steps_per_epoch=steady, verbose=0, callbacks=[StepTimer()])
        result["steady_step"] = round(statistics.median(seconds), 5)
    return result


def run(sizes, repeats: int, steady: int = 0, grappler: str = "default") -> dict:
    results = {}
    for size in sizes:
        runs = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--worker", size, "--steady", str(steady), "--grappler", grappler],
                capture_output=True, text=True, check=False,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            )
            if out.returncode:
                raise RuntimeError(f"first_step: the {size} worker failed:\n{out.stderr[-3000:]}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[size] = runs
    return results


def summary_lines(results: dict) -> list[str]:
    lines = []
    for size, runs in results.items():
        lines.append(f"{size} ({len(runs)} fresh processes; median [min] seconds)")
        lines.append(f"  {'phase':12s} {'wall':>15s} {'cpu':>15s}")
        for phase in PHASES:
            wall = [r["phases"][phase][0] for r in runs]
            cpu = [r["phases"][phase][1] for r in runs]
            lines.append(f"  {phase:12s} {statistics.median(wall):7.2f} [{min(wall):5.2f}] {statistics.median(cpu):7.2f} [{min(cpu):5.2f}]")
        if "steady_step" in runs[0]:
            steady = [r["steady_step"] for r in runs]
            lines.append(f"  {'steady step':12s} {statistics.median(steady):7.3f} [{min(steady):5.3f}] (median of the later steps)")
        lines.append(f"  train-step graph: {runs[0]['ops']} ops; {runs[0]['op_types']}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steady", type=int, default=0, help="also time this many later steps (median)")
    parser.add_argument("--grappler", choices=("default", "off"), default="default", help="TensorFlow's graph optimiser")
    parser.add_argument("--json", help="also write the raw per-process results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.steady, args.grappler)))
        return
    results = run(args.sizes, args.repeats, args.steady, args.grappler)
    print("\n".join(summary_lines(results)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()
