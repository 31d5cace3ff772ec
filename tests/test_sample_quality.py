"""The digit scorer of sample quality: confident on real digits, never on noise, rarely on blends of two digits."""
from __future__ import annotations

import numpy as np
import pytest

from tfp_flows import data
from tfp_flows.training.sample_quality import DigitScorer, blends, real_test_digits, real_train_digits


@pytest.fixture(scope="module")
def scorer():
    return DigitScorer.fit()


def test_labelled_splits_are_the_data_splits():
    images, labels = real_train_digits()
    np.testing.assert_array_equal(images, data.digits.load_split("train"))
    assert labels.shape == (1257,) and set(labels.tolist()) == set(range(10))


def test_reference_row_on_real_test_digits(scorer):
    images, labels = real_test_digits()
    assert scorer.accuracy(images, labels) > 0.98
    assert 0.85 <= scorer.confident_fraction(images) <= 0.92
    assert scorer.class_histogram(images).sum() == len(images) and scorer.class_histogram(images).min() > 20
    assert np.all(scorer.probabilities(images).sum(1) < 1.0)  # the rest is "none of the digits"


def test_uniform_noise_is_never_a_digit(scorer):
    noise = np.random.default_rng(0).integers(0, 17, size=(500, 8, 8, 1))
    assert scorer.confident_fraction(noise) == 0.0
    assert scorer.probabilities(noise).sum(1).max() < 0.01


def test_blends_of_two_digits_are_rarely_confident(scorer):
    images, labels = real_test_digits()
    mixtures = blends(images, labels, 600, seed=0)  # pixelwise means of two test digits of different classes
    assert len(mixtures) > 500
    assert scorer.confident_fraction(mixtures) < 0.12
    ones, zeros = images[labels == 1][:30].astype(float), images[labels == 0][:30].astype(float)
    assert scorer.confident_fraction(np.round((ones + zeros) / 2)) < 0.1


def test_bad_images_and_settings_are_refused(scorer):
    with pytest.raises(ValueError, match=r"8, 8"):
        scorer.confident_fraction(np.zeros((3, 28, 28)))
    with pytest.raises(ValueError, match="to_levels"):
        scorer.confident_fraction(np.full((3, 8, 8, 1), 0.5))
    with pytest.raises(ValueError, match="no images"):
        scorer.confident_fraction(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="bandwidth > 0, got 0"):
        DigitScorer.fit(bandwidth=0)
    with pytest.raises(ValueError, match=r"threshold in \(0, 1\), got 1.5"):
        DigitScorer.fit(threshold=1.5)
