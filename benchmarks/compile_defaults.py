"""Which `compile()` settings should be the defaults: each choice measured with `fit` and `sample`.

For a Glow at 8x8x1 (digits-sized) and at 32x32x3 (CIFAR-sized), trains with Keras' own `fit`
on an in-memory dataset and samples with `model.sample`, once per setting:

* `defaults`: `model.compile()` (our `default_optimizer`, fused Adam), no flags;
* `jit_compile=True`: the train step and `sample` under XLA;
* `steps_per_execution=8`: eight train steps per call into the graph;
* `mixed_bfloat16`: `keras.mixed_precision.set_global_policy("mixed_bfloat16")` before building;
* `keras_adam`: `compile(optimizer=keras.optimizers.Adam(1e-3), fused_optimizer=False)` (Keras' own update).

Reports the first `fit` call (trace + compile + one epoch), steady training img/s (median of
`--repeats` timed epochs) and `sample` img/s, with the device TensorFlow found.

Run: python benchmarks/compile_defaults.py [--quick] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_flows import models  # noqa: E402

import results_file  # noqa: E402  benchmarks/results_file.py, beside this script

SETTINGS = ("defaults", "jit_compile=True", "steps_per_execution=8", "mixed_bfloat16", "keras_adam")


def build(config, setting):
    policy = "mixed_bfloat16" if setting == "mixed_bfloat16" else "float32"
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = models.Glow(event_shape=config["shape"], levels=config["levels"], steps=config["steps"],
                            hidden_channels=config["hidden"], num_bins=256)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if setting == "jit_compile=True":
        model.compile(jit_compile=True)
    elif setting == "steps_per_execution=8":
        model.compile(steps_per_execution=8)
    elif setting == "keras_adam":
        model.compile(optimizer=keras.optimizers.Adam(1e-3), fused_optimizer=False)
    else:
        model.compile()
    return model


def measure(config, setting, repeats, steps_per_epoch, sample_batch):
    rng = np.random.default_rng(0)
    batch = config["batch"]
    images = rng.integers(0, 256, (batch * steps_per_epoch,) + config["shape"]).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(batch, drop_remainder=True).cache()
    model = build(config, setting)
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    first = time.perf_counter() - start
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        rates.append(len(images) / (time.perf_counter() - start))
    model.sample(sample_batch, seed=0).numpy()  # trace
    sample_rates = []
    for repeat in range(3):
        start = time.perf_counter()
        model.sample(sample_batch, seed=repeat).numpy()
        sample_rates.append(sample_batch / (time.perf_counter() - start))
    row = dict(setting=setting, first_fit_s=round(first, 2), train_img_s=round(statistics.median(rates), 1),
               sample_img_s=round(statistics.median(sample_rates), 1))
    print(f"  {setting:24s} first fit {first:6.1f} s  train {row['train_img_s']:8.1f} img/s  "
          f"sample {row['sample_img_s']:8.1f} img/s", flush=True)
    del model
    keras.backend.clear_session()
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few steps (a smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per setting (median reported)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--markdown", default=None, help="also write the table as a results file (benchmarks/results/)")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=SETTINGS)
    args = parser.parse_args(argv)
    configs = [
        dict(shape=(8, 8, 1), levels=2, steps=8, hidden=128, batch=64, steps_per_epoch=16),
        dict(shape=(32, 32, 3), levels=3, steps=8, hidden=128, batch=16, steps_per_epoch=8),
    ]
    if args.quick:
        configs = [dict(shape=(8, 8, 1), levels=2, steps=1, hidden=8, batch=8, steps_per_epoch=8)]
        args.repeats = 1
    devices = [d.device_type for d in tf.config.list_physical_devices()]
    print(f"devices: {devices}", flush=True)
    results = dict(devices=devices, configs=[])
    for config in configs:
        print(f"Glow {config['shape']} L={config['levels']} K={config['steps']} w={config['hidden']} batch={config['batch']}",
              flush=True)
        rows = [measure(config, s, args.repeats, config["steps_per_epoch"], 64 if args.quick else 256) for s in args.settings]
        results["configs"].append(dict(config={k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}, rows=rows))
    table = ["| config | setting | first fit (s) | train img/s | sample img/s |", "|---|---|---:|---:|---:|"]
    for entry in results["configs"]:
        c = entry["config"]
        label = f"Glow {tuple(c['shape'])} L={c['levels']} K={c['steps']} w={c['hidden']} b={c['batch']}"
        for row in entry["rows"]:
            table.append(f"| {label} | {row['setting']} | {row['first_fit_s']} | {row['train_img_s']} | {row['sample_img_s']} |")
    print("\n" + "\n".join(table))
    if args.markdown:
        results_file.write(args.markdown, table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
