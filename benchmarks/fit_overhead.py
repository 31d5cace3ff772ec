"""Per-call overhead of `fit`: the wall time a call spends outside its training steps.

A user who calls `fit` in a loop (notebooks, schedules, the CLI's stages) pays whatever `fit` does
around its steps on every call. This trains a small Glow (8x8x1, levels 2, steps 4, width 64) with
`compile(optimizer=keras.optimizers.Adam(1e-3))` and calls `fit(dataset, steps_per_epoch=n, epochs=1)`
`--calls` times; a callback times each step (batch begin to batch end), and the overhead of a call is
its wall time minus its steps, with the process' CPU time over the same interval beside it (an
overhead with no CPU time is waiting, not work). The first call (data initialisation, tracing) is
reported apart. `--keras` runs the same loop on a plain `keras.Model` (a conv net with an MSE loss) to
tell our overhead from Keras' own.

Run: python benchmarks/fit_overhead.py [--calls 12] [--steps 10] [--keras]
"""
from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_flows import models  # noqa: E402


class StepTimer(keras.callbacks.Callback):
    """Sums the wall time of the steps of one `fit` call."""

    def on_train_begin(self, logs=None):
        self.total = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.begin = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.total += time.perf_counter() - self.begin


def build(plain_keras: bool):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (640, 8, 8, 1)).astype(np.uint8)
    if plain_keras:
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
                                  keras.layers.Conv2D(1, 3, padding="same")])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        x = images.astype(np.float32) / 255.0
        return model, tf.data.Dataset.from_tensor_slices((x, x)).batch(64).repeat()
    keras.utils.set_random_seed(0)
    model = models.Glow(event_shape=(8, 8, 1), levels=2, steps=4, hidden_channels=64)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model, tf.data.Dataset.from_tensor_slices(images).batch(64).repeat()


def run(calls: int = 12, steps: int = 10, plain_keras: bool = False) -> dict:
    model, dataset = build(plain_keras)
    timer = StepTimer()
    rows = []
    for call in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[timer])
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append(dict(call=call, wall_s=round(wall, 4), steps_s=round(timer.total, 4),
                         outside_s=round(wall - timer.total, 4), cpu_s=round(cpu, 4)))
        print(f"call {call:2d}: {wall:6.3f} s, steps {timer.total:6.3f} s, outside the steps {wall - timer.total:6.3f} s "
              f"(process CPU over the call {cpu:6.3f} s)", flush=True)
    later = [row["outside_s"] for row in rows[1:]]
    summary = dict(model="keras conv net" if plain_keras else "tfp_flows Glow", calls=calls, steps_per_call=steps,
                   first_call_outside_s=rows[0]["outside_s"], later_outside_median_s=round(float(np.median(later)), 4),
                   later_outside_max_s=round(float(np.max(later)), 4), rows=rows)
    print(f"outside the steps, calls 2-{calls}: median {summary['later_outside_median_s']:.3f} s, "
          f"max {summary['later_outside_max_s']:.3f} s")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--steps", type=int, default=10, help="steps per fit call")
    parser.add_argument("--keras", action="store_true", help="a plain keras.Model instead of our Glow")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    summary = run(args.calls, args.steps, args.keras)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    return summary


if __name__ == "__main__":
    main()
