"""Where a Glow training step spends its time: the coupling networks versus everything else.

Times (1) a full training step of our Glow and (2) a step that runs only its coupling
networks (the same layers, on inputs of the same shapes) with gradients. The difference
is the flow's own cost: ActNorm, 1x1 convolutions, squeezes, splits, log-dets. (3) The
squeezes and channel splits alone (forward + gradient), to see what fusing them could save.

Run: python benchmarks/profile_glow_step.py [--levels 3 --steps 8 --hidden 128 --batch 16]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from tfp_flows import models  # noqa: E402
from tfp_flows.bijectors import Squeeze  # noqa: E402


def timed(fn, *args, repeats=10):
    fn(*args)  # trace
    fn(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn(*args)
    tf.nest.map_structure(lambda t: t.numpy(), out)
    return (time.perf_counter() - start) / repeats


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(32, 32, 3))
    parser.add_argument("--levels", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args(argv)
    shape = tuple(args.shape)
    model = models.Glow(event_shape=shape, levels=args.levels, steps=args.steps, hidden_channels=args.hidden)
    y = tf.random.uniform((args.batch,) + shape)
    variables = model.trainable_variables

    @tf.function
    def full_step(y):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(model.log_prob(y))
        return tape.gradient(loss, variables)

    inputs = []
    for level, (h, w, c) in enumerate(model.level_shapes):
        for _ in range(args.steps):
            inputs.append(tf.random.normal((args.batch, h, w, c - c // 2)))
    nets = model.nets

    @tf.function
    def networks_step(inputs):
        with tf.GradientTape() as tape:
            loss = tf.add_n([tf.reduce_sum(net(x)) for net, x in zip(nets, inputs)])
        return tape.gradient(loss, [v for net in nets for v in net.trainable_variables])

    squeeze = Squeeze()

    @tf.function
    def reshapes_step(y):
        with tf.GradientTape() as tape:
            tape.watch(y)
            h, loss = y, 0.0
            for level, (_, _, c) in enumerate(model.level_shapes):
                h = squeeze.forward(h)
                if level < args.levels - 1:  # the split: half the channels leave, half go on
                    h, factored = tf.split(h, [c - c // 2, c // 2], axis=-1)
                    loss += tf.reduce_sum(factored)
            loss += tf.reduce_sum(h)
        return tape.gradient(loss, y)

    full = timed(full_step, y)
    networks = timed(networks_step, inputs)
    reshapes = timed(reshapes_step, y)
    print(f"Glow {shape} L={args.levels} K={args.steps} hidden={args.hidden} batch={args.batch}")
    print(f"  full training step (forward + backward): {1000 * full:8.1f} ms")
    print(f"  coupling networks alone:                 {1000 * networks:8.1f} ms ({100 * networks / full:.0f}%)")
    print(f"  the flow's own ops:                      {1000 * (full - networks):8.1f} ms ({100 * (1 - networks / full):.0f}%)")
    print(f"  of which squeezes and splits:            {1000 * reshapes:8.1f} ms ({100 * reshapes / full:.1f}%)")
    print(f"  a library that runs the networks twice per log_prob (TFP) needs at least "
          f"{1000 * (full + networks):.1f} ms: our bound over it is {(full + networks) / full:.2f}x")
    return dict(full_ms=1000 * full, networks_ms=1000 * networks, squeezes_and_splits_ms=1000 * reshapes)


if __name__ == "__main__":
    main()
