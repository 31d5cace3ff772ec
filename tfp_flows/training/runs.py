"""A training run directory: its config, progress state and atomically written checkpoints.

Layout: `config.json` (what was asked), `state.json` (epochs done, best validation
bits/dim, history), `last.keras` (model and optimizer after the last finished epoch),
`best.keras`, `samples/epoch_NNN.png` (images), `logs/` (TensorBoard), `eval_<split>.json`,
and for users' own files `splits.json` (which examples are train, validation and test).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import keras

from tfp_flows import _messages


class RunError(ValueError):
    """A run directory that is missing, incomplete or belongs to another configuration.

    The `tfp-flows` commands print it as one line (`tfp-flows: error: ...`).

    >>> import tempfile
    >>> from tfp_flows.training import RunDir, RunError
    >>> try:
    ...     RunDir(tempfile.mkdtemp()).read_json("config.json")
    ... except RunError as error:
    ...     print("is this a tfp-flows run directory?" in str(error))
    True
    """


class RunDir:
    """A run directory of `tfp-flows train`: JSON state, checkpoints and pictures, written atomically.

    Files are written to a temporary name and renamed into place (`atomic_write`), so an interrupted
    run never leaves a half-written `config.json`, `state.json` or checkpoint.

    Args:
      path: the directory (created on the first write).

    Raises:
      RunError: `path` is a file; `read_json` of a missing or corrupt file; a checkpoint that cannot be
        loaded (each named with its path).

    >>> import os, tempfile
    >>> from tfp_flows.training import RunDir
    >>> run = RunDir(os.path.join(tempfile.mkdtemp(), "run"))
    >>> run.exists
    False
    >>> run.write_json("state.json", {"epoch": 3})
    >>> run.read_json("state.json")
    {'epoch': 3}
    """

    def __init__(self, path: str):
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ValueError(f"RunDir: expected path as a folder path, got {path!r}.")
        self.path = os.path.abspath(path)

    def file(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    @property
    def exists(self) -> bool:
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise RunError(f"{self.path} is a file, not a run directory.")
        return os.path.exists(self.file("config.json"))

    # ---------------------------------------------------------------- json
    def read_json(self, name: str) -> dict:
        path = self.file(name)
        try:
            with open(path) as handle:
                return json.load(handle)
        except FileNotFoundError:
            raise RunError(f"no {name} in {self.path}: is this a tfp-flows run directory?") from None
        except json.JSONDecodeError as error:
            raise RunError(f"{path} is corrupt ({error}).") from None

    def write_json(self, name: str, content: dict) -> None:
        os.makedirs(self.path, exist_ok=True)
        atomic_write(self.file(name), lambda tmp: _dump(tmp, content))

    # ---------------------------------------------------------------- models
    def save_model(self, model: keras.Model, name: str) -> None:
        """Saves `model` (with its optimizer state) to `name` via a temporary file and a rename."""
        os.makedirs(self.path, exist_ok=True)
        atomic_write(self.file(name), model.save, suffix=".keras")

    def load_model(self, name: str, compile: bool = True) -> keras.Model:
        path = self.file(name)
        if not os.path.exists(path):
            raise RunError(f"no checkpoint {path}: train first (tfp-flows train --output {self.path}).")
        import tfp_flows.models  # noqa: F401  (registers the model classes and schedules for deserialisation)

        try:
            return keras.saving.load_model(path, compile=compile)
        except Exception as error:
            raise RunError(f"cannot load checkpoint {path}: {type(error).__name__}: {_messages.reason(error)}") from None

    def best_or_last(self) -> str:
        for name in ("best.keras", "last.keras"):
            if os.path.exists(self.file(name)):
                return name
        raise RunError(f"no checkpoint (best.keras or last.keras) in {self.path}: train first.")


def _dump(path, content):
    with open(path, "w") as handle:
        json.dump(content, handle, indent=2, sort_keys=True)


def atomic_write(path: str, write, suffix: str = "") -> None:
    """`write(tmp_path)`, then rename over `path`; a failure leaves `path` as it was."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.exists(tmp):
            os.remove(tmp)
        raise
