"""The embedded offline dataset: scikit-learn's 1797 real 8x8 handwritten digits, values 0..16.

Fixed split (a permutation with seed 0, then contiguous blocks): 1257 train, 180
validation, 360 test images. `num_bins = 17`.
"""
from __future__ import annotations

import functools

import numpy as np

from tfp_flows.data.info import DatasetInfo

INFO = DatasetInfo(name="digits", event_shape=(8, 8, 1), num_bins=17)
SPLIT_SIZES = {"train": 1257, "validation": 180, "test": 360}


@functools.lru_cache(maxsize=1)
def _all_images() -> np.ndarray:
    from sklearn.datasets import load_digits  # ships with scikit-learn: no download

    images = load_digits().images.astype(np.uint8)[..., None]
    return images[np.random.default_rng(0).permutation(len(images))]


def load_split(split: str) -> np.ndarray:
    """uint8 images `[N, 8, 8, 1]` of one split."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"digits: unknown split {split!r}; expected one of {tuple(SPLIT_SIZES)}.")
    images = _all_images()
    start = 0
    for name, size in SPLIT_SIZES.items():
        if name == split:
            return images[start : start + size].copy()
        start += size
    raise AssertionError("unreachable")
