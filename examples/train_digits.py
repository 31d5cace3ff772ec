"""NICE, RealNVP and Glow on the embedded digits, same budget: a held-out bits/dim table.

Each model trains `--epochs` epochs on the 1257 training digits (batch 128, Adam with
linear warmup), keeps the weights of its best validation epoch, and reports bits/dim
on the 360 test digits (uniform dequantization, averaged over `--test-passes` draws).

Run: python examples/train_digits.py [--preset tiny] [--epochs 100] [--json results.json]
"""
from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np

from tfp_flows import data, models
from tfp_flows.training import LinearWarmup

MODELS = {"NICE": models.NICE, "RealNVP": models.RealNVP, "Glow": models.Glow}


class KeepBest(keras.callbacks.Callback):
    """Remembers the weights of the epoch with the lowest validation bits/dim."""

    def __init__(self):
        super().__init__()
        self.best, self.weights, self.epoch = np.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_bits_per_dim", np.inf)
        if np.isfinite(value) and value < self.best:
            self.best, self.weights, self.epoch = value, self.model.get_weights(), epoch + 1


def test_bits_per_dim(model, passes: int) -> float:
    test = data.load("digits", "test", batch_size=360, shuffle=False)
    values = [float(np.mean(model.bits_per_dim(batch, noise=True))) for _ in range(passes) for batch in test]
    return float(np.mean(values))


def train_one(name: str, preset: str, epochs: int, seed: int, passes: int, verbose: int) -> dict:
    keras.utils.set_random_seed(seed)
    model = MODELS[name].from_preset(preset, seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(LinearWarmup(1e-3, 100)))
    train = data.load("digits", "train", batch_size=128, seed=seed)
    validation = data.load("digits", "validation", batch_size=180)
    keep = KeepBest()
    start = time.time()
    model.fit(train, validation_data=validation, epochs=epochs, callbacks=[keep], verbose=verbose, shuffle=False)
    seconds = time.time() - start
    if keep.weights is not None:
        model.set_weights(keep.weights)
    return dict(model=name, preset=preset, parameters=model.count_params(), epochs=epochs, best_epoch=keep.epoch,
                validation_bits_per_dim=float(keep.best), test_bits_per_dim=test_bits_per_dim(model, passes),
                train_seconds=round(seconds, 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test-passes", type=int, default=10)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--verbose", type=int, default=0)
    args = parser.parse_args(argv)
    results = [train_one(name, args.preset, args.epochs, args.seed, args.test_passes, args.verbose) for name in args.models]
    print("| model | preset | parameters | test bits/dim | best val bits/dim (epoch) | train time |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} | {r['preset']} | {r['parameters']:,} | {r['test_bits_per_dim']:.3f} | "
              f"{r['validation_bits_per_dim']:.3f} ({r['best_epoch']}) | {r['train_seconds']:.0f} s |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return results


if __name__ == "__main__":
    main()
