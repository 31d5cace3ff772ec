"""Side-by-side: TFP 0.25's own flows against tfp_flows, one process, same data and sizes.

Compares TFP's `tfb.Glow` (GlowDefaultNetwork / GlowDefaultExitNetwork, `num_hidden` set to
the same width) with `tfp_flows.models.Glow` (same levels, steps, width, affine coupling),
and TFP's `tfb.RealNVP` (Keras MLP conditioners) with our RealNVP and NICE on flat vectors.
For each: parameter count, first training step time (trace + compile), steady-state
training and sampling images/s, peak resident memory, and ratios ours / TFP; a Glow with
the paper's 32 steps per level (start-up against depth); how close a Glow training step
comes to the machine's float32 matmul FLOP/s (the defaults and our best); the memory
`recompute=True` saves; and the time each library takes to reach the held-out bits/dim
TFP's Glow reaches in its budget on digits (`time_to_quality.py`).

Run: python benchmarks/compare_tfp.py [--quick] [--json results.json]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402

from tfp_flows import models  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # benchmarks/, also when run by runpy
import time_to_quality  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions


# ----------------------------------------------------------------------------- measurement
def reset_peak_rss() -> int:
    """Resets the kernel's peak-RSS counter (VmHWM) of this process; returns the current RSS in MB."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status_mb("VmRSS")


def peak_rss_mb() -> int:
    return _status_mb("VmHWM")


