"""What a dataset is: its event shape, number of bins, splits and (optional) class names."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Shape and discretisation of a dataset's examples after preprocessing.

    Images (`kind="images"`): `event_shape = (H, W, C)`, `num_bins = 2 ** n_bits` (256 for
    8-bit), 17 for the digits. Vectors (`kind="vectors"`, tables and `[N, D]` arrays):
    `event_shape = (D,)`, `num_bins = None` (continuous), `columns` names the features.
    `class_names` name the classes a dataset's labels index (`num_classes` of them): the
    digits 0..9, a TFDS dataset's `label` feature, the sorted subfolders of a folder of
    images. `context_columns` are the columns of a table read as the context `c` of a
    conditional density `p(x | c)` (`context_dim` of them), apart from `columns`.

    Args:
      splits: the split names the data has.
      num_examples: examples per split, when known.

    Raises nothing: a plain record, built by `data.info`.

    >>> from tfp_flows.data import DatasetInfo
    >>> DatasetInfo(name="points", event_shape=(2,), num_bins=None, kind="vectors").num_classes
    0
    """

    name: str
    event_shape: tuple[int, ...]
    num_bins: int | None
    splits: tuple[str, ...] = ("train", "validation", "test")
    kind: str = "images"
    class_names: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    num_examples: int | None = None
    context_columns: tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def context_dim(self) -> int:
        return len(self.context_columns)

    @property
    def num_dims(self) -> int:
        size = 1
        for d in self.event_shape:
            size *= d
        return size
