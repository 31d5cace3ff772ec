"""`tfp-flows evaluate` (a split's mean log-likelihood and bits/dim) and `score` (one line per example).

Conditional runs are evaluated given the data's labels or context: class-conditional
runs also report bits/dim per class and the accuracy of `model.classify` (Bayes' rule
over the classes) on the split.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np
import tensorflow as tf

from tfp_flows import data
from tfp_flows.commands import _conditioning as conditioning
from tfp_flows.commands._runs import load_options, load_run
from tfp_flows.training.runs import atomic_write


def log_likelihood(model, batch, noise: bool, labels=None, context=None) -> np.ndarray:
    """Per-example log-likelihood in nats: of discrete `x` (`log p(y) - D log(num_bins)`) or of continuous vectors.

    Conditional models take the batch's `labels` or `context` (`log p(x | label)`, `log p(x | c)`).
    """
    condition = conditioning.kwargs(model, labels, context)
    log_prob = model.log_prob(model.dequantize(batch, noise=noise), **condition).numpy().astype(np.float64)
    if model.num_bins is not None:
        log_prob -= model.num_dims * math.log(model.num_bins)
    return log_prob


def to_bits_per_dim(log_likelihood: np.ndarray, num_dims: int) -> np.ndarray:
    """DESIGN.md's bits/dim: `-log p(x) / (D log 2)` (the discrete offset is already in `log_likelihood`)."""
    return -log_likelihood / (num_dims * math.log(2.0))


def evaluate(args) -> int:
    run, config, model = load_run(args.run)
    if config.get("model") == "waveglow":  # speech: bits per audio sample of the run's speech data
        return _evaluate_waveglow(args, run, config, model)
    ds = data.load(config["dataset"], args.split, args.batch_size, shuffle=False, **load_options(config, run))
    values, labels, predicted = [], [], []
    for batch in ds:
        examples, batch_labels, context = conditioning.split_batch(batch, model)
        values.append(log_likelihood(model, examples, noise=True, labels=batch_labels, context=context))
        if batch_labels is not None:
            labels.append(batch_labels.numpy())
            predicted.append(np.asarray(model.classify(examples)))
    if not values or sum(len(v) for v in values) == 0:
        raise ValueError(f"split {args.split!r} of {config['dataset']} is empty.")
    nats = np.concatenate(values)
    bits = to_bits_per_dim(nats, model.num_dims)
    result = dict(
        split=args.split, dataset=config["dataset"], num_examples=int(len(nats)), checkpoint=run.best_or_last(),
        log_likelihood_nats=float(nats.mean()), bits_per_dim=float(bits.mean()),
        num_dims=model.num_dims, num_bins=model.num_bins,
    )
    if not math.isfinite(result["bits_per_dim"]):
        raise ValueError(f"bits/dim on {args.split} is not finite: the checkpoint is broken.")
    per_class = ""
    if labels:
        names = conditioning.class_names(config, model)
        labels, predicted = np.concatenate(labels), np.concatenate(predicted)
        result["accuracy"] = float(np.mean(labels == predicted))
        result["per_class"] = {
            names[k]: dict(num_examples=int(np.sum(labels == k)), bits_per_dim=float(bits[labels == k].mean()),
                           accuracy=float(np.mean(predicted[labels == k] == k)))
            for k in range(len(names)) if np.any(labels == k)
        }
        per_class = (f"; Bayes-rule accuracy {result['accuracy']:.2%}; per class: "
                     + ", ".join(f"{name} {c['bits_per_dim']:.3f}" for name, c in result["per_class"].items()))
    if config.get("context_columns"):
        result["context_columns"] = config["context_columns"]
    run.write_json(f"eval_{args.split}.json", result)
    what = "images" if model.num_bins is not None else "rows"
    given = " given the label" if labels is not None and len(labels) else (
        f" given {', '.join(config['context_columns'])}" if config.get("context_columns") else "")
    print(f"{os.path.basename(config['dataset'])} {args.split}: {result['bits_per_dim']:.4f} bits/dim{given}, "
          f"log-likelihood {result['log_likelihood_nats']:.4f} nats per example over {len(nats)} {what} "
          f"({result['checkpoint']}){per_class}; written to {run.file(f'eval_{args.split}.json')}")
    return 0


