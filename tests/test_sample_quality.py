"""The digit classifier that scores sample quality: right on real digits, unconvinced by noise."""
from __future__ import annotations

import numpy as np
import pytest

from tfp_flows import data
from tfp_flows.training.sample_quality import DigitScorer, real_test_digits, real_train_digits


@pytest.fixture(scope="module")
def scorer():
    return DigitScorer.fit()


def test_labelled_splits_are_the_data_splits():
    images, labels = real_train_digits()
    np.testing.assert_array_equal(images, data.digits.load_split("train"))
    assert labels.shape == (1257,) and set(labels.tolist()) == set(range(10))


def test_reference_row_on_real_test_digits(scorer):
    images, labels = real_test_digits()
    assert scorer.accuracy(images, labels) > 0.97
    confident = scorer.confident_fraction(images)
    assert 0.75 < confident < 1.0
    assert confident - 0.02 <= scorer.recognised_fraction(images) <= confident  # real digits lie among real digits
    assert scorer.class_histogram(images).sum() == len(images) and scorer.class_histogram(images).min() > 20


def test_noise_and_blurred_mixtures_score_low(scorer):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 17, size=(200, 8, 8, 1))
    assert scorer.confident_fraction(noise) > 0.3  # why confidence alone is not the score
    assert scorer.recognised_fraction(noise) == 0.0
    assert scorer.nearest_real_distance(noise).min() > scorer.max_distance
    images, labels = real_test_digits()
    # The mean of two different digits: what a poor model's samples look like.
    ones, zeros = images[labels == 1][:30].astype(float), images[labels == 0][:30].astype(float)
    mixtures = np.round((ones + zeros) / 2)
    assert scorer.recognised_fraction(mixtures) < scorer.recognised_fraction(images) - 0.3


def test_bad_images_are_refused(scorer):
    with pytest.raises(ValueError, match=r"8, 8"):
        scorer.confident_fraction(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="to_levels"):
        scorer.confident_fraction(np.full((3, 8, 8, 1), 0.5))
    with pytest.raises(ValueError, match="no images"):
        scorer.confident_fraction(np.zeros((0, 8, 8)))
