"""Shared by the subcommands: model classes, a run's data options and its checkpoint."""
from __future__ import annotations

import os
import sys

from tfp_flows import data, models
from tfp_flows.training import RunDir, RunError

MODEL_CLASSES = {"glow": models.Glow, "realnvp": models.RealNVP, "nice": models.NICE, "jet": models.Jet}
SPLITS_FILE = "splits.json"  # the held-out assignment of own data, fixed when the run is created


def data_options(config: dict) -> dict:
    """The `data.load`/`data.info` options a run was trained with (older runs lack some)."""
    options = dict(n_bits=config.get("n_bits"), image_size=config.get("image_size"), columns=config.get("columns"),
                   data_dir=config.get("data_dir"), context_columns=config.get("context_columns"))
    if config.get("num_bins") is not None:  # runs on own images with --num-bins
        options["num_bins"] = config["num_bins"]
    return options


def load_options(config: dict, run: RunDir) -> dict:
    """`data_options` plus the run's saved splits (own data) and labels (class-conditional runs) for `data.load`."""
    options = data_options(config)
    if config.get("num_classes"):
        options["with_labels"] = True
    if data.kind_of(config["dataset"]) in ("folder", "arrays", "table"):
        options.pop("data_dir")
        if not os.path.exists(run.file(SPLITS_FILE)):
            raise RunError(f"no {SPLITS_FILE} in {run.path}: the run's held-out splits are lost.")
        options["splits"] = run.file(SPLITS_FILE)
    else:
        options.pop("image_size") if config.get("image_size") is None else None
        options.pop("columns")
    return options


def load_run(path: str):
    """(run, config, model) of the best (else last) checkpoint of a run directory."""
    run = RunDir(path)
    if not os.path.isdir(run.path):
        raise RunError(f"run directory {run.path} does not exist.")
    config = run.read_json("config.json")
    return run, config, run.load_model(run.best_or_last(), compile=False)


def is_vector_model(model) -> bool:
    return len(model.event_shape) == 1


def new_state() -> dict:
    """The `state.json` of a run that has trained no epoch yet."""
    return dict(epoch=0, history=[], best_bits_per_dim=None, best_epoch=None)


def resume_state(run: RunDir, config: dict, identity: tuple[str, ...]) -> dict:
    """The state a rerun continues from; refuses a run directory trained with a different `identity`."""
    if not run.exists:
        return new_state()
    saved = run.read_json("config.json")
    changed = [k for k in identity if saved.get(k) != config[k]]
    if changed:
        raise RunError(
            f"{run.path} holds a run with a different {', '.join(changed)} "
            f"({', '.join(f'{k}={saved.get(k)!r}' for k in changed)}); use another --output."
        )
    return run.read_json("state.json") if os.path.exists(run.file("state.json")) else new_state()


def report_divergence(checkpoint, state: dict, run: RunDir, advice: str) -> bool:
    """Prints the one-line divergence error when training stopped on a NaN/Inf loss; returns whether it did."""
    if checkpoint.diverged_at is None:
        return False
    epoch, step = checkpoint.diverged_at
    where = f"epoch {epoch}" + (f", step {step}" if step else "")
    print(f"tfp-flows: training diverged (NaN/Inf loss) at {where}; kept the last good checkpoint "
          f"(epoch {state['epoch']}) in {run.path}. {advice}", file=sys.stderr)
    return True

