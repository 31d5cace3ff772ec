"""The embedded offline dataset: scikit-learn's 1797 real 8x8 handwritten digits, values 0..16.

Fixed split (a permutation with seed 0, then contiguous blocks): 1257 train, 180
validation, 360 test images. `num_bins = 17`. The labels are the digits 0..9
(`load_split(split, with_labels=True)`; classes "0".."9").
"""
from __future__ import annotations

import functools

import numpy as np

from tfp_flows.data.info import DatasetInfo

INFO = DatasetInfo(name="digits", event_shape=(8, 8, 1), num_bins=17, class_names=tuple(str(d) for d in range(10)))
SPLIT_SIZES = {"train": 1257, "validation": 180, "test": 360}


@functools.lru_cache(maxsize=1)
def _all_examples() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.images))
    return bunch.images.astype(np.uint8)[order][..., None], bunch.target.astype(np.int32)[order]


def _all_images() -> np.ndarray:
    return _all_examples()[0]


def load_split(split: str, with_labels: bool = False):
    """uint8 images `[N, 8, 8, 1]` of one split; with `with_labels`, `(images, labels)` (int32 digits 0..9)."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"digits: unknown split {split!r}; expected one of {tuple(SPLIT_SIZES)}.")
    images, labels = _all_examples()
    start = 0
    for name, size in SPLIT_SIZES.items():
        if name == split:
            block = slice(start, start + size)
            return (images[block].copy(), labels[block].copy()) if with_labels else images[block].copy()
        start += size
    raise AssertionError("unreachable")
