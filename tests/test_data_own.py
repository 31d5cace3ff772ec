"""Users' own data through `data.load`/`data.info`: image folders, .npy/.npz, CSV, tf.data.Dataset, any TFDS
image dataset, seeded held-out splits, and bad files named in one clear error."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from sklearn.datasets import load_digits, load_wine

from own_data_files import write_digits_npy, write_photos, write_wine_csv
from tfp_flows import data
from tfp_flows.data import splits


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    return dict(
        photos=write_photos(str(root / "photos")),
        wine=write_wine_csv(str(root / "wine.csv")),
        digits=write_digits_npy(str(root / "digits.npy")),
        root=root,
    )


def _all(ds):
    return np.concatenate([b.numpy() for b in ds])


def test_image_folder_classes_sizes_and_splits(files):
    info = data.info(files["photos"], image_size=16)
    assert info.event_shape == (16, 16, 3) and info.num_bins == 256 and info.class_names == ("china", "flower")
    parts = {s: _all(data.load(files["photos"], s, batch_size=5, image_size=16)) for s in ("train", "validation", "test")}
    assert {s: len(v) for s, v in parts.items()} == {"train": 20, "validation": 2, "test": 2}  # 24 images, 10% + 10%
    assert all(v.dtype == np.uint8 and v.shape[1:] == (16, 16, 3) for v in parts.values())
    everything = _all(data.load(files["photos"], "all", batch_size=64, image_size=16, shuffle=False))
    assert sorted(map(bytes, np.concatenate(list(parts.values())))) == sorted(map(bytes, everything))
    # labels for a later class-conditional model: (images, labels) pairs, ids follow the sorted subfolders
    images, labels = next(iter(data.load(files["photos"], "all", batch_size=64, image_size=16, shuffle=False, with_labels=True)))
    assert labels.dtype == tf.int32 and labels.numpy().tolist() == [0] * 12 + [1] * 12
    np.testing.assert_array_equal(images.numpy(), everything)
    # a centre crop of a 24x24 image to 24 is the decoded PNG itself
    first = data.read(files["photos"], image_size=24).examples[0]
    np.testing.assert_array_equal(first, tf.io.decode_png(tf.io.read_file(os.path.join(files["photos"], "china", "00.png"))).numpy())


def test_grey_folder_and_n_bits(tmp_path):
    digits = load_digits().images.astype(np.uint8) * 15  # 0..240
    for i in range(6):
        tf.io.write_file(str(tmp_path / f"{i}.png"), tf.io.encode_png(digits[i][..., None]))
    info = data.info(str(tmp_path), n_bits=4)
    assert info.event_shape == (8, 8, 1) and info.num_bins == 16 and info.class_names == ()
    images = _all(data.load(str(tmp_path), "all", batch_size=6, n_bits=4, shuffle=False))
    np.testing.assert_array_equal(images[..., 0], digits[:6] // 16)


def test_gif_first_frame(tmp_path):
    pytest.importorskip("PIL")
    write_photos(str(tmp_path / "gifs"), per_class=3, formats=("gif",))
    assert data.info(str(tmp_path / "gifs")).event_shape == (24, 24, 3)


def test_arrays_images_vectors_and_given_splits(files, tmp_path):
    info = data.info(files["digits"])
    assert info.event_shape == (8, 8, 1) and info.num_bins == 256 and info.kind == "images"
    train = _all(data.load(files["digits"], "train", batch_size=500))
    assert len(train) == 1797 - 2 * 180 and train.max() == 16
    vectors = str(tmp_path / "vectors.npy")
    np.save(vectors, load_wine().data)
    info = data.info(vectors)
    assert info.kind == "vectors" and info.event_shape == (13,) and info.num_bins is None
    test = _all(data.load(vectors, "test", batch_size=100))
    assert test.dtype == np.float32 and len(test) == 18
    split_file = str(tmp_path / "split.npz")
    np.savez(split_file, train=np.zeros((10, 3)), test=np.ones((4, 3)), train_labels=np.arange(10), test_labels=np.arange(4))
    np.testing.assert_array_equal(_all(data.load(split_file, "test", batch_size=10)), np.ones((4, 3)))
    assert len(_all(data.load(split_file, "train", batch_size=10))) + len(_all(data.load(split_file, "validation", batch_size=10))) == 10
    assert data.info(split_file).class_names == tuple(str(i) for i in range(10))


def test_csv_columns_units_and_lines(files):
    info = data.info(files["wine"], columns=["alcohol", "proline"])
    assert info.kind == "vectors" and info.event_shape == (2,) and info.num_bins is None and info.columns == ("alcohol", "proline")
    rows = _all(data.load(files["wine"], "all", batch_size=200, columns=["alcohol", "proline"], shuffle=False))
    np.testing.assert_allclose(rows, load_wine().data[:, [0, 12]], rtol=1e-6)
    assert data.read(files["wine"], columns=["alcohol"]).keys[:2] == ("2", "3")  # file line numbers


def test_splits_are_seeded_saved_and_reused(files, tmp_path):
    own = data.read(files["wine"], columns=["alcohol", "hue"])
    a, b, c = own.assignment(seed=0), own.assignment(seed=0), own.assignment(seed=1)
    assert a == b and a != c
    assert sorted(sum(a.values(), [])) == sorted(own.keys) and not set(a["train"]) & set(a["test"])
    path = str(tmp_path / "splits.json")
    splits.save(path, c)
    saved = _all(data.load(files["wine"], "test", batch_size=100, columns=["alcohol", "hue"], splits=path, shuffle=False))
    again = _all(data.load(files["wine"], "test", batch_size=100, columns=["alcohol", "hue"], split_seed=1, shuffle=False))
    np.testing.assert_array_equal(saved, again)
    with pytest.raises(ValueError, match=r"the data changed since the split was made"):
        data.load(files["wine"], "test", columns=["alcohol"], splits={"train": ["2"], "test": ["9999"]})


def test_tf_data_dataset_input():
    images = np.random.default_rng(0).integers(0, 256, (200, 4, 4, 3)).astype(np.uint8)
    ds = tf.data.Dataset.from_tensor_slices((images, np.arange(200) % 3))
    info = data.info(ds)
    assert info.event_shape == (4, 4, 3) and info.num_bins == 256
    parts = {s: _all(data.load(ds, s, batch_size=64, shuffle=False)) for s in ("train", "validation", "test")}
    assert sum(len(v) for v in parts.values()) == 200 and 8 <= len(parts["test"]) <= 35
    assert sorted(map(bytes, np.concatenate(list(parts.values())))) == sorted(map(bytes, images))
    np.testing.assert_array_equal(parts["test"], _all(data.load(ds, "test", batch_size=64, shuffle=False)))  # seeded
    x, y = next(iter(data.load(ds, "all", batch_size=8, shuffle=False, with_labels=True)))
    assert y.numpy().tolist() == [0, 1, 2, 0, 1, 2, 0, 1]
    vectors = tf.data.Dataset.from_tensor_slices(np.zeros((10, 5), np.float64))
    assert data.info(vectors).kind == "vectors" and data.info(vectors).num_bins is None


def test_any_tfds_image_dataset_with_mock_data():
    with tfds.testing.mock_data(num_examples=6):
        batch = next(iter(data.load("beans", "train", batch_size=4, image_size=16)))
        assert batch.shape == (4, 16, 16, 3) and batch.dtype == tf.uint8
        assert data.info("beans", image_size=16).event_shape == (16, 16, 3)
        assert data.info("rock_paper_scissors").event_shape == (300, 300, 3)
    with pytest.raises(ValueError, match=r"TFDS dataset 'imdb_reviews' has no image feature"):
        data.info("imdb_reviews")


def test_offline_download_fails_once_and_leaves_nothing(tmp_path, monkeypatch):
    from tensorflow_datasets.core.download import downloader

    seen = []

    def offline(self, *args, **kwargs):
        seen.append(downloader.MAX_RETRIES)
        os.makedirs(os.path.join(self.data_dir_root, "downloads", "mnist", "partial.tmp"), exist_ok=True)
        raise ConnectionError("Failed to resolve host")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    target = tmp_path / "tfds"
    with pytest.raises(data.DatasetUnavailableError, match=r"'mnist'.*tfds build mnist"):
        data.load("mnist", data_dir=str(target))
    assert seen == [0] and downloader.MAX_RETRIES == 10  # one attempt, then TFDS's setting is restored
    assert not target.exists()


@pytest.mark.parametrize(
    "make, kwargs, message",
    [
        ("truncated_png", {}, r"cannot decode image .*broken\.png: its PNG data is truncated or corrupt"),
        ("not_an_image", {}, r"cannot decode image .*notes\.jpg"),
        ("mixed_sizes", {}, r"different sizes \(a\.png: 8x8, b\.png: 10x12 pixels\); pass image_size"),
        ("empty_folder", {}, r"holds no images"),
        ("csv_text", {}, r"table\.csv, line 3, column 'b': 'abc' is not a number"),
        ("csv_missing", {}, r"table\.csv, line 4, column 'a': missing value ''"),
        ("csv_missing_column", dict(columns=["a", "c"]), r"has no column 'c'; its columns are a, b"),
        ("csv_ragged", {}, r"table\.csv, line 3: 1 fields, but the header names 2 columns"),
        ("wrong_rank", {}, r"rank\.npy: expected images \[N, H, W, C\].*got shape \(5,\)"),
        ("float_images", {}, r"floats\.npy: an image array \[N, H, W, C\] must hold integer levels"),
        ("pickled", {}, r"cannot read .*objects\.npy as a NumPy \.npy file"),
        ("parquet", {}, r"Parquet is not supported"),
        ("missing_file", {}, r"no such file or folder"),
    ],
)
def test_bad_files_are_named(tmp_path, make, kwargs, message):
    path = _bad_file(tmp_path, make)
    with pytest.raises(ValueError, match=message):
        data.load(path, "train", **kwargs)


def _bad_file(tmp_path, make: str) -> str:
    png = tf.io.encode_png(np.full((8, 8, 3), 100, np.uint8)).numpy()
    folder = tmp_path / "images"
    folder.mkdir()
    if make == "truncated_png":
        (folder / "good.png").write_bytes(png)
        (folder / "broken.png").write_bytes(png[: len(png) // 2])
        return str(folder)
    if make == "not_an_image":
        (folder / "notes.jpg").write_text("not a picture")
        return str(folder)
    if make == "mixed_sizes":
        (folder / "a.png").write_bytes(png)
        (folder / "b.png").write_bytes(tf.io.encode_png(np.zeros((12, 10, 3), np.uint8)).numpy())
        return str(folder)
    if make == "empty_folder":
        (folder / "readme.txt").write_text("no images here")
        return str(folder)
    table = tmp_path / "table.csv"
    if make == "csv_text":
        table.write_text("a,b\n1,2\n3,abc\n")
    elif make == "csv_missing":
        table.write_text("a,b\n1,2\n3,4\n,5\n")
    elif make == "csv_missing_column":
        table.write_text("a,b\n1,2\n")
    elif make == "csv_ragged":
        table.write_text("a,b\n1,2\n3\n")
    if make.startswith("csv"):
        return str(table)
    if make == "wrong_rank":
        np.save(tmp_path / "rank.npy", np.arange(5))
        return str(tmp_path / "rank.npy")
    if make == "float_images":
        np.save(tmp_path / "floats.npy", np.full((2, 4, 4, 1), 0.5))
        return str(tmp_path / "floats.npy")
    if make == "pickled":
        np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
        return str(tmp_path / "objects.npy")
    if make == "parquet":
        (tmp_path / "t.parquet").write_bytes(b"PAR1")
        return str(tmp_path / "t.parquet")
    return str(tmp_path / "nothere.csv")
