"""What a dataset is: its event shape, number of bins and splits."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Shape and discretisation of a dataset's images after preprocessing.

    `num_bins = 2 ** n_bits` for TFDS images (256 for 8-bit), 17 for the digits.
    """

    name: str
    event_shape: tuple[int, int, int]
    num_bins: int
    splits: tuple[str, ...] = ("train", "validation", "test")
