"""`load` and `info`: any dataset as shuffled, batched, prefetched examples for `FlowModel.fit`.

Dispatch on `name`: speech ("speech", "ljspeech", a folder of .wav files: see
`audio_datasets`), "digits" (embedded), the seven TFDS datasets of `DATASETS`, a path
(folder of images, `.npy`/`.npz`, CSV), a `tf.data.Dataset`, else any other TFDS name
with an image feature.
"""
from __future__ import annotations

import functools
import os
from typing import Sequence

import numpy as np
import tensorflow as tf

from tfp_flows import _checks
from tfp_flows.data import (
    arrays, audio_datasets, digits, image_folder, splits as splits_lib, tabular, tfds_datasets, user_dataset,
)
from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo

DATASETS = ("digits",) + tuple(tfds_datasets.SOURCES)
ARRAY_SUFFIXES = (".npy", ".npz")
FILE_SUFFIXES = ARRAY_SUFFIXES + tabular.SUFFIXES + (".parquet", ".pq")


def kind_of(name) -> str:
    """"dataset", "digits", "tfds", "folder", "arrays", "table" or "tfds_generic" (any other name).

    Raises:
      ValueError: a name that is neither a dataset, nor an existing path, nor a `tf.data.Dataset`.

    >>> from tfp_flows import data
    >>> data.kind_of("digits"), data.kind_of("cifar10")
    ('digits', 'tfds')
    """
    if isinstance(name, tf.data.Dataset):
        return "dataset"
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown dataset {name!r}: expected a dataset name, a path or a tf.data.Dataset.")
    if name == "digits":
        return "digits"
    if name in tfds_datasets.SOURCES:
        return "tfds"
    suffix = os.path.splitext(name)[1].lower()
    if os.path.isdir(name):
        return "folder"
    if os.path.exists(name) or suffix in FILE_SUFFIXES or os.sep in name:
        if not os.path.exists(name):
            raise ValueError(f"no such file or folder: {name}.")
        tabular.refuse_parquet(name)
        if suffix in ARRAY_SUFFIXES:
            return "arrays"
        if suffix in tabular.SUFFIXES:
            return "table"
        raise ValueError(
            f"{name}: unknown file type {suffix or '(no suffix)'}; expected a folder of images, a .npy/.npz array or a .csv table."
        )
    return "tfds_generic"


def read(path, *, image_size: int | None = None, columns: Sequence[str] | None = None, n_bits: int | None = None,
         context_columns: Sequence[str] | None = None, num_bins: int | None = None) -> InMemoryData:
    """Reads and checks a folder of images, a `.npy`/`.npz` or a CSV into memory (cached per file version).

    Any problem (unreadable image, mixed sizes, non-numeric cell, wrong rank) is a
    `ValueError` naming the file (and line and column). `context_columns` (CSV) are read
    apart as the context of a conditional density (`InMemoryData.context`). Images have
    `num_bins` levels: 256 (8-bit) unless `n_bits` reduces them or `num_bins` says how many
    levels the integers hold (17 for the digits' 0..16; every value must lie below it).

    Args:
      path: a folder of images, a `.npy`/`.npz` or a CSV file.
      image_size: centre-crop and resize images to this square size.
      columns: the modelled columns of a CSV (default: every numeric one).
      n_bits: bit depth of images.
      num_bins: the levels of integer images (17 for the digits' 0..16); values must lie below it.

    Raises:
      ValueError: a missing or unsupported file, options that do not apply to it, or bad content.

    >>> import numpy as np, os, tempfile
    >>> from tfp_flows import data
    >>> path = os.path.join(tempfile.mkdtemp(), "points.npy")
    >>> np.save(path, np.zeros((10, 3), "float32"))
    >>> data.read(path).examples.shape
    (10, 3)
    """
    path = os.fspath(path)
    kind = kind_of(path)
    if kind not in ("folder", "arrays", "table"):
        raise ValueError(f"expected a folder of images, a .npy/.npz or a .csv file, got {path!r}.")
    if kind != "folder" and image_size is not None:
        raise ValueError(f"image_size applies to folders of images (and TFDS datasets), not to {path}.")
    if kind != "table" and columns is not None:
        raise ValueError(f"columns applies to tables (CSV), not to {path}.")
    if kind != "table" and context_columns is not None:
        raise ValueError(f"context_columns applies to tables (CSV), not to {path}; a folder of images or an array "
                         "is conditioned on its class labels (with_labels=True) instead.")
    if kind == "table" and (n_bits is not None or num_bins is not None):
        raise ValueError(f"{'n_bits' if n_bits is not None else 'num_bins'} applies to images, not to the continuous table {path}.")
    _check_num_bins(num_bins, n_bits)
    columns = tuple(columns) if columns is not None and not isinstance(columns, str) else columns
    if context_columns is not None and not isinstance(context_columns, str):
        context_columns = tuple(context_columns)
    return _read_cached(os.path.abspath(path), _signature(path), kind, image_size, columns, _check_bits(n_bits), context_columns,
                        num_bins)