def _status_mb(key: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def measure(name, build, data, batch, steps, sample_batch):
    """`build()` -> (train_step(y) -> loss, sample(n) -> images, num_params)."""
    gc.collect()
    base_rss = reset_peak_rss()
    train_step, sample, num_params = build()
    y = tf.constant(data[:batch])
    start = time.perf_counter()
    float(train_step(y))
    first = time.perf_counter() - start
    float(train_step(y))  # a second call can still specialise
    start = time.perf_counter()
    for _ in range(steps):
        loss = train_step(y)
    float(loss)
    train_rate = steps * batch / (time.perf_counter() - start)
    sample(sample_batch).numpy()  # trace
    sample(sample_batch).numpy()
    times = []
    for _ in range(10):  # the median call: single calls of a few ms are noisy on a shared CPU
        start = time.perf_counter()
        sample(sample_batch).numpy()
        times.append(time.perf_counter() - start)
    sample_rate = sample_batch / float(np.median(times))
    result = dict(name=name, params=int(num_params), first_step_s=round(first, 2), train_img_s=round(train_rate, 1),
                  sample_img_s=round(sample_rate, 1), peak_rss_mb=peak_rss_mb() - base_rss, final_loss=float(loss))
    print(f"  {name:32s} params {num_params:>9,d}  first step {first:6.1f} s  train {train_rate:8.1f} img/s  "
          f"sample {sample_rate:8.1f} img/s  peak +{result['peak_rss_mb']} MB", flush=True)
    return result


# ----------------------------------------------------------------------------- TFP flows
def _tfp_functions(dist, variables, optimizer):
    """The traced training step and sampler of a TFP distribution, and its parameter count."""

    sample = tf.function(lambda n: dist.sample(n, seed=1))
    return time_to_quality.tfp_train_step(dist, variables, optimizer), sample, sum(int(np.prod(v.shape)) for v in variables)


def tfp_glow(shape, levels, steps, hidden):
    def build():
        dist = time_to_quality.tfp_glow_distribution(shape, levels, steps, hidden)
        dist.log_prob(tf.zeros((1,) + shape) + 0.5)  # creates the variables (and runs ActNorm's init)
        return _tfp_functions(dist, dist.bijector.trainable_variables, tf_keras.optimizers.Adam(1e-4))

    return build


def tfp_realnvp(dims, couplings, hidden):
    def build():
        nets = []
        bijectors = []
        for i in range(couplings):
            net = keras.Sequential([keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(hidden, activation="relu"),
                                    keras.layers.Dense(2 * (dims - dims // 2), kernel_initializer="zeros")])
            nets.append(net)

            def fn(x, units, net=net):  # TFP calls fn(x, units); a Keras 3 layer takes tensors only
                shift, log_scale = tf.split(net(x), 2, axis=-1)
                return shift[..., :units], tf.tanh(log_scale[..., :units])

            bijectors += [tfb.RealNVP(num_masked=dims // 2, shift_and_log_scale_fn=fn), tfb.Permute(np.arange(dims)[::-1].copy())]
        dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [dims]), tfb.Chain(bijectors[:-1]))
        dist.log_prob(tf.zeros((1, dims)))
        return _tfp_functions(dist, [v for net in nets for v in net.trainable_variables], keras.optimizers.Adam(1e-4))

    return build


# ----------------------------------------------------------------------------- ours
def ours(make_model, jit, policy=None):
    def build():
        if policy:
            keras.mixed_precision.set_global_policy(policy)
        try:
            model = make_model()
        finally:
            keras.mixed_precision.set_global_policy("float32")
        optimizer = keras.optimizers.Adam(1e-4)
        optimizer.build(model.trainable_variables)

        def step(y):
            with tf.GradientTape() as tape:
                loss = -tf.reduce_mean(model.log_prob(y))
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        decode = tf.function(model.decode, jit_compile=jit)
        sample = lambda n: decode(tf.random.normal([n, model.num_dims]))  # noqa: E731
        return tf.function(step, jit_compile=jit), sample, model.count_params()

    return build


def ours_defaults(make_model):
    """What a user types: `compile(optimizer)`, then Keras' own train step (`train_on_batch`, as `fit` runs it)
    and `model.sample(n)` with no flags."""

    def build():
        model = make_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        model.initialize(tf.zeros((2,) + tuple(model.event_shape)))

        def step(y):
            return model.train_on_batch(y * (model.num_bins or 1.0) // 1.0, return_dict=True)["loss"]

        return step, lambda n: model.sample(n), model.count_params()

    return build


# ----------------------------------------------------------------------------- FLOPs
def glow_train_flops(shape, levels, steps, hidden, batch) -> float:
    """Conv and matmul FLOPs of one Glow training step (backward ~ 2x forward)."""
    h, w, c = shape
    forward = 0.0
    for level in range(levels):
        h, w, c = h // 2, w // 2, c * 4
        pixels = h * w
        cond_in, cond_out = c - c // 2, 2 * (c - c // 2)
        per_step = 2 * pixels * (9 * c // 2 * hidden + hidden * hidden + 9 * hidden * cond_out) + 2 * pixels * c * c
        forward += steps * per_step
        del cond_in
        if level < levels - 1:
            forward += 2 * pixels * 9 * (c - c // 2) * 2 * (c // 2)  # split prior conv
            c = c - c // 2
    return 3.0 * forward * batch


def matmul_flops_per_s(n=2048, repeats=10) -> float:
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    mm = tf.function(lambda: tf.matmul(a, b))
    mm().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = mm()
    out.numpy()
    return 2.0 * n**3 * repeats / (time.perf_counter() - start)


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and fewer steps (smoke test)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    steps = 3 if args.quick else 10
    rng = np.random.default_rng(0)
    glow_configs = [
        dict(shape=(32, 32, 3), levels=3, steps=2 if args.quick else 8, hidden=32 if args.quick else 128, batch=8 if args.quick else 16),
        dict(shape=(8, 8, 1), levels=2, steps=2 if args.quick else 8, hidden=32 if args.quick else 128, batch=64),
        # Depth: the paper's 32 steps per level. Start-up grows with depth; only TFP and our defaults.
        dict(shape=(32, 32, 3), levels=3, steps=3 if args.quick else 32, hidden=32 if args.quick else 128, batch=8 if args.quick else 16,
             variants=("tfp", "ours_defaults")),
    ]
    results = dict(glow=[], vectors=[], machine={})
    flops_peak = matmul_flops_per_s(1024 if args.quick else 2048)
    results["machine"]["matmul_gflops"] = round(flops_peak / 1e9, 1)
    print(f"float32 matmul: {flops_peak / 1e9:.1f} GFLOP/s", flush=True)

    for cfg in glow_configs:
        shape, batch = cfg["shape"], cfg["batch"]
        data = ((rng.integers(0, 256, (batch,) + shape) + rng.uniform(size=(batch,) + shape)) / 256).astype(np.float32)
        print(f"Glow {shape} L={cfg['levels']} K={cfg['steps']} hidden={cfg['hidden']} batch={batch}", flush=True)
        make = lambda recompute=False: models.Glow(event_shape=shape, levels=cfg["levels"], steps=cfg["steps"],  # noqa: E731
                                                   hidden_channels=cfg["hidden"], num_bins=256, recompute=recompute)
        row = dict(config={k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items() if k != "variants"})
        variants = dict(
            tfp=("TFP tfb.Glow", tfp_glow(shape, cfg["levels"], cfg["steps"], cfg["hidden"])),
            ours_defaults=("tfp_flows Glow (defaults)", ours_defaults(make)),
            ours=("tfp_flows Glow", ours(make, jit=False)),
            ours_xla=("tfp_flows Glow (XLA)", ours(make, jit=True)),
            ours_recompute=("tfp_flows Glow (recompute)", ours(lambda: make(True), jit=False)),
            ours_bf16=("tfp_flows Glow (mixed_bfloat16)", ours(make, jit=False, policy="mixed_bfloat16")),
        )
        for key in cfg.get("variants", variants):
            row[key] = measure(*variants[key], data, batch, steps, batch)
        flops = glow_train_flops(shape, cfg["levels"], cfg["steps"], cfg["hidden"], batch)
        row["step_gflop"] = round(flops / 1e9, 2)
        row["fraction_of_matmul_peak_defaults"] = round(flops * row["ours_defaults"]["train_img_s"] / batch / flops_peak, 3)
        row["ratios_defaults"] = _ratios(row["ours_defaults"], row["tfp"])
        if "ours" in row:
            best = max(row["ours"], row["ours_xla"], key=lambda r: r["train_img_s"])  # float32, like TFP
            row["fraction_of_matmul_peak"] = round(flops * best["train_img_s"] / batch / flops_peak, 3)
            row["ratios"] = _ratios(best, row["tfp"], first_step_row=row["ours"])
            row["recompute_memory_saved_mb"] = row["ours"]["peak_rss_mb"] - row["ours_recompute"]["peak_rss_mb"]
        results["glow"].append(row)

    dims, couplings, hidden, batch = 64, 8, 256, 256
    data = rng.normal(size=(batch, dims)).astype(np.float32)
    print(f"Vectors D={dims}, {couplings} couplings, MLP 2 x {hidden}, batch {batch}", flush=True)
    row = dict(config=dict(dims=dims, couplings=couplings, hidden=hidden, batch=batch))
    row["tfp"] = measure("TFP tfb.RealNVP", tfp_realnvp(dims, couplings, hidden), data, batch, steps, batch)
    row["ours_realnvp"] = measure("tfp_flows RealNVP", ours(lambda: models.RealNVP(
        event_shape=(dims,), num_bins=None, num_couplings=couplings, filters=hidden, hidden_layers=2), jit=False), data, batch, steps, batch)
    row["ours_nice"] = measure("tfp_flows NICE", ours(lambda: models.NICE(
        event_shape=(dims,), num_bins=None, num_couplings=couplings, hidden_units=hidden, hidden_layers=2, prior="normal"),
        jit=False), data, batch, steps, batch)
    row["ratios_realnvp"] = _ratios(row["ours_realnvp"], row["tfp"])
    results["vectors"].append(row)

    print("Time to quality on digits (TFP's Glow sets the target in its budget)", flush=True)
    results["time_to_quality"] = time_to_quality.run(steps=50 if args.quick else 300, eval_every=25)

    print_table(results)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


def _ratios(ours_row, tfp_row, first_step_row=None):
    """Throughput ratios from `ours_row`; the first-step ratio from `first_step_row` (graph mode, no XLA compile)."""
    first_step_row = first_step_row or ours_row
    return dict(
        train=round(ours_row["train_img_s"] / tfp_row["train_img_s"], 2),
        sample=round(ours_row["sample_img_s"] / tfp_row["sample_img_s"], 2),
        first_step=round(first_step_row["first_step_s"] / tfp_row["first_step_s"], 2),
        params=round(ours_row["params"] / tfp_row["params"], 2),
    )


def print_table(results):
    print("\n| config | flow | params | first step (s) | train img/s | sample img/s | peak RSS (MB) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in results["glow"]:
        c = row["config"]
        label = f"Glow {tuple(c['shape'])} L={c['levels']} K={c['steps']} w={c['hidden']} b={c['batch']}"
        for key in ("tfp", "ours_defaults", "ours", "ours_xla", "ours_recompute", "ours_bf16"):
            if key not in row:
                continue
            r = row[key]
            print(f"| {label} | {r['name']} | {r['params']:,} | {r['first_step_s']} | {r['train_img_s']} | {r['sample_img_s']} | {r['peak_rss_mb']} |")
        if "ratios" in row:
            print(f"| {label} | ratio ours/TFP (throughput: best of ours; first step: graph mode) | {row['ratios']['params']} | "
                  f"{row['ratios']['first_step']} | {row['ratios']['train']} | {row['ratios']['sample']} | |")
        rd = row["ratios_defaults"]
        print(f"| {label} | ratio defaults/TFP | {rd['params']} | {rd['first_step']} | {rd['train']} | {rd['sample']} | |")
    for row in results["vectors"]:
        c = row["config"]
        label = f"vectors D={c['dims']} {c['couplings']} couplings w={c['hidden']} b={c['batch']}"
        for key in ("tfp", "ours_realnvp", "ours_nice"):
            r = row[key]
            print(f"| {label} | {r['name']} | {r['params']:,} | {r['first_step_s']} | {r['train_img_s']} | {r['sample_img_s']} | {r['peak_rss_mb']} |")
        rr = row["ratios_realnvp"]
        print(f"| {label} | ratio RealNVP ours/TFP | {rr['params']} | {rr['first_step']} | {rr['train']} | {rr['sample']} | |")
    print(f"\nfloat32 matmul peak: {results['machine']['matmul_gflops']} GFLOP/s")
    for row in results["glow"]:
        c = row["config"]
        line = (f"Glow {tuple(c['shape'])} K={c['steps']}: {row['step_gflop']} GFLOP per training step; the defaults reach "
                f"{100 * row['fraction_of_matmul_peak_defaults']:.1f}% of the matmul peak")
        if "fraction_of_matmul_peak" in row:
            line += (f", the best of ours {100 * row['fraction_of_matmul_peak']:.1f}%; "
                     f"recompute saves {row['recompute_memory_saved_mb']} MB peak RSS")
        print(line)
    ttq = results.get("time_to_quality")
    if ttq:
        ours_at = ttq["ours"]
        reached = f"{ours_at[1]} s (step {ours_at[0]})" if ours_at else f"not reached (best {ttq['ours_best_bpd']})"
        print(f"\n| time to {ttq['target_bpd']} held-out bits/dim on digits (TFP's best in {ttq['config']['budget']} steps) "
              f"| TFP tfb.Glow {ttq['tfp'][1]} s (step {ttq['tfp'][0]}) | tfp_flows Glow (defaults) {reached} |")


if __name__ == "__main__":
    main()
