"""How recognisable samples of the embedded digits are, judged by a classifier of real digits.

Bits/dim measure the density, not what samples look like. This score trains an RBF
support-vector classifier (scikit-learn's `SVC`, probabilities calibrated by
`CalibratedClassifierCV`, sigmoid, 5-fold) on the real
training digits and reports the fraction of images on which it is confident: the highest
class probability above `threshold` (0.9). Real test digits give the reference (about
0.9); noise, blobs and mixtures of two digits score low.

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
    """An RBF SVC trained on real digits; `confident_fraction(images)` is the sample-quality score."""

    def __init__(self, classifier, neighbours, max_distance: float, threshold: float = 0.9):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"DigitScorer: expected threshold in (0, 1), got {threshold!r}.")
        self.classifier, self.neighbours, self.max_distance, self.threshold = classifier, neighbours, max_distance, threshold

    @classmethod
    def fit(cls, threshold: float = 0.9) -> "DigitScorer":
        """Trains on the 1257 real training digits: C=10, gamma=0.25 on pixels scaled to [0, 1]
        (scikit-learn's classic gamma=0.001 on levels 0..16; best of a 5-fold search on train).
        Deterministic: unshuffled stratified folds."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.neighbors import NearestNeighbors
        from sklearn.svm import SVC

        images, labels = real_train_digits()
        classifier = CalibratedClassifierCV(SVC(C=10.0, gamma=0.25), method="sigmoid", cv=5, ensemble=False)
        classifier.fit(_features(images), labels)
        neighbours = NearestNeighbors(n_neighbors=1).fit(_features(images))
        max_distance = float(neighbours.kneighbors(_features(_split_with_labels("validation")[0]))[0].max())
        return cls(classifier, neighbours, max_distance, threshold)

    def probabilities(self, images) -> np.ndarray:
        """`[N, 10]` class probabilities of digit images (levels 0..16)."""
        return self.classifier.predict_proba(_features(images))

    def accuracy(self, images, labels) -> float:
        return float(np.mean(self.classifier.predict(_features(images)) == np.asarray(labels)))

    def confident_fraction(self, images) -> float:
        """The fraction of `images` whose highest class probability exceeds `threshold`."""
        probabilities = self.probabilities(images)
        return float(np.mean(probabilities.max(axis=1) > self.threshold))

    def nearest_real_distance(self, images) -> np.ndarray:
        """`[N]` distance of each image to its nearest real training digit (pixels in [0, 1])."""
        return self.neighbours.kneighbors(_features(images))[0][:, 0]

    def recognised_fraction(self, images) -> float:
        """The fraction of `images` the classifier is confident on that also lie among real digits."""
        probabilities = self.probabilities(images)
        near = self.nearest_real_distance(images) <= self.max_distance
        return float(np.mean((probabilities.max(axis=1) > self.threshold) & near))

    def class_histogram(self, images) -> np.ndarray:
        """How many of `images` the classifier assigns to each digit 0..9 (do samples cover every class?)."""
        return np.bincount(self.classifier.predict(_features(images)), minlength=10)
