"""`tfp-flows sample`: samples of a run, in the format the `--out` suffix names.

Class-conditional runs sample every class, a grid row per class (`--num` per class), or
one class (`--label K`); context-conditioned runs sample at `--context v1,v2,...` or at
each row of a `--context-file` CSV (written beside the samples in the output CSV).
"""
from __future__ import annotations

import csv
import os

import numpy as np
import tensorflow as tf

from tfp_flows import data
from tfp_flows.commands import _conditioning as conditioning
from tfp_flows.commands._runs import is_vector_model, load_run
from tfp_flows.training import grid, save_sample_grid, to_uint8, write_png
from tfp_flows.training.images import class_grid_samples
from tfp_flows.training.runs import atomic_write


def sample(args) -> int:
    run, config, model = load_run(args.run)
    vectors = is_vector_model(model)
    out = args.out or run.file("samples.csv" if vectors else "samples.png")
    suffix = os.path.splitext(out)[1].lower()
    if suffix == ".png" and vectors:
        raise ValueError(f"--out {out}: this run models vectors {model.event_shape}; write them as .csv or .npy.")
    if suffix == ".csv" and not vectors:
        raise ValueError(f"--out {out}: this run models images {model.event_shape}; write them as .png (a grid) or .npy.")
    label, context, context_file = getattr(args, "label", None), getattr(args, "context", None), getattr(args, "context_file", None)
    classes, width = conditioning.num_classes(model), conditioning.context_dim(model)
    if label is not None and not classes:
        raise ValueError(f"--label {label}: this run is not class-conditional (train with --conditional).")
    if (context is not None or context_file is not None) and not width:
        flag = "--context" if context is not None else "--context-file"
        raise ValueError(f"{flag}: this run is not context-conditioned (train a table with --context-columns).")
    if width:
        return _sample_given_context(args, config, model, out, suffix, context, context_file)
    if classes and label is None:
        return _sample_every_class(args, config, model, out, suffix)
    if label is not None:
        names = conditioning.class_names(config, model)
        conditioning.check_labels(np.array([label]), names, "--label")
    num = args.num or 64
    condition = {} if label is None else dict(labels=tf.fill([num], tf.constant(label, tf.int32)))
    what = "" if label is None else f" of class {conditioning.class_names(config, model)[label]}"
    if suffix == ".png":
        if condition:
            samples = model.sample(num, temperature=args.temperature, seed=args.seed, **condition).numpy()
            image = grid(to_uint8(samples, model.num_bins))
            write_png(out, image)
        else:
            image = save_sample_grid(model, out, num=num, temperature=args.temperature, seed=args.seed)
        print(f"Wrote {num} samples{what} (temperature {args.temperature}) to {out} ({image.shape[1]}x{image.shape[0]} px)")
        return 0
    samples = model.sample(num, temperature=args.temperature, seed=args.seed, **condition).numpy()
    labelled = None if label is None else (["label"], [[conditioning.class_names(config, model)[label]]] * num)
    _write_arrays(model, config, out, suffix, samples, leading=labelled)
    print(f"Wrote {num} samples{what} {tuple(samples.shape[1:])} (temperature {args.temperature}) to {out}")
    return 0


def _sample_every_class(args, config, model, out, suffix) -> int:
    names = conditioning.class_names(config, model)
    per_class = args.num or 10
    samples, labels = class_grid_samples(model, per_class, args.temperature, args.seed)
    if suffix == ".png":
        image = grid(to_uint8(samples, model.num_bins), columns=per_class)
        write_png(out, image)
        print(f"Wrote {per_class} samples of each of {len(names)} classes, a row per class ({', '.join(names)}; temperature "
              f"{args.temperature}) to {out} ({image.shape[1]}x{image.shape[0]} px)")
        return 0
    _write_arrays(model, config, out, suffix, samples, leading=(["label"], [[names[k]] for k in labels]))
    print(f"Wrote {per_class} samples of each of {len(names)} classes {tuple(samples.shape[1:])}, class by class "
          f"({', '.join(names)}; temperature {args.temperature}) to {out}")
    return 0


def _sample_given_context(args, config, model, out, suffix, context, context_file) -> int:
    columns = config.get("context_columns") or [f"c{i}" for i in range(conditioning.context_dim(model))]
    if context is None and context_file is None:
        raise ValueError(f"this run models p(x | {', '.join(columns)}): pass --context v1,v2,... or --context-file CSV.")
    if context is not None:
        if len(context) != len(columns):
            raise ValueError(f"--context: expected {len(columns)} values ({', '.join(columns)}), got {len(context)}.")
        rows = np.asarray([context], np.float32)
        per_row = args.num or 64
    else:
        rows = data.read(context_file, columns=columns).examples  # names the file, line and column of a bad cell
        per_row = args.num or 1
    contexts = np.repeat(rows, per_row, axis=0)
    samples = model.sample(len(contexts), context=tf.constant(contexts), temperature=args.temperature, seed=args.seed).numpy()
    _write_arrays(model, config, out, suffix, samples, leading=(columns, [[f"{v:.7g}" for v in row] for row in contexts]))
    print(f"Wrote {len(samples)} samples {tuple(samples.shape[1:])} ({per_row} per context row, {len(rows)} row(s) of "
          f"{', '.join(columns)}; temperature {args.temperature}) to {out}")
    return 0


def _write_arrays(model, config, out, suffix, samples, leading=None) -> None:
    """`.npy` (raw array) or `.csv` (vectors under the data's header, after `leading` columns: the label or context)."""
    if model.num_bins is not None:  # images: discrete levels, as the data came
        samples = np.clip(np.floor(samples * model.num_bins), 0, model.num_bins - 1).astype(np.uint8 if model.num_bins <= 256 else np.int32)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if suffix == ".npy":
        atomic_write(out, lambda path: np.save(path, samples), suffix=".npy")
        return
    columns = config.get("feature_columns") or [f"x{i}" for i in range(samples.shape[1])]
    leading_columns, leading_cells = leading if leading is not None else ([], [[] for _ in samples])

    def write(path):
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(list(leading_columns) + list(columns))
            writer.writerows([list(given) + [f"{v:.7g}" for v in row] for given, row in zip(leading_cells, samples)])

    atomic_write(out, write)
