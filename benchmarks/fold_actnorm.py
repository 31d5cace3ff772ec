"""Glow with each step's ActNorm folded into its 1x1 convolution, against the unfolded flow (A/B).

Builds two Glows with the same weights, `fold_actnorm=True` and `fold_actnorm=False`, compiled
as a user does (`compile(optimizer=Adam(1e-3))`), and measures in one process, alternating
the two models repeat by repeat (so a busy machine slows both alike):

* `model.sample(n)` img/s (median over repeats, after a warm-up call that traces);
* `model.fit` train img/s on random discrete images (median over repeats of `--train-steps`
  steps each, after a warm-up `fit`);
* the time to compute every step's C x C matrices alone (LU-derived `W`, `W^-1` via the
  triangular solves, the folded `M`, `M^-1`), as a fraction of a sample call: what caching
  them across calls could save at most.

Run: python benchmarks/fold_actnorm.py [--shape 8 8 1 --levels 2 --steps 8 --hidden 128 --batch 64]
     python benchmarks/fold_actnorm.py --shape 32 32 3 --levels 3 --steps 8 --hidden 128 --batch 16
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfp_flows import models  # noqa: E402


def build_pair(args):
    config = dict(
        event_shape=tuple(args.shape), levels=args.levels, steps=args.steps, hidden_channels=args.hidden,
        num_bins=args.num_bins, lu=not args.plain, seed=0,
    )
    folded, unfolded = models.Glow(**config), models.Glow(fold_actnorm=False, **config)
    rng = np.random.default_rng(0)
    folded.initialize(rng.integers(0, args.num_bins, (args.batch,) + tuple(args.shape)))
    unfolded.set_weights(folded.get_weights())
    for model in (folded, unfolded):
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=args.jit_compile)
    return {"folded": folded, "unfolded": unfolded}


def interleaved(models_by_name, run, repeats):
    """Median seconds of `run(model)` per model, the models alternating (and swapping order) each repeat."""
    times = {name: [] for name in models_by_name}
    names = list(models_by_name)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            run(models_by_name[name], repeat)
            times[name].append(time.perf_counter() - start)
    interleaved.best = {name: min(t) for name, t in times.items()}  # the least disturbed repeat
    return {name: statistics.median(t) for name, t in times.items()}


def matrices_only(model):
    """A graph computing every step's folded matrices (forward and inverse) and log-dets, nothing else."""
    pairs = [(a, p) for a, p in zip(model.actnorms, model.permutes)]

    @tf.function(autograph=False)
    def run():
        outs = []
        for actnorm_layer, conv_layer in pairs:
            actnorm, conv = actnorm_layer.bijector(), conv_layer.bijector()
            log_abs_det, inverse_weight = conv._log_abs_det_and_inverse_weight(need_inverse=True)
            scale = tf.exp(tf.convert_to_tensor(actnorm.log_scale))
            outs += [scale[:, None] * tf.transpose(conv.weight()), tf.transpose(inverse_weight) / scale[None, :], log_abs_det]
        return outs

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=(8, 8, 1))
    parser.add_argument("--levels", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--num-bins", type=int, default=256)
    parser.add_argument("--plain", action="store_true", help="plain 1x1 conv matrix (lu=False)")
    parser.add_argument("--batch", type=int, default=64, help="training batch size")
    parser.add_argument("--samples", type=int, default=256, help="images per sample call")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per model (alternating)")
    parser.add_argument("--train-steps", type=int, default=20, help="training steps per timed fit")
    parser.add_argument("--jit-compile", action="store_true", help="compile(jit_compile=True): XLA for fit and sample")
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args(argv)
    print(f"Glow {tuple(args.shape)} levels={args.levels} steps={args.steps} hidden={args.hidden} "
          f"lu={not args.plain} jit_compile={args.jit_compile}; tf {tf.__version__}")
    pair = build_pair(args)
    folded = pair["folded"]
    assert folded._folds_actnorm() and not pair["unfolded"]._folds_actnorm()

    for model in pair.values():  # warm-up: traces the sample graph
        model.sample(args.samples, seed=0).numpy()
    sample_s = interleaved(pair, lambda m, r: m.sample(args.samples, seed=r).numpy(), args.repeats)
    for name, seconds in sample_s.items():
        print(f"sample({args.samples}) {name:9s}: {seconds * 1e3:8.1f} ms  {args.samples / seconds:9.0f} img/s")
    print(f"sample speed-up folded/unfolded: {sample_s['unfolded'] / sample_s['folded']:.3f}x")

    # The matrices' graph against an empty graph reading the same variables: the difference is what
    # computing them costs inside a sample call (the call overhead is paid once there anyway).
    flow_weights = [w for layer in folded.actnorms + folded.permutes for w in layer.weights]
    matrices, reads = matrices_only(folded), tf.function(lambda: [tf.convert_to_tensor(w) for w in flow_weights])
    timings = interleaved({"matrices": matrices, "reads": reads}, lambda fn, r: tf.nest.map_structure(np.asarray, fn()), 41)
    matrix_s = max(timings["matrices"] - timings["reads"], 0.0)
    print(f"all steps' C x C matrices (W, W^-1 solves, M, M^-1): {timings['matrices'] * 1e3:.2f} ms per graph call, "
          f"{matrix_s * 1e3:.2f} ms over a call reading the weights = {100 * matrix_s / sample_s['folded']:.1f}% "
          f"of a folded sample({args.samples}) call")

    if args.skip_train:
        return
    rng = np.random.default_rng(1)
    images = rng.integers(0, args.num_bins, (args.batch * 8,) + tuple(args.shape)).astype(np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(args.batch, drop_remainder=True).prefetch(2)
    for model in pair.values():  # warm-up: traces the train step
        model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
    fit_s = interleaved(pair, lambda m, r: m.fit(dataset, epochs=1, steps_per_epoch=args.train_steps, verbose=0), args.repeats)
    for name, seconds in fit_s.items():
        print(f"fit {args.train_steps} steps x {args.batch} {name:9s}: {seconds:7.2f} s  "
              f"{args.train_steps * args.batch / seconds:8.0f} img/s")
    print(f"train speed-up folded/unfolded: {fit_s['unfolded'] / fit_s['folded']:.3f}x")


if __name__ == "__main__":
    main()
