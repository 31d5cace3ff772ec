"""What the subcommands need to know about a run's conditioning: class labels or a context.

A run's `config.json` records `num_classes` and `class_names` (class-conditional image
models, `tfp-flows train --conditional`) or `context_columns` (context-conditioned vector
models, `--context-columns`); both are None for unconditional runs. The model says the
same (`model.num_classes`, `model.context_dim`); this module is the one place the
subcommands read either.
"""
from __future__ import annotations

import numpy as np


def num_classes(model) -> int:
    """K of a class-conditional model, else 0."""
    return int(getattr(model, "num_classes", None) or 0)


def context_dim(model) -> int:
    """C of a context-conditioned model, else 0."""
    return int(getattr(model, "context_dim", None) or 0)


def class_names(config: dict, model) -> list[str]:
    """The run's class names (the data's), or the ids "0".."K-1" when the run did not record them."""
    names = config.get("class_names") or []
    return list(names) if len(names) == num_classes(model) else [str(k) for k in range(num_classes(model))]


def kwargs(model, labels=None, context=None) -> dict:
    """The conditioning keyword arguments of a model call (`labels=` or `context=`), checked against the model."""
    if num_classes(model):
        if labels is None:
            raise ValueError(f"this run is class-conditional ({num_classes(model)} classes): the data must come with labels.")
        return dict(labels=labels)
    if context_dim(model):
        if context is None:
            raise ValueError(f"this run models p(x | context) with {context_dim(model)} context values: the data must come with them.")
        return dict(context=context)
    return {}


def split_batch(batch, model):
    """(examples, labels, context) of a batch from `data.load` (pairs for conditional runs)."""
    if isinstance(batch, (tuple, list)):
        examples, condition = batch
        if num_classes(model):
            return examples, condition, None
        return examples, None, condition
    return batch, None, None


def check_labels(labels: np.ndarray, names: list[str], source: str) -> np.ndarray:
    """int32 labels in `[0, K)` (K = `len(names)`), or a ValueError naming the first bad one."""
    labels = np.asarray(labels)
    bad = np.flatnonzero((labels < 0) | (labels >= len(names)))
    if len(bad):
        raise ValueError(f"{source}: label {labels[bad[0]]} (example {bad[0]}) is not a class of this run; "
                         f"expected 0..{len(names) - 1} ({', '.join(names)}).")
    return labels.astype(np.int32)
