"""`tfp-flows sample`: samples of a run, in the format the `--out` suffix names."""
from __future__ import annotations

import csv
import os

import numpy as np

from tfp_flows.commands._runs import is_vector_model, load_run
from tfp_flows.training import save_sample_grid
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
    if suffix == ".png":
        image = save_sample_grid(model, out, num=args.num, temperature=args.temperature, seed=args.seed)
        print(f"Wrote {args.num} samples (temperature {args.temperature}) to {out} ({image.shape[1]}x{image.shape[0]} px)")
        return 0
    samples = model.sample(args.num, temperature=args.temperature, seed=args.seed).numpy()
    if model.num_bins is not None:  # images: discrete levels, as the data came
        samples = np.clip(np.floor(samples * model.num_bins), 0, model.num_bins - 1).astype(np.uint8 if model.num_bins <= 256 else np.int32)
    out = os.path.abspath(out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if suffix == ".npy":
        atomic_write(out, lambda path: np.save(path, samples), suffix=".npy")
    else:
        columns = config.get("feature_columns") or [f"x{i}" for i in range(samples.shape[1])]

        def write(path):
            with open(path, "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows([[f"{v:.7g}" for v in row] for row in samples])

        atomic_write(out, write)
    print(f"Wrote {args.num} samples {tuple(samples.shape[1:])} (temperature {args.temperature}) to {out}")
    return 0
