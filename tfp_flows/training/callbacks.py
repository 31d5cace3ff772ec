"""Keras callbacks of a training run: checkpoints, best model, sample grids, divergence stop."""
from __future__ import annotations

import math

import keras

from tfp_flows import _checks
from tfp_flows.training.images import save_class_grid, save_sample_grid
from tfp_flows.training.runs import RunDir


class RunCheckpoint(keras.callbacks.Callback):
    """After every epoch with a finite loss: `last.keras`, `state.json` and, on a new best
    validation bits/dim (training bits/dim without validation data), `best.keras`.

    A NaN or Inf loss stops training with a message naming the epoch; the last good
    checkpoint is left as it was.

    Args:
      run: the `RunDir` written to.
      state: the run's state (epoch, best score), updated and saved as `state.json`.

    Raises:
      RunError: from the run directory, when a checkpoint cannot be written.

    >>> import tempfile
    >>> from tfp_flows.training import RunCheckpoint, RunDir
    >>> callback = RunCheckpoint(RunDir(tempfile.mkdtemp()), state={"epoch": 0})
    >>> callback.diverged_at is None  # model.fit(..., callbacks=[EMAWeights(), callback])
    True
    """

    def __init__(self, run: RunDir, state: dict):
        _check_run("RunCheckpoint", run)
        if not isinstance(state, dict):
            raise ValueError(f"RunCheckpoint: expected state as a dict (the run's state.json), got {state!r:.80}.")
        super().__init__()
        self.run, self.state = run, state
        self.diverged_at = None

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged_at = (self.state["epoch"] + 1, batch + 1)
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.diverged_at is not None or not all(math.isfinite(float(v)) for v in logs.values()):
            self.diverged_at = self.diverged_at or (epoch + 1, None)
            self.model.stop_training = True
            return
        monitor = logs.get("val_bits_per_dim", logs.get("bits_per_dim"))
        self.state["epoch"] = epoch + 1
        self.state["history"].append({k: float(v) for k, v in logs.items()})
        best = self.state.get("best_bits_per_dim")
        if monitor is not None and (best is None or monitor < best):
            self.state["best_bits_per_dim"] = float(monitor)
            self.state["best_epoch"] = epoch + 1
            self.run.save_model(self.model, "best.keras")
        self.run.save_model(self.model, "last.keras")
        self.run.write_json("state.json", self.state)


class SampleGrid(keras.callbacks.Callback):
    """A PNG grid of samples per epoch, `samples/epoch_NNN.png` (fixed seed: epochs compare).

    A class-conditional model (`num_classes`) gets a row per class, `num // num_classes`
    samples (at least one) each.

    Args:
      run: the `RunDir` written to.
      num: samples per grid.
      temperature: scales the base standard deviation.
      seed: the sampling seed (fixed, so the epochs' grids compare).
      checkpoint: a `RunCheckpoint`; no grid is written for an epoch that diverged.

    Raises:
      ValueError: `num <= 0` or `temperature < 0`, from the model when the grid is drawn.

    >>> import tempfile
    >>> from tfp_flows.training import RunDir, SampleGrid
    >>> grid_callback = SampleGrid(RunDir(tempfile.mkdtemp()), num=16)  # model.fit(..., callbacks=[grid_callback])
    """

    def __init__(self, run: RunDir, num: int = 64, temperature: float = 0.7, seed: int = 0, checkpoint: RunCheckpoint | None = None):
        _check_run("SampleGrid", run)
        _checks.integer("SampleGrid", "num", num)
        _checks.number("SampleGrid", "temperature", temperature, low=0.0)
        _checks.integer("SampleGrid", "seed", seed, minimum=0)
        if checkpoint is not None and not isinstance(checkpoint, RunCheckpoint):
            raise ValueError(f"SampleGrid: expected checkpoint as a RunCheckpoint or None, got {checkpoint!r:.80}.")
        super().__init__()
        self.run, self.num, self.temperature, self.seed, self.checkpoint = run, num, temperature, seed, checkpoint

    def on_epoch_end(self, epoch, logs=None):
        diverged = self.checkpoint is not None and self.checkpoint.diverged_at is not None
        if diverged or (logs and not all(math.isfinite(float(v)) for v in logs.values())):
            return
        path = self.run.file("samples", f"epoch_{epoch + 1:03d}.png")
        num_classes = int(getattr(self.model, "num_classes", None) or 0)
        if num_classes:
            save_class_grid(self.model, path, max(1, self.num // num_classes), self.temperature, self.seed)
        else:
            save_sample_grid(self.model, path, self.num, self.temperature, self.seed)


def _check_run(owner: str, run) -> None:
    if not isinstance(run, RunDir):
        raise ValueError(f"{owner}: expected run as a tfp_flows.training.RunDir, got {run!r:.80}.")
