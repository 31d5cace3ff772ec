"""How recognisable samples of the embedded digits are, judged by a kernel-density classifier of real digits.

Bits/dim measure the density, not what samples look like. `DigitScorer` scores an image
by how surely it is one digit of the real training set rather than another digit or
none: per class `c`, the kernel mass of the real training digits of that class,

    K_c(x) = sum over training digits x_i of class c of exp(-|x - x_i|^2 / (2 h^2))

(pixels scaled to [0, 1], bandwidth `h`), and

    p(c | x) = K_c(x) / (K_0(x) + ... + K_9(x) + b),

where the background `b` is the mass of "none of the digits": an image far from every
real digit (noise, speckles) has all `K_c` far below `b`, and an image between two
classes (the blend of a 1 and a 7) splits its mass. An image is *confident* when its
highest `p(c | x)` exceeds `threshold` (0.9). `h = 0.45` and `b = 1e-3` were chosen on
the validation digits and blends of them; on the 360 real test digits the scorer is
confident on 88% and right on 98.9%, on uniform noise on none, on blends of two test
digits of different classes on about 5% (tests/test_sample_quality.py). A model that
copied its training digits would score 100%: read the score next to held-out bits/dim.

>>> scorer = DigitScorer.fit()
>>> round(scorer.accuracy(*real_test_digits()), 2) >= 0.98
True
"""
from __future__ import annotations

import functools

import numpy as np

NUM_LEVELS = 17  # the digits' values 0..16


def real_test_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded test split: images `[360, 8, 8, 1]` (levels 0..16) and their labels."""
    return _split_with_labels("test")


def real_train_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded training split (1257 images) and labels, as `tfp_flows.data.load('digits', 'train')`."""
    return _split_with_labels("train")


def real_validation_digits() -> tuple[np.ndarray, np.ndarray]:
    """The embedded validation split (180 images) and labels."""
    return _split_with_labels("validation")


def blends(images, labels, num: int, seed: int = 0) -> np.ndarray:
    """`num` (about) pixelwise means of two digits of different classes, rounded to levels: what a poor model draws."""
    rng = np.random.default_rng(seed)
    first, second = rng.integers(0, len(images), num), rng.integers(0, len(images), num)
    keep = np.asarray(labels)[first] != np.asarray(labels)[second]
    pairs = np.asarray(images, np.float64)[first[keep]] + np.asarray(images, np.float64)[second[keep]]
    return np.round(pairs / 2).astype(np.int32)


@functools.lru_cache(maxsize=None)
def _split_with_labels(split: str):
    from sklearn.datasets import load_digits

    from tfp_flows.data import digits

    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.images))  # the split's permutation (data.digits)
    images, labels = bunch.images.astype(np.uint8)[order][..., None], bunch.target[order]
    start = 0
    for name, size in digits.SPLIT_SIZES.items():
        if name == split:
            out = images[start : start + size], labels[start : start + size]
            if not np.array_equal(out[0], digits.load_split(split)):
                raise AssertionError("digits: the labelled split differs from tfp_flows.data's split.")
            return out
        start += size
    raise ValueError(f"unknown digits split {split!r}; expected one of {tuple(digits.SPLIT_SIZES)}.")


def _features(images) -> np.ndarray:
    """`[N, 8, 8(, 1)]` integer levels 0..16 to `[N, 64]` floats in [0, 1]."""
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"DigitScorer: expected digit images [N, 8, 8] or [N, 8, 8, 1], got shape {images.shape}.")
    if len(images) == 0:
        raise ValueError("DigitScorer: got no images.")
    if images.size and (np.min(images) < 0 or np.max(images) > NUM_LEVELS - 1 or np.any(images != np.round(images))):
        raise ValueError(
            f"DigitScorer: expected integer levels 0..{NUM_LEVELS - 1} (use model.to_levels(samples)), "
            f"got values in [{np.min(images)}, {np.max(images)}]."
        )
    return images.reshape(len(images), 64).astype(np.float64) / (NUM_LEVELS - 1)


class DigitScorer:
    """Kernel-density classifier of real digits with a "none of them" background; `confident_fraction` is the score."""

    def __init__(self, images, labels, bandwidth: float = 0.45, background: float = 1e-3, threshold: float = 0.9):
        for name, value in (("bandwidth", bandwidth), ("background", background)):
            if not (isinstance(value, (int, float)) and 0.0 < value < float("inf")):
                raise ValueError(f"DigitScorer: expected {name} > 0, got {value!r}.")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"DigitScorer: expected threshold in (0, 1), got {threshold!r}.")
        self.reference, self.labels = _features(images), np.asarray(labels)
        if self.labels.shape != (len(self.reference),):
            raise ValueError(f"DigitScorer: expected one label per image ({len(self.reference)}), got shape {self.labels.shape}.")
        self.bandwidth, self.background, self.threshold = float(bandwidth), float(background), threshold

    @classmethod
    def fit(cls, **settings) -> "DigitScorer":
        """The scorer of the 1257 real training digits (`bandwidth`, `background`, `threshold` as keywords)."""
        return cls(*real_train_digits(), **settings)

    def probabilities(self, images) -> np.ndarray:
        """`[N, 10]` class probabilities of digit images (levels 0..16); `1 - row sum` is "none of the digits"."""
        x = _features(images)
        squared = (x * x).sum(1)[:, None] + (self.reference**2).sum(1)[None] - 2.0 * x @ self.reference.T
        kernel = np.exp(-np.maximum(squared, 0.0) / (2.0 * self.bandwidth**2))
        mass = np.stack([kernel[:, self.labels == c].sum(1) for c in range(10)], axis=1)
        return mass / (mass.sum(1, keepdims=True) + self.background)

    def predict(self, images) -> np.ndarray:
        """`[N]` the most probable digit of each image (whether confident or not)."""
        return self.probabilities(images).argmax(1)

    def accuracy(self, images, labels) -> float:
        return float(np.mean(self.predict(images) == np.asarray(labels)))

    def confident_fraction(self, images) -> float:
        """The fraction of `images` whose highest class probability exceeds `threshold`."""
        return float(np.mean(self.probabilities(images).max(axis=1) > self.threshold))

    def class_histogram(self, images) -> np.ndarray:
        """How many of `images` the classifier assigns to each digit 0..9 (do samples cover every class?)."""
        return np.bincount(self.predict(images), minlength=10)
