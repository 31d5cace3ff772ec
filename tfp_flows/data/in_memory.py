"""Users' own data, read and checked once into memory, then split and batched as a `tf.data.Dataset`.

Every reader (`image_folder`, `arrays`, `tabular`) returns an `InMemoryData`: all checks
(unreadable files, mixed sizes, non-numeric values, wrong ranks) happen while reading,
in Python, so a bad file is named in a `ValueError` before any pipeline or run exists;
nothing can fail later inside `tf.data`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfp_flows.data import splits as splits_lib
from tfp_flows.data.info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class InMemoryData:
    """Examples `[N, *event_shape]` (uint8 images or float32 vectors), one key per example.

    `keys` identify examples across runs (relative file paths, CSV line numbers, array
    rows); `given_splits` is set when the data comes split (an `.npz` with `train`/`test`
    arrays), else splits are held out with `splits.holdout`. `labels` are int32 class ids
    (folders with class subfolders, `.npz` with labels); `context` is float32 `[N, C]`, the
    context columns of a table read with `context_columns`.

    Args:
      info: the `DatasetInfo` of the examples.

    Raises:
      ValueError: `with_labels=True` on data without labels (when split into a dataset).

    >>> import numpy as np
    >>> from tfp_flows.data import DatasetInfo, InMemoryData
    >>> meta = DatasetInfo(name="points", event_shape=(2,), num_bins=None, kind="vectors")
    >>> InMemoryData(meta, np.zeros((3, 2), "float32"), keys=("0", "1", "2")).examples.shape
    (3, 2)
    """

    info: DatasetInfo
    examples: np.ndarray
    keys: tuple[str, ...]
    labels: np.ndarray | None = None
    given_splits: dict | None = None
    context: np.ndarray | None = None

    def assignment(self, validation_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> dict[str, list[str]]:
        given = self.given_splits or {}
        if all(name in given for name in splits_lib.SPLITS):
            return given
        # Hold out what the data does not provide, from its train split (or from everything).
        pool = given.get("train", self.keys)
        held = splits_lib.holdout(pool, 0.0 if "validation" in given else validation_fraction,
                                  0.0 if "test" in given else test_fraction, seed)
        return {name: given.get(name, held[name]) if name != "train" else held["train"] for name in splits_lib.SPLITS}

    def indices(self, split: str, assignment: dict[str, list[str]]) -> np.ndarray:
        if split == "all":
            return np.arange(len(self.keys))
        return splits_lib.select(self.keys, assignment, split, self.info.name)

    def dataset(self, indices: np.ndarray, with_labels: bool = False) -> tf.data.Dataset:
        """Unbatched examples at `indices`: with int32 labels (`with_labels`), with the context (tables read with one)."""
        examples = self.examples[indices]
        if self.context is not None:
            if with_labels:
                raise ValueError(f"{self.info.name}: with_labels=True, but a table has no class labels; its context columns "
                                 f"{list(self.info.context_columns)} come with every row.")
            return tf.data.Dataset.from_tensor_slices((examples, self.context[indices]))
        if not with_labels:
            return tf.data.Dataset.from_tensor_slices(examples)
        if self.labels is None:
            hint = {"images": "put images in one subfolder per class, or save an .npz with a 'labels' array",
                    "vectors": "a table is conditioned on columns instead: context_columns=[...] (tfp-flows: --context-columns a,b)"}
            raise ValueError(f"{self.info.name}: with_labels=True, but this data has no class labels ({hint[self.info.kind]}).")
        return tf.data.Dataset.from_tensor_slices((examples, self.labels[indices].astype(np.int32)))
