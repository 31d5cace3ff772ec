"""Data pipelines: the embedded digits for real, TFDS paths through tfds.testing.mock_data."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfp_flows import data
from tfp_flows.data import digits


def test_digits_splits_are_fixed_disjoint_and_complete():
    splits = {name: digits.load_split(name) for name in ("train", "validation", "test")}
    assert {k: len(v) for k, v in splits.items()} == {"train": 1257, "validation": 180, "test": 360}
    flat = np.concatenate([v.reshape(len(v), -1) for v in splits.values()])
    assert len(np.unique(flat, axis=0)) == len(np.unique(digits._all_images().reshape(1797, -1), axis=0))
    np.testing.assert_array_equal(digits.load_split("test"), digits.load_split("test"))  # same every call
    assert splits["train"].dtype == np.uint8 and splits["train"].max() == 16 and splits["train"].min() == 0


def test_load_digits_batches():
    info = data.info("digits")
    assert info.event_shape == (8, 8, 1) and info.num_bins == 17
    batches = list(data.load("digits", "validation", batch_size=64))
    assert [b.shape[0] for b in batches] == [64, 64, 52]
    assert batches[0].dtype == tf.uint8 and batches[0].shape[1:] == (8, 8, 1)
    # validation is not shuffled by default; train is
    np.testing.assert_array_equal(batches[0].numpy(), digits.load_split("validation")[:64])
    train_first = next(iter(data.load("digits", "train", batch_size=1257))).numpy()
    assert not np.array_equal(train_first, digits.load_split("train"))
    assert sorted(map(bytes, train_first)) == sorted(map(bytes, digits.load_split("train")))


@pytest.mark.parametrize(
    "name, shape",
    [
        ("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)), ("cifar10", (32, 32, 3)), ("svhn_cropped", (32, 32, 3)),
        ("celeb_a", (64, 64, 3)), ("downsampled_imagenet_32", (32, 32, 3)), ("downsampled_imagenet_64", (64, 64, 3)),
    ],
)
def test_tfds_datasets_with_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=6):
        batch = next(iter(data.load(name, "train", batch_size=4, flip=True)))
        assert batch.shape == (4,) + shape and batch.dtype == tf.uint8
        reduced = next(iter(data.load(name, "test", batch_size=6, n_bits=3)))
        assert int(tf.reduce_max(reduced)) < 8
    assert data.info(name, n_bits=5).num_bins == 32 and data.info(name).event_shape == shape


def test_missing_tfds_data_says_what_to_do(tmp_path):
    with pytest.raises(data.DatasetUnavailableError) as error:
        data.load("cifar10", data_dir=str(tmp_path), download=False)
    message = str(error.value)
    assert "'cifar10'" in message and str(tmp_path) in message and "tfds build cifar10 --data_dir" in message


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve host\nlong stack of network detail")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(data.DatasetUnavailableError, match=r"'mnist'.*ConnectionError: Failed to resolve host\). Prepare"):
        data.load("mnist", data_dir=str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="imagenet"), "unknown dataset 'imagenet'"),
        (dict(name="digits", split="dev"), "unknown split 'dev'"),
        (dict(name="digits", batch_size=0), "batch_size >= 1, got 0"),
        (dict(name="digits", n_bits=4), "n_bits does not apply to digits"),
        (dict(name="mnist", n_bits=9), "n_bits in 1..8, got 9"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)
