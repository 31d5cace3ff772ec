"""`tfp-flows evaluate` (a split's mean log-likelihood and bits/dim) and `score` (one line per example)."""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import tensorflow as tf

from tfp_flows import data
from tfp_flows.commands._runs import load_options, load_run
from tfp_flows.training.runs import atomic_write


def log_likelihood(model, batch, noise: bool) -> np.ndarray:
    """Per-example log-likelihood in nats: of discrete `x` (`log p(y) - D log(num_bins)`) or of continuous vectors."""
    log_prob = model.log_prob(model.dequantize(batch, noise=noise)).numpy().astype(np.float64)
    if model.num_bins is not None:
        log_prob -= model.num_dims * math.log(model.num_bins)
    return log_prob


def to_bits_per_dim(log_likelihood: np.ndarray, num_dims: int) -> np.ndarray:
    """DESIGN.md's bits/dim: `-log p(x) / (D log 2)` (the discrete offset is already in `log_likelihood`)."""
    return -log_likelihood / (num_dims * math.log(2.0))


def evaluate(args) -> int:
    run, config, model = load_run(args.run)
    ds = data.load(config["dataset"], args.split, args.batch_size, shuffle=False, **load_options(config, run))
    values = [log_likelihood(model, batch, noise=True) for batch in ds]
    if not values or sum(len(v) for v in values) == 0:
        raise ValueError(f"split {args.split!r} of {config['dataset']} is empty.")
    nats = np.concatenate(values)
    result = dict(
        split=args.split, dataset=config["dataset"], num_examples=int(len(nats)), checkpoint=run.best_or_last(),
        log_likelihood_nats=float(nats.mean()), bits_per_dim=float(to_bits_per_dim(nats, model.num_dims).mean()),
        num_dims=model.num_dims, num_bins=model.num_bins,
    )
    if not math.isfinite(result["bits_per_dim"]):
        raise ValueError(f"bits/dim on {args.split} is not finite: the checkpoint is broken.")
    run.write_json(f"eval_{args.split}.json", result)
    what = "images" if model.num_bins is not None else "rows"
    print(f"{os.path.basename(config['dataset'])} {args.split}: {result['bits_per_dim']:.4f} bits/dim, "
          f"log-likelihood {result['log_likelihood_nats']:.4f} nats per example over {len(nats)} {what} "
          f"({result['checkpoint']}); written to {run.file(f'eval_{args.split}.json')}")
    return 0


def score(args) -> int:
    run, config, model = load_run(args.run)
    options = dict(image_size=config.get("image_size"), columns=config.get("columns"), n_bits=config.get("n_bits"))
    kind = data.kind_of(args.data)
    if kind == "table" and options["columns"] is None and config.get("feature_columns") and config.get("kind") == "vectors" \
            and data.kind_of(config["dataset"]) == "table":
        options["columns"] = config["feature_columns"]
    if kind != "folder":
        options.pop("image_size")
    if kind != "table":
        options.pop("columns")
    else:
        options.pop("n_bits")
    modelled = "vectors" if len(model.event_shape) == 1 else "images"
    if {"folder": "images", "table": "vectors"}.get(kind, modelled) != modelled:
        raise ValueError(f"{args.data} is a {'table' if kind == 'table' else 'folder of images'}, but the run models "
                         f"{modelled} of shape {model.event_shape}.")
    own = data.read(args.data, **options)
    if tuple(own.info.event_shape) != tuple(model.event_shape) or own.info.kind != modelled:
        raise ValueError(
            f"{args.data} holds {own.info.kind} of shape {own.info.event_shape}, but the run models {modelled} of shape "
            f"{model.event_shape}" + (" (pass images of the run's size, or train with --image-size)" if own.info.kind == modelled == "images" else "") + "."
        )
    if own.info.num_bins is not None and own.info.num_bins != model.num_bins:
        raise ValueError(f"{args.data} has {own.info.num_bins} levels per pixel, the run models {model.num_bins}.")
    ds = tf.data.Dataset.from_tensor_slices(own.examples).batch(args.batch_size)
    nats = np.concatenate([log_likelihood(model, batch, noise=False) for batch in ds])
    bpd = to_bits_per_dim(nats, model.num_dims)
    key_name = {"folder": "file", "table": "line", "arrays": "index"}[kind]
    out = args.out or run.file("scores.csv")

    def write(path):
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([key_name, "log_likelihood", "bits_per_dim"])
            for key, value, bits in zip(own.keys, nats, bpd):
                writer.writerow([key, f"{value:.6f}", f"{bits:.6f}"])

    atomic_write(os.path.abspath(out), write)
    print(f"Scored {len(nats)} examples of {args.data}: mean log-likelihood {nats.mean():.4f} nats, "
          f"{bpd.mean():.4f} bits/dim (lowest: {own.keys[int(np.argmin(nats))]}, {nats.min():.4f} nats); written to {out}")
    return 0
