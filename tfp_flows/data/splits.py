"""Seeded held-out validation and test splits for data that comes without them.

A split assignment maps each split name to the keys of its examples: relative file
paths for a folder of images, file line numbers for a CSV, row indices for arrays. It
is saved as JSON (a run directory's `splits.json`), so that `evaluate`, `score` and a
resumed `train` see exactly the same examples in each split even if files are added.

>>> assignment = holdout([str(i) for i in range(10)], validation_fraction=0.2, test_fraction=0.1, seed=0)
>>> {name: len(keys) for name, keys in assignment.items()}
{'train': 7, 'validation': 2, 'test': 1}
>>> assignment == holdout([str(i) for i in range(9, -1, -1)], 0.2, 0.1, seed=0)  # order of listing does not matter
True
"""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

SPLITS = ("train", "validation", "test")


def check_fractions(validation_fraction: float, test_fraction: float) -> None:
    for name, value in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ValueError(f"expected {name} in [0, 1), got {value!r}.")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"validation_fraction + test_fraction must leave examples to train on, got "
            f"{validation_fraction} + {test_fraction} >= 1."
        )


def holdout(keys: Sequence[str], validation_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> dict[str, list[str]]:
    """Assigns `keys` to train/validation/test by a seeded permutation of the sorted keys.

    A non-zero fraction holds out at least one example when there are at least three.
    """
    check_fractions(validation_fraction, test_fraction)
    ordered = sorted(str(k) for k in keys)
    if len(set(ordered)) != len(ordered):
        raise ValueError("holdout: keys must be unique.")
    count = len(ordered)
    sizes = []
    for fraction in (validation_fraction, test_fraction):
        size = int(round(fraction * count))
        if fraction > 0 and size == 0 and count >= 3:
            size = 1
        sizes.append(size)
    if count - sum(sizes) < 1:
        raise ValueError(f"holdout: {count} examples are too few to hold out validation and test examples.")
    order = np.random.default_rng(seed).permutation(count)
    shuffled = [ordered[i] for i in order]
    n_val, n_test = sizes
    return {
        "train": sorted(shuffled[n_val + n_test :]),
        "validation": sorted(shuffled[:n_val]),
        "test": sorted(shuffled[n_val : n_val + n_test]),
    }


def save(path: str, assignment: dict[str, list[str]]) -> None:
    """Writes an assignment as JSON (via a temporary file and a rename)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as handle:
        json.dump({name: list(assignment[name]) for name in assignment}, handle, indent=0)
    os.replace(tmp, path)


def read(path: str) -> dict[str, list[str]]:
    try:
        with open(path) as handle:
            assignment = json.load(handle)
    except FileNotFoundError:
        raise ValueError(f"no split file {path}.") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"split file {path} is corrupt ({error}).") from None
    if not isinstance(assignment, dict) or "train" not in assignment:
        raise ValueError(f"split file {path}: expected a JSON object with a 'train' list, got {type(assignment).__name__}.")
    return {name: [str(k) for k in keys] for name, keys in assignment.items()}


def select(keys: Sequence[str], assignment: dict[str, list[str]], split: str, source: str) -> np.ndarray:
    """Indices into `keys` of the examples the assignment puts in `split`."""
    if split not in assignment:
        raise ValueError(f"{source}: unknown split {split!r}; expected one of {tuple(assignment)} or 'all'.")
    position = {str(k): i for i, k in enumerate(keys)}
    missing = [k for k in assignment[split] if k not in position]
    if missing:
        raise ValueError(
            f"{source}: the {split} split names {len(missing)} example(s) the data no longer has (e.g. {missing[0]!r}); "
            "the data changed since the split was made."
        )
    return np.array([position[k] for k in assignment[split]], dtype=np.int64)
