"""Time to quality: wall time for TFP's Glow and ours (defaults) to reach the same held-out bits/dim.

On scikit-learn's digits (8x8x1, 17 levels; 1500 train, 297 held out), TFP 0.25's `tfb.Glow`
trains for its budget (`--steps` Adam steps of batch 64, as a TFP user writes the loop: one
`tf.function` step), evaluated on the held-out digits every `--eval-every` steps. Its best
held-out bits/dim is the target. Our Glow of the same size then trains as a user types it,
`model.compile(optimizer=keras.optimizers.Adam(1e-3))` and `model.fit`, for up to twice
that budget, and the wall time at which it first reaches the target is reported.
Evaluation time is excluded from both clocks; tracing and compiling are included.

Bits/dim are measured the same way for both: every held-out digit at its bin centre,
`(-log p(y) + D log 17) / (D log 2)` with `y = (x + 0.5) / 17`.

Run: python benchmarks/time_to_quality.py [--steps 300] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402
import tf_keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from tfp_flows import models  # noqa: E402

tfb, tfd = tfp.bijectors, tfp.distributions
SHAPE, NUM_LEVELS, BATCH, LEARNING_RATE = (8, 8, 1), 17, 64, 1e-3
D = int(np.prod(SHAPE))


def digits(seed=0):
    images = load_digits().images[..., None].astype(np.float32)  # levels 0..16
    order = np.random.default_rng(seed).permutation(len(images))
    return images[order[:1500]], images[order[1500:]]


def bits_per_dim(log_prob) -> float:
    return float(np.mean((-np.asarray(log_prob) + D * math.log(NUM_LEVELS)) / (D * math.log(2.0))))


def tfp_glow_distribution(shape, levels, steps, hidden) -> tfd.TransformedDistribution:
    """TFP's `tfb.Glow` (its default coupling and exit networks, `num_hidden=hidden`) over a standard normal."""
    glow = tfb.Glow(
        output_shape=shape, num_glow_blocks=levels, num_steps_per_block=steps,
        coupling_bijector_fn=lambda s: tfb.GlowDefaultNetwork(s, num_hidden=hidden),
        exit_bijector_fn=tfb.GlowDefaultExitNetwork, seed=0,
    )
    return tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), glow.inverse_event_shape(shape)), glow)


def tfp_train_step(dist, variables, optimizer):
    """A TFP user's training step: the negative log-likelihood of a batch, one optimizer step, in one graph."""

    @tf.function
    def train_step(y):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(y))
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return train_step


class _Clock:
    """Training wall time with the evaluations taken out."""

    def __init__(self):
        self.start, self.paused = time.perf_counter(), 0.0

    def elapsed(self):
        return time.perf_counter() - self.start - self.paused

    def evaluate(self, fn):
        begin = time.perf_counter()
        value = fn()
        self.paused += time.perf_counter() - begin
        return value


def train_tfp(train, test, steps, eval_every, levels, steps_per_level, hidden):
    """TFP's Glow: a `tf.function` train step on uniformly dequantized batches; returns [(step, seconds, bpd)]."""
    clock = _Clock()
    dist = tfp_glow_distribution(SHAPE, levels, steps_per_level, hidden)
    rng = np.random.default_rng(1)
    dequantize = lambda x: ((x + rng.uniform(size=x.shape)) / NUM_LEVELS).astype(np.float32)  # noqa: E731
    dist.log_prob(dequantize(train[:BATCH]))  # creates the variables; ActNorm initialises on a real batch
    train_step = tfp_train_step(dist, dist.bijector.trainable_variables, tf_keras.optimizers.Adam(LEARNING_RATE))
    held_out = tf.constant((test + 0.5) / NUM_LEVELS)
    log_prob = tf.function(dist.log_prob)
    curve = []
    for step in range(1, steps + 1):
        batch = train[rng.integers(0, len(train), BATCH)]
        train_step(tf.constant(dequantize(batch)))
        if step % eval_every == 0 or step == steps:
            bpd = clock.evaluate(lambda: bits_per_dim(log_prob(held_out).numpy()))
            curve.append((step, round(clock.elapsed(), 2), round(bpd, 4)))
    return curve


def train_ours(train, test, steps, eval_every, levels, steps_per_level, hidden, target=None):
    """Our Glow with what a user types; returns [(step, seconds, bpd)], stopping once `target` is reached."""
    keras.utils.set_random_seed(0)
    clock = _Clock()
    model = models.Glow(event_shape=SHAPE, levels=levels, steps=steps_per_level, hidden_channels=hidden, num_bins=NUM_LEVELS)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE))
    curve = []

    class Evaluate(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            step = int(self.model.optimizer.iterations.numpy())
            if step % eval_every and step != steps:
                return
            bpd = clock.evaluate(lambda: bits_per_dim(model.log_prob((test + 0.5) / NUM_LEVELS).numpy()))
            curve.append((step, round(clock.elapsed(), 2), round(bpd, 4)))
            if (target is not None and bpd <= target) or step >= steps:
                self.model.stop_training = True

    epochs = math.ceil(steps * BATCH / len(train)) + 1
    model.fit(train, batch_size=BATCH, epochs=epochs, verbose=0, callbacks=[Evaluate()])
    return curve


def reached(curve, target):
    """(step, seconds) of the first evaluation at or below `target`, or None."""
    return next(((step, seconds) for step, seconds, bpd in curve if bpd <= target + 1e-9), None)


def run(steps=300, eval_every=25, levels=2, steps_per_level=4, hidden=64):
    train, test = digits()
    tfp_curve = train_tfp(train, test, steps, eval_every, levels, steps_per_level, hidden)
    target = min(bpd for _, _, bpd in tfp_curve)
    ours_curve = train_ours(train, test, 2 * steps, eval_every, levels, steps_per_level, hidden, target=target)
    result = dict(
        config=dict(shape=list(SHAPE), levels=levels, steps=steps_per_level, hidden=hidden, batch=BATCH, budget=steps),
        target_bpd=target, tfp=reached(tfp_curve, target), ours=reached(ours_curve, target),
        ours_best_bpd=min(bpd for _, _, bpd in ours_curve), tfp_curve=tfp_curve, ours_curve=ours_curve,
    )
    tfp_at, ours_at = result["tfp"], result["ours"]
    print(f"target (TFP's best held-out bpd in {steps} steps): {target:.4f}")
    print(f"  TFP tfb.Glow reaches it at step {tfp_at[0]} after {tfp_at[1]:.1f} s")
    if ours_at:
        print(f"  tfp_flows Glow (defaults) reaches it at step {ours_at[0]} after {ours_at[1]:.1f} s "
              f"({tfp_at[1] / ours_at[1]:.2f}x TFP's speed to quality)")
    else:
        print(f"  tfp_flows Glow (defaults) does not reach it in {2 * steps} steps (best {result['ours_best_bpd']:.4f})")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="TFP's budget in train steps (ours gets up to twice)")
    parser.add_argument("--eval-every", type=int, default=25)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    result = run(args.steps, args.eval_every)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return result


if __name__ == "__main__":
    main()