@functools.lru_cache(maxsize=4)
def _read_cached(path, signature, kind, image_size, columns, n_bits, context_columns=None, num_bins=None) -> InMemoryData:
    del signature  # part of the cache key only: a changed file is read again
    if kind == "folder":
        data = image_folder.read(path, image_size, n_bits, num_bins)
    elif kind == "arrays":
        data = arrays.read(path, n_bits, num_bins)
    else:
        data = tabular.read(path, columns, context_columns)
    if data.info.kind == "images" and min(data.info.event_shape[:2]) < 1:
        raise ValueError(f"{path}: images of size {data.info.event_shape} are empty.")
    return data


def _signature(path: str) -> tuple:
    stats = [os.stat(path)]
    if os.path.isdir(path):
        stats += [os.stat(os.path.join(path, d)) for d in sorted(os.listdir(path)) if os.path.isdir(os.path.join(path, d))]
    return tuple((s.st_mtime_ns, s.st_size) for s in stats)


def info(name, n_bits: int | None = None, *, image_size: int | None = None, columns: Sequence[str] | None = None,
         data_dir: str | None = None, context_columns: Sequence[str] | None = None, num_bins: int | None = None,
         **audio_options) -> DatasetInfo:
    """Event shape, `num_bins` (None for continuous vectors), splits, class names (`num_classes`) and context columns.

    `num_bins` declares the levels of your own integer images (folders, `.npy`/`.npz`,
    a `tf.data.Dataset`); without it (and without `n_bits`) they are taken as 8-bit, 256.

    Args:
      name: as for `load`: a dataset name, a path or an unbatched `tf.data.Dataset`.
      n_bits: bit depth of images (`num_bins = 2**n_bits`).
      num_bins: the levels of integer images (17 for the digits' 0..16); values must lie below it.
      image_size: the square size images are resized to (folders, generic TFDS datasets).
      columns: the modelled columns of a CSV.
      data_dir: where TFDS data lives.
      context_columns: the context columns of a CSV (`context_dim`).

    Returns a `DatasetInfo`.

    Raises:
      ValueError: as `load`, for an unknown name or bad files.
      TypeError: speech options given for a dataset that is not speech.

    >>> from tfp_flows import data
    >>> meta = data.info("digits")
    >>> meta.event_shape, meta.num_bins, meta.num_classes
    ((8, 8, 1), 17, 10)
    """
    if audio_datasets.is_audio_source(name):  # speech: see audio_datasets.info
        if num_bins is not None:
            raise ValueError(f"num_bins applies to images; the audio dataset {_label(name)} has 16-bit samples.")
        return audio_datasets.info(name, **audio_options)
    if audio_options:
        raise TypeError(f"info: unexpected arguments {sorted(audio_options)} for the dataset {_label(name)}.")
    kind = kind_of(name)
    if kind in ("digits", "tfds", "dataset", "tfds_generic") and (columns is not None or context_columns is not None):
        what = "columns" if columns is not None else "context_columns"
        raise ValueError(f"{what} applies to tables (CSV), not to {_label(name)}.")
    if kind in ("digits", "tfds", "dataset") and image_size is not None:
        raise ValueError(f"image_size applies to folders of images and other TFDS datasets; {_label(name)} has a fixed size.")
    _check_num_bins(num_bins, n_bits, kind, name)
    if kind == "digits":
        if n_bits is not None:
            raise ValueError("digits: n_bits does not apply (the digits have 17 levels, 0..16).")
        return digits.INFO
    if kind == "tfds":
        return tfds_datasets.info(name, _check_bits(n_bits))
    if kind == "dataset":
        return user_dataset.info(name, _check_bits(n_bits), num_bins)
    if kind == "tfds_generic":
        return tfds_datasets.info(name, _check_bits(n_bits), _generic(name, data_dir, image_size))
    return read(name, image_size=image_size, columns=columns, n_bits=n_bits, context_columns=context_columns, num_bins=num_bins).info