def _evaluate_waveglow(args, run, config: dict, model) -> int:
    """Bits per 16-bit audio sample (deterministic: bin centres) of a WaveGlow run on a split of its speech data.

    Segments of the run's `segment_length` with mels of the model's own features (`model.mel_config()`), at
    most 8 per batch (a batch of full-size WaveGlow activations is large; the result does not depend on it).
    """
    segment = config.get("segment_length") or model.segment_length
    ds = data.load(config["dataset"], args.split, min(args.batch_size, 8), shuffle=False, segment_length=segment,
                   mel_config=model.mel_config(), data_dir=config.get("data_dir"))
    bits = [model.bits_per_sample(batch["audio"], batch["mel"]).numpy() for batch in ds]
    bits = np.concatenate(bits) if bits else np.zeros(0)
    if len(bits) == 0:
        raise ValueError(f"split {args.split!r} of {config['dataset']} is empty.")
    if not np.all(np.isfinite(bits)):
        raise ValueError(f"bits per sample on {args.split} are not finite: the checkpoint is broken.")
    nats = -bits * segment * math.log(2.0)  # log p(x) of a discrete 16-bit segment
    result = dict(split=args.split, dataset=config["dataset"], num_examples=int(len(bits)), checkpoint=run.best_or_last(),
                  bits_per_sample=float(bits.mean()), bits_per_dim=float(bits.mean()),
                  log_likelihood_nats=float(nats.mean()), segment_length=int(segment))
    run.write_json(f"eval_{args.split}.json", result)
    print(f"{os.path.basename(str(config['dataset']).rstrip('/'))} {args.split}: {result['bits_per_sample']:.4f} bits per "
          f"audio sample over {len(bits)} segments of {segment} samples ({result['checkpoint']}); written to "
          f"{run.file(f'eval_{args.split}.json')}")
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
        if conditioning.context_dim(model):
            options["context_columns"] = config.get("context_columns")
    modelled = "vectors" if len(model.event_shape) == 1 else "images"
    if {"folder": "images", "table": "vectors"}.get(kind, modelled) != modelled:
        raise ValueError(f"{args.data} is a {'table' if kind == 'table' else 'folder of images'}, but the run models "
                         f"{modelled} of shape {model.event_shape}.")
    if conditioning.context_dim(model) and not options.get("context_columns"):
        given = ", ".join(config.get("context_columns") or ["its context"])
        raise ValueError(f"this run models p(x | {given}): score a CSV table with those columns, not {args.data}.")
    own = data.read(args.data, **options)
    if tuple(own.info.event_shape) != tuple(model.event_shape) or own.info.kind != modelled:
        raise ValueError(
            f"{args.data} holds {own.info.kind} of shape {own.info.event_shape}, but the run models {modelled} of shape "
            f"{model.event_shape}" + (" (pass images of the run's size, or train with --image-size)" if own.info.kind == modelled == "images" else "") + "."
        )
    # Images hold levels as they are (reduced by the run's --n-bits): any that the run models fit (the digits' 0..16).
    if modelled == "images" and int(own.examples.max()) >= model.num_bins:
        raise ValueError(f"{args.data} has image values up to {int(own.examples.max())}, but the run models "
                         f"{model.num_bins} levels (0..{model.num_bins - 1}).")
    names = conditioning.class_names(config, model)
    labels = _run_labels(own, names, args.data, kind) if conditioning.num_classes(model) else None
    parts = tuple(p for p in (own.examples, labels, own.context) if p is not None)
    ds = tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0]).batch(args.batch_size)
    nats, predicted = [], []
    for batch in ds:
        examples, batch_labels, context = conditioning.split_batch(batch, model)
        nats.append(log_likelihood(model, examples, noise=False, labels=batch_labels, context=context))
        if batch_labels is not None:
            predicted.append(np.asarray(model.classify(examples)))
    nats = np.concatenate(nats)
    bpd = to_bits_per_dim(nats, model.num_dims)
    key_name = {"folder": "file", "table": "line", "arrays": "index"}[kind]
    out = args.out or run.file("scores.csv")
    header = [key_name] + (["label", "predicted_label"] if labels is not None else []) + ["log_likelihood", "bits_per_dim"]
    predicted = np.concatenate(predicted) if predicted else None

    def write(path):
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for i, (key, value, bits) in enumerate(zip(own.keys, nats, bpd)):
                classes = [names[labels[i]], names[predicted[i]]] if labels is not None else []
                writer.writerow([key, *classes, f"{value:.6f}", f"{bits:.6f}"])

    atomic_write(os.path.abspath(out), write)
    given = " given their labels" if labels is not None else (" given their context" if own.context is not None else "")
    accuracy = f"; Bayes-rule accuracy {np.mean(predicted == labels):.2%}" if labels is not None else ""
    print(f"Scored {len(nats)} examples of {args.data}{given}: mean log-likelihood {nats.mean():.4f} nats, "
          f"{bpd.mean():.4f} bits/dim (lowest: {own.keys[int(np.argmin(nats))]}, {nats.min():.4f} nats){accuracy}; written to {out}")
    return 0


def _run_labels(own, names: list[str], source: str, kind: str) -> np.ndarray:
    """The labels of scored data as the run's class ids: folders' class subfolders matched by name, arrays' ids checked."""
    if own.labels is None:
        raise ValueError(f"{source} has no class labels, but the run is class-conditional ({', '.join(names)}): score a folder "
                         "with one subfolder per class (named as the run's classes) or an .npz with 'labels'.")
    if kind == "folder":
        position = {name: k for k, name in enumerate(names)}
        unknown = [n for n in own.info.class_names if n not in position]
        if unknown:
            raise ValueError(f"{source}: class subfolder {unknown[0]!r} is not a class of this run ({', '.join(names)}).")
        return np.array([position[own.info.class_names[l]] for l in own.labels], np.int32)
    return conditioning.check_labels(own.labels, names, source)
