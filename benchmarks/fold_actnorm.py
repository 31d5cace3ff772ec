"""Glow with each step's ActNorm folded into its 1x1 convolution, against the unfolded flow (A/B).

Builds two Glows with the same weights, `fold_actnorm=True` and `fold_actnorm=False`, compiled
as a user does (`compile(optimizer=Adam(1e-3))`), and measures in one process, alternating
the two models repeat by repeat (so a busy machine slows both alike):

* `model.sample(n)` img/s (median over repeats, after a warm-up call that traces);
* `model.fit` train img/s on random discrete images (median over repeats of `--train-steps`
  steps each, after a warm-up `fit`);
* the time to compute every step's C x C matrices alone (LU-derived `W`, `W^-1` via the
  triangular solves, the folded `M`, `M^-1`), as a fraction of a sample call: what caching
  them across calls could save at most (over a graph that only reads the same weights);
* the ActNorm + 1x1 conv ops alone at each level's shape, folded and not: inverse at the
  sample batch, forward + gradients at the training batch. What the fold saves on the ops it
  touches, and their share of a sample call (an upper bound: it includes one call overhead).

Medians over the repeats are printed with the best repeat (the least disturbed by other work).

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
from tfp_flows.bijectors import FoldedActNormConv1x1  # noqa: E402


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


def flow_ops_only(model, fold: bool, forward: bool, batch: int):
    """A graph running only every step's ActNorm + 1x1 convolution (folded or not) on tensors of each level's shape.

    Forward (the training direction) also takes the gradients of a loss of the outputs and
    log-dets with respect to the flow's parameters and inputs, as a train step does.
    """
    inputs = [tf.random.normal((batch,) + shape) for shape in model.level_shapes]
    variables = [v for layer in model.actnorms + model.permutes for v in layer.trainable_variables]

    def steps(inputs):
        outs, log_det = [], 0.0
        for level, x in enumerate(inputs):
            for step in range(model.steps):
                i = level * model.steps + step
                actnorm, conv = model.actnorms[i].bijector(), model.permutes[i].bijector()
                if fold:
                    folded = FoldedActNormConv1x1(actnorm, conv)
                    x, step_log_det = (folded._forward_and_log_det if forward else folded._inverse_and_log_det)(x)
                elif forward:
                    x, first = actnorm._forward_and_log_det(x)
                    x, second = conv._forward_and_log_det(x)
                    step_log_det = first + second
                else:
                    x, first = conv._inverse_and_log_det(x)
                    x, second = actnorm._inverse_and_log_det(x)
                    step_log_det = first + second
                log_det += tf.reduce_sum(step_log_det)
            outs.append(x)
        return outs, log_det

    @tf.function(autograph=False)
    def run():
        if not forward:
            return steps(inputs)[0]
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outs, log_det = steps(inputs)
            loss = tf.add_n([tf.reduce_sum(x * x) for x in outs]) - log_det
        return tape.gradient(loss, variables + inputs)

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
    best = interleaved.best
    for name, seconds in sample_s.items():
        print(f"sample({args.samples}) {name:9s}: median {seconds * 1e3:8.1f} ms  {args.samples / seconds:7.0f} img/s; "
              f"best {args.samples / best[name]:7.0f} img/s")
    print(f"sample speed-up folded/unfolded: median {sample_s['unfolded'] / sample_s['folded']:.3f}x, "
          f"best {best['unfolded'] / best['folded']:.3f}x")

    # The matrices' graph against an empty graph reading the same variables: the difference is what
    # computing them costs inside a sample call (the call overhead is paid once there anyway).
    flow_weights = [w for layer in folded.actnorms + folded.permutes for w in layer.weights]
    matrices, reads = matrices_only(folded), tf.function(lambda: [tf.convert_to_tensor(w) for w in flow_weights])
    timings = interleaved({"matrices": matrices, "reads": reads}, lambda fn, r: tf.nest.map_structure(np.asarray, fn()), 41)
    matrix_s = max(timings["matrices"] - timings["reads"], 0.0)
    print(f"all steps' C x C matrices (W, W^-1 solves, M, M^-1): {timings['matrices'] * 1e3:.2f} ms per graph call, "
          f"{matrix_s * 1e3:.2f} ms over a call reading the weights = {100 * matrix_s / sample_s['folded']:.1f}% "
          f"of a folded sample({args.samples}) call")

    # The ops the fold acts on, alone: how much it saves on them, and their share of a whole call.
    for direction, forward, batch in (("inverse (sample)", False, args.samples), ("forward + gradients (train)", True, args.batch)):
        graphs = {name: flow_ops_only(folded, name == "folded", forward, batch) for name in ("folded", "unfolded")}
        for graph in graphs.values():
            graph()
        ops_s = interleaved(graphs, lambda graph, r: [t.numpy() for t in graph()], 21)
        share = f" = {100 * ops_s['unfolded'] / sample_s['unfolded']:.1f}% of an unfolded sample call" if not forward else ""
        print(f"ActNorm + 1x1 conv ops only, {direction}, batch {batch}: folded {ops_s['folded'] * 1e3:.2f} ms, "
              f"unfolded {ops_s['unfolded'] * 1e3:.2f} ms ({ops_s['unfolded'] / ops_s['folded']:.2f}x){share}")

    if args.skip_train:
        return
    rng = np.random.default_rng(1)
    images = rng.integers(0, args.num_bins, (args.batch * 8,) + tuple(args.shape)).astype(np.uint8)
    dataset = tf.data.Dataset.from_tensor_slices(images).repeat().batch(args.batch, drop_remainder=True).prefetch(2)
    for model in pair.values():  # warm-up: traces the train step
        model.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0)
    fit_s = interleaved(pair, lambda m, r: m.fit(dataset, epochs=1, steps_per_epoch=args.train_steps, verbose=0), args.repeats)
    best, images_per_fit = interleaved.best, args.train_steps * args.batch
    for name, seconds in fit_s.items():
        print(f"fit {args.train_steps} steps x {args.batch} {name:9s}: median {seconds:7.2f} s  "
              f"{images_per_fit / seconds:6.0f} img/s; best {images_per_fit / best[name]:6.0f} img/s")
    print(f"train speed-up folded/unfolded: median {fit_s['unfolded'] / fit_s['folded']:.3f}x, "
          f"best {best['unfolded'] / best['folded']:.3f}x")


if __name__ == "__main__":
    main()