def load(
    name="digits",
    split: str = "train",
    batch_size: int = 128,
    *,
    shuffle: bool | None = None,
    n_bits: int | None = None,
    num_bins: int | None = None,
    flip: bool = False,
    data_dir: str | None = None,
    download: bool = True,
    repeat: bool = False,
    drop_remainder: bool = False,
    seed: int | None = 0,
    image_size: int | None = None,
    columns: Sequence[str] | None = None,
    with_labels: bool = False,
    context_columns: Sequence[str] | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    split_seed: int = 0,
    splits: dict | str | None = None,
    **audio_options,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of batches: uint8 images `[B, H, W, C]` in `[0, num_bins)`, or float32 vectors `[B, D]`.

    Args:
      name: "digits" (embedded, offline); a TFDS dataset: mnist, fashion_mnist, cifar10,
        svhn_cropped, celeb_a (centre crop, 64x64), downsampled_imagenet_32,
        downsampled_imagenet_64, or any other TFDS name with an image feature; a folder
        of images (PNG, JPEG, BMP, GIF; subfolders are class labels); a `.npy`/`.npz`
        of images `[N, H, W, C]` or vectors `[N, D]`; a CSV table with a header (vectors,
        continuous); or an unbatched `tf.data.Dataset`. `info(name)` gives the event
        shape and `num_bins`.
      split: "train", "validation" or "test" ("all" for every example of own data).
      shuffle: shuffle examples (default: for the train split only).
      n_bits: reduce 8-bit images to `n_bits` bits as openai/glow does
        (`x // 2**(8 - n_bits)`; `num_bins = 2**n_bits`).
      num_bins: the number of levels your own integer images hold, 2..256 (folders,
        `.npy`/`.npz`, datasets): values must lie in `[0, num_bins)`. Default: 256 (8-bit),
        or `2**n_bits`. An array of the digits' levels 0..16 is `num_bins=17`.
      flip: random horizontal flips (data augmentation, images).
      data_dir: where TFDS data lives (pre-downloaded with `tfds build`).
      download: let TFDS download missing data (one attempt); either way missing data that
        cannot be had raises `DatasetUnavailableError` saying how to prepare it.
      image_size: centre-crop and resize images to `image_size x image_size` (folders and
        generic TFDS datasets); without it a folder's images must share one size.
      columns: the numeric columns of a CSV to model (default: all).
      with_labels: yield `(examples, labels)` pairs, labels int32 in `[0, num_classes)`
        (digits: the digit; TFDS datasets with a `label` feature; folders with class
        subfolders, ids of the sorted names; `.npz` with `labels`; datasets of pairs), for
        class-conditional models (`num_classes=info(name).num_classes`). Data without
        labels is an error.
      context_columns: columns of a CSV read as the context `c` of `p(x | c)`: yields
        `(vectors, context)` pairs, float32 `[B, D]` and `[B, C]` (context-conditioned
        models, `context_dim=info(name, context_columns=...).context_dim`); `columns`
        then defaults to every other column.
      validation_fraction, test_fraction, split_seed: the held-out splits of data that has
        none (own files, datasets): a seeded permutation (`data.splits.holdout`).
      splits: an assignment from `data.splits.holdout` (or the path of one saved with
        `data.splits.save`, as a run directory's `splits.json`) to use instead.

    Speech ("speech", "ljspeech", a folder of .wav files) yields dicts of audio and mels:
    see `tfp_flows.data.audio_datasets.load` for `audio_options` (segment_length, mel_config, ...).

    More arguments:
      batch_size: examples per batch (the last batch may be smaller unless `drop_remainder`).
      repeat: repeat the data forever (for `fit(..., steps_per_epoch=...)`).
      drop_remainder: drop a last, smaller batch.
      seed: the shuffling and augmentation seed (None: a fresh one each pass).

    Raises:
      ValueError: an unknown name, a missing file, an unknown split, bad files (named with line and column),
        options that do not apply to the data (e.g. `columns` for images), or labels the data does not have.
      DatasetUnavailableError: a TFDS dataset that is not prepared and cannot be downloaded.

    >>> from tfp_flows import data
    >>> batch = next(iter(data.load("digits", "train", batch_size=32)))
    >>> batch.shape, batch.dtype.name
    (TensorShape([32, 8, 8, 1]), 'uint8')
    """
    for flag, value in dict(flip=flip, download=download, repeat=repeat, drop_remainder=drop_remainder, with_labels=with_labels).items():
        _checks.boolean("load", flag, value)
    if shuffle is not None:
        _checks.boolean("load", "shuffle", shuffle)
    if seed is not None:
        _checks.integer("load", "seed", seed, minimum=0)
    _checks.integer("load", "split_seed", split_seed, minimum=0)
    if splits is not None and not isinstance(splits, (dict, str, os.PathLike)):
        raise ValueError(f"load: expected splits as a dict from data.splits.holdout or the path of a saved one, got {splits!r}.")
    if data_dir is not None and not isinstance(data_dir, (str, os.PathLike)):
        raise ValueError(f"load: expected data_dir as a folder path, got {data_dir!r}.")
    if audio_datasets.is_audio_source(name):
        if (n_bits is not None or num_bins is not None or flip or image_size is not None or columns is not None or with_labels
                or context_columns is not None):
            raise ValueError(
                f"load: n_bits, num_bins and flip apply to images (image_size, columns, with_labels, context_columns to images and tables), "
                f"not to the audio dataset {name!r}."
            )
        return audio_datasets.load(
            name, split, batch_size, shuffle=shuffle, data_dir=data_dir, download=download, repeat=repeat,
            drop_remainder=drop_remainder, seed=seed, **audio_options,
        )
    if audio_options:
        raise TypeError(f"load: unexpected arguments {sorted(audio_options)} for the dataset {_label(name)}.")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"load: expected batch_size >= 1, got {batch_size!r}.")
    kind = kind_of(name)
    shuffle = split == "train" if shuffle is None else shuffle
    buffer = 10_000
    if context_columns is not None and kind != "table":
        raise ValueError(f"load: context_columns applies to tables (CSV), not to {_label(name)}; images are conditioned on "
                         "their class labels (with_labels=True) instead.")
    _check_num_bins(num_bins, n_bits, kind, name)
    if kind == "digits":
        if n_bits is not None:
            raise ValueError("load: n_bits does not apply to digits (17 levels, 0..16).")
        if image_size is not None or columns is not None:
            raise ValueError("load: image_size and columns do not apply to digits.")
        ds = tf.data.Dataset.from_tensor_slices(digits.load_split(split, with_labels))
        buffer = digits.SPLIT_SIZES[split]
    elif kind in ("tfds", "tfds_generic"):
        bits = _check_bits(n_bits)
        if columns is not None or (kind == "tfds" and image_size is not None):
            raise ValueError(f"load: {'columns' if columns is not None else 'image_size'} does not apply to {name!r}.")
        source = _generic(name, data_dir, image_size) if kind == "tfds_generic" else None
        ds = tfds_datasets.load_split(name, split, data_dir, download, shuffle_files=shuffle, source=source, with_labels=with_labels)
        if bits < 8:
            reduce = lambda x: x // (2 ** (8 - bits))  # noqa: E731
            ds = ds.map((lambda x, l: (reduce(x), l)) if with_labels else reduce, num_parallel_calls=tf.data.AUTOTUNE)
    elif kind == "dataset":
        ds = user_dataset.split(name, split, _check_bits(n_bits), with_labels, validation_fraction, test_fraction, split_seed,
                                num_bins)
    else:
        own = read(name, image_size=image_size, columns=columns, n_bits=n_bits, context_columns=context_columns, num_bins=num_bins)
        if isinstance(splits, (str, os.PathLike)):
            splits = splits_lib.read(os.fspath(splits))
        assignment = splits if splits is not None else own.assignment(validation_fraction, test_fraction, split_seed)
        indices = own.indices(split, assignment)
        if len(indices) == 0:
            raise ValueError(f"{name}: the {split} split is empty ({len(own.keys)} examples in all).")
        ds = own.dataset(indices, with_labels)
        buffer = len(indices)
    if flip:
        if info(name, n_bits, image_size=image_size, columns=columns, data_dir=data_dir, num_bins=num_bins).kind != "images":
            raise ValueError("load: flip applies to images, not vectors.")
        flip_fn = lambda x: tf.image.random_flip_left_right(x, seed=seed)  # noqa: E731
        ds = ds.map((lambda x, l: (flip_fn(x), l)) if with_labels else flip_fn, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _label(name) -> str:
    return "a tf.data.Dataset" if isinstance(name, tf.data.Dataset) else repr(name)


def _generic(name: str, data_dir, image_size):
    source = tfds_datasets.generic_source(name, data_dir, image_size)
    if source is None:
        raise ValueError(
            f"unknown dataset {name!r}: not one of {DATASETS}, an existing file or folder, nor a TFDS dataset name."
        )
    return source


def _check_num_bins(num_bins, n_bits, kind: str | None = None, name=None) -> None:
    """`num_bins` is for the levels of users' own integer images, instead of `n_bits`."""
    if num_bins is None:
        return
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or not 2 <= num_bins <= 256:
        raise ValueError(f"expected num_bins as an integer in 2..256 (the levels of integer images), got {num_bins!r}.")
    if n_bits is not None:
        raise ValueError(f"pass n_bits (reduces 8-bit images to 2**n_bits levels) or num_bins (the levels your images hold), "
                         f"not both; got n_bits={n_bits!r}, num_bins={num_bins!r}.")
    if kind in ("digits", "tfds", "tfds_generic"):
        fixed = "17 levels, 0..16" if kind == "digits" else "8-bit images: reduce them with n_bits"
        raise ValueError(f"num_bins applies to your own images (a folder, .npy/.npz or tf.data.Dataset); {_label(name)} has "
                         f"fixed levels ({fixed}).")


def _check_bits(n_bits):
    if n_bits is None:
        return 8
    if not isinstance(n_bits, (int, np.integer)) or not 1 <= n_bits <= 8:
        raise ValueError(f"expected n_bits in 1..8, got {n_bits!r}.")
    return int(n_bits)
