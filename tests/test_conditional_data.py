"""Labels and context with the data: digits, TFDS (mock data), folders with class subfolders, CSV context columns."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from tfp_flows import data
from tfp_flows.data import tfds_datasets
from tfp_flows.training.sample_quality import real_test_digits


def _all(ds):
    parts = list(ds)
    return tuple(np.concatenate([p[i].numpy() for p in parts]) for i in range(len(parts[0])))


def test_digits_labels_are_scikit_learns_targets():
    info = data.info("digits")
    assert info.num_classes == 10 and info.class_names == tuple("0123456789")
    images, labels = _all(data.load("digits", "test", batch_size=100, with_labels=True, shuffle=False))
    expected_images, expected_labels = real_test_digits()  # computed independently from load_digits
    assert labels.dtype == np.int32 and labels.shape == (360,)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)
    # shuffled and flipped, the pairs stay together
    shuffled_images, shuffled_labels = _all(data.load("digits", "test", batch_size=100, with_labels=True, shuffle=True))
    lookup = {bytes(image): label for image, label in zip(expected_images, expected_labels)}
    assert [lookup[bytes(image)] for image in shuffled_images] == shuffled_labels.tolist()
    assert not np.array_equal(shuffled_labels, labels)
    # unconditional loading is unchanged
    assert next(iter(data.load("digits", "test", batch_size=4, shuffle=False))).shape == (4, 8, 8, 1)


def test_tfds_labels_with_mock_data():
    with tfds.testing.mock_data(num_examples=12):
        images, labels = next(iter(data.load("mnist", "train", batch_size=12, with_labels=True, n_bits=4, flip=True)))
        assert images.shape == (12, 28, 28, 1) and images.dtype == tf.uint8 and int(tf.reduce_max(images)) < 16
        assert labels.dtype == tf.int32 and labels.shape == (12,)
        assert 0 <= int(tf.reduce_min(labels)) and int(tf.reduce_max(labels)) < 10
        assert len(set(labels.numpy().tolist())) > 1
        # any TFDS image dataset with a `label` class feature
        images, labels = next(iter(data.load("beans", "train", batch_size=6, image_size=8, with_labels=True)))
        assert images.shape == (6, 8, 8, 3) and labels.dtype == tf.int32 and int(tf.reduce_max(labels)) < 3
        assert data.info("beans", image_size=8).class_names == ("angular_leaf_spot", "bean_rust", "healthy")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10", "svhn_cropped"])
def test_known_class_names_match_tfds(name):
    label = tfds.builder(tfds_datasets.SOURCES[name].tfds_name).info.features["label"]
    assert data.info(name).num_classes == label.num_classes == 10
    if name != "cifar10":  # CIFAR-10's names come with its downloaded metadata: ours are those of batches.meta.txt
        assert data.info(name).class_names == tuple(label.names)


def test_datasets_without_labels_say_so():
    assert data.info("celeb_a").num_classes == 0
    with pytest.raises(ValueError, match=r"TFDS dataset 'celeb_a' has no 'label' class feature"):
        data.load("celeb_a", "train", with_labels=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two class subfolders, named out of order: ids follow the sorted names."""
    root = tmp_path_factory.mktemp("classes")
    rng = np.random.default_rng(0)
    for name, count, level in (("zebra", 5, 200), ("apple", 3, 10)):
        (root / name).mkdir()
        for i in range(count):
            image = np.full((4, 4, 1), level, np.uint8) + rng.integers(0, 5, (4, 4, 1), dtype=np.uint8)
            tf.io.write_file(str(root / name / f"{i}.png"), tf.io.encode_png(image))
    return str(root)


def test_folder_class_subfolders(folder):
    info = data.info(folder)
    assert info.class_names == ("apple", "zebra") and info.num_classes == 2
    images, labels = _all(data.load(folder, "all", batch_size=8, with_labels=True, shuffle=False))
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    assert np.all(images[labels == 0] < 20) and np.all(images[labels == 1] >= 200)  # each image with its own class


def test_folder_without_classes_refuses_labels(tmp_path):
    tf.io.write_file(str(tmp_path / "a.png"), tf.io.encode_png(np.zeros((4, 4, 1), np.uint8)))
    with pytest.raises(ValueError, match=r"with_labels=True, but this data has no class labels \(put images in one subfolder per class"):
        data.load(str(tmp_path), "all", with_labels=True)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    path = tmp_path_factory.mktemp("table") / "readings.csv"
    rows = ["temp,pressure,site,hour"] + [f"{i * 0.5},{10 + i},{i % 3},{i % 24}" for i in range(20)]
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def test_csv_context_columns(table):
    info = data.info(table, context_columns=["site", "hour"])
    assert info.columns == ("temp", "pressure") and info.context_columns == ("site", "hour") and info.context_dim == 2
    assert info.event_shape == (2,) and info.num_bins is None
    vectors, context = _all(data.load(table, "all", batch_size=7, context_columns=["site", "hour"], shuffle=False))
    assert vectors.dtype == np.float32 and context.dtype == np.float32 and context.shape == (20, 2)
    np.testing.assert_array_equal(vectors[:, 0], np.arange(20) * 0.5)
    np.testing.assert_array_equal(context, np.stack([np.arange(20) % 3, np.arange(20) % 24], 1))
    # with columns chosen: just those, and the splits of the plain table
    vectors, context = _all(data.load(table, "test", batch_size=7, columns=["pressure"], context_columns=["site"], shuffle=False))
    plain = next(iter(data.load(table, "test", batch_size=7, shuffle=False))).numpy()
    np.testing.assert_array_equal(vectors[:, 0], plain[:, 1])
    np.testing.assert_array_equal(context[:, 0], plain[:, 2])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(context_columns=["depth"]), r"readings.csv has no context column 'depth'; its columns are temp, pressure, site, hour"),
        (dict(columns=["temp", "site"], context_columns=["site"]), r"column 'site' is both modelled \(columns\) and a context column"),
        (dict(context_columns=["site", "site"]), r"context_columns names a column twice"),
        (dict(context_columns=["temp", "pressure", "site", "hour"]), r"every column is a context column"),
        (dict(with_labels=True), r"with_labels=True, but this data has no class labels \(a table is conditioned on columns"),
        (dict(with_labels=True, context_columns=["site"]), r"a table has no class labels; its context columns \['site'\]"),
    ],
)
def test_bad_context_columns(table, kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(table, "all", **kwargs)


def test_non_numeric_context_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x,y,c\n1,2,3\n4,5,north\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3, context column 'c': 'north' is not a number"):
        data.info(str(path), context_columns=["c"])
    path.write_text("x,y,c\n1,2,\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 2, context column 'c': missing value ''"):
        data.info(str(path), context_columns=["c"])


def test_context_columns_apply_to_tables_only(folder):
    with pytest.raises(ValueError, match=r"load: context_columns applies to tables \(CSV\), not to 'digits'"):
        data.load("digits", context_columns=["a"])
    with pytest.raises(ValueError, match=r"context_columns applies to tables \(CSV\), not to 'mnist'"):
        data.info("mnist", context_columns=["a"])
    with pytest.raises(ValueError, match=r"context_columns applies to tables \(CSV\), not to .*classes"):
        data.load(folder, "all", context_columns=["a"])
