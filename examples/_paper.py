"""Shared by the paper-preset examples: train a preset on a TFDS dataset, keep checkpoints, report test bits/dim.

These are for a GPU (the presets have tens of millions of parameters). Data comes from
tensorflow-datasets; prepare it first with `tfds build NAME --data_dir DIR` where the
machine has no internet, and pass --data-dir DIR.
"""
from __future__ import annotations

import argparse
import os
import sys

import keras

from tfp_flows import data
from tfp_flows.models import default_optimizer


def run(model_cls, preset: str, dataset: str, *, batch_size: int, learning_rate: float, warmup_steps: int, flip: bool, argv=None):
    parser = argparse.ArgumentParser(description=f"{model_cls.__name__} '{preset}' preset on {dataset}",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1000, help="training epochs")
    parser.add_argument("--batch-size", type=int, default=batch_size, help="images per step")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory (prepare it with `tfds build`)")
    parser.add_argument("--output", default=f"runs/{model_cls.__name__.lower()}-{dataset}", help="checkpoints and logs")
    parser.add_argument("--preset", default=preset, help="override the architecture, e.g. 'tiny' for a smoke test")
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="steps per epoch (default: one pass)")
    parser.add_argument("--no-jit", action="store_true", help="do not compile the training step with XLA")
    args = parser.parse_args(argv)
    try:
        return _train(model_cls, dataset, args, learning_rate, warmup_steps, flip)
    except data.DatasetUnavailableError as error:  # offline: one clear line, not a traceback
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _train(model_cls, dataset: str, args, learning_rate: float, warmup_steps: int, flip: bool):
    info = data.info(dataset)
    model = model_cls.from_preset(args.preset, event_shape=info.event_shape, num_bins=info.num_bins)
    model.compile(optimizer=default_optimizer(model.num_dims, learning_rate, warmup_steps), jit_compile=not args.no_jit)
    train = data.load(dataset, "train", args.batch_size, flip=flip, data_dir=args.data_dir, repeat=args.steps_per_epoch is not None)
    validation = data.load(dataset, "validation", args.batch_size, data_dir=args.data_dir)
    os.makedirs(args.output, exist_ok=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(os.path.join(args.output, "best.keras"), monitor="val_bits_per_dim", mode="min", save_best_only=True),
        keras.callbacks.TensorBoard(os.path.join(args.output, "logs")),
        keras.callbacks.TerminateOnNaN(),
    ]
    model.fit(train, validation_data=validation, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
              callbacks=callbacks, shuffle=False, verbose=2)
    test = data.load(dataset, "test", args.batch_size, data_dir=args.data_dir)
    result = model.evaluate(test, return_dict=True, verbose=0)
    print(f"{model_cls.__name__} ({args.preset}) on {dataset} test: {result['bits_per_dim']:.4f} bits/dim")
    return result
