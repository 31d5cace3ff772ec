"""What the default digits run trains with, and what each choice is worth: short runs compared.

Each run trains one model on the 1257 training digits (batch 128 unless `--batch-size`, Adam 1e-3 with 100
warmup steps), validates every epoch with the
weight average when `--ema` > 0, keeps the best validation epoch's weights and reports
test bits/dim (uniform dequantization, mean of 5 draws), wall and process CPU seconds, and the
sample quality of those weights: the share of 500 samples at temperature 0.7 (seed 0) on which
the digit scorer of `tfp_flows.training.sample_quality` is confident.

Examples (the rows of README's "What the default trains with"):
  python benchmarks/digits_recipes.py --model glow --over '{"steps": 4, "hidden_channels": 64, "preprocessing": "center"}' --epochs 40
  python benchmarks/digits_recipes.py --model glow --over '{"steps": 4, "hidden_channels": 64}' --epochs 40
  python benchmarks/digits_recipes.py --model realnvp --epochs 40 [--ema 0] [--cosine] [--weight-decay 0.5]
"""
from __future__ import annotations

import argparse
import json
import math
import time

import keras
import numpy as np

from tfp_flows import data, models
from tfp_flows.training import EMAWeights
from tfp_flows.training.sample_quality import DigitScorer

MODELS = {"realnvp": models.RealNVP, "glow": models.Glow, "nice": models.NICE}


class KeepBest(keras.callbacks.Callback):
    """The weights (the average, when `EMAWeights` comes first) of the best validation epoch."""

    def __init__(self):
        super().__init__()
        self.best, self.epoch, self.weights = math.inf, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get("val_bits_per_dim", math.inf)
        if value < self.best:
            self.best, self.epoch, self.weights = float(value), epoch + 1, self.model.get_weights()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="realnvp")
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--over", default="{}", help="JSON of preset overrides")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--ema", type=float, default=0.99, help="weight-average momentum (0: none)")
    parser.add_argument("--cosine", action="store_true", help="cosine decay to 0 over --epochs")
    parser.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled weight decay")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    model = MODELS[args.model].from_preset(args.preset, seed=args.seed, **json.loads(args.over))
    train = data.load("digits", "train", batch_size=args.batch_size, seed=args.seed)
    validation = data.load("digits", "validation", batch_size=180)
    steps = max(args.epochs * int(train.cardinality()), 101)  # the cosine needs more steps than the 100 of warmup
    schedule = models.WarmupCosineDecay(1e-3, 100, steps) if args.cosine else models.LinearWarmup(1e-3, 100)
    options = {}  # no gradient clipping (the CLI's default_optimizer clips only rare spikes, at 400 for digits)
    if args.ema > 0:
        options.update(use_ema=True, ema_momentum=args.ema)
    optimizer = (keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay, **options) if args.weight_decay
                 else keras.optimizers.Adam(schedule, **options))
    model.compile(optimizer=optimizer)
    keep = KeepBest()
    wall, cpu = time.time(), time.process_time()
    history = model.fit(train, validation_data=validation, epochs=args.epochs, callbacks=[EMAWeights(), keep], verbose=0)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    model.set_weights(keep.weights)
    test = data.load("digits", "test", batch_size=360, shuffle=False)
    test_bpd = float(np.mean([np.mean(model.bits_per_dim(batch, noise=True)) for _ in range(5) for batch in test]))
    samples = model.to_levels(model.sample(500, temperature=0.7, seed=0)).numpy()
    result = dict(args=vars(args), parameters=model.count_params(), best_val=round(keep.best, 4), best_epoch=keep.epoch,
                  test_bits_per_dim=round(test_bpd, 4), confident_at_0_7=round(DigitScorer.fit().confident_fraction(samples), 3), val_every_10=[round(v, 3) for v in history.history["val_bits_per_dim"][9::10]],
                  wall_seconds=round(wall), cpu_seconds=round(cpu))
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
