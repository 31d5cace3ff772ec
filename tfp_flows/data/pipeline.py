"""`load`: any dataset as shuffled, batched, prefetched discrete images for `FlowModel.fit`."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_flows.data import audio_datasets, digits, tfds_datasets
from tfp_flows.data.info import DatasetInfo

DATASETS = ("digits",) + tuple(tfds_datasets.SOURCES)


def info(name: str, n_bits: int | None = None, **audio_options) -> DatasetInfo:
    """Event shape, `num_bins` and splits of a dataset (after `n_bits` reduction)."""
    if audio_datasets.is_audio_source(name):  # speech: see audio_datasets.info
        return audio_datasets.info(name, **audio_options)
    if audio_options:
        raise TypeError(f"info: unexpected arguments {sorted(audio_options)} for the image dataset {name!r}.")
    _check_name(name)
    if name == "digits":
        if n_bits is not None:
            raise ValueError("digits: n_bits does not apply (the digits have 17 levels, 0..16).")
        return digits.INFO
    return tfds_datasets.info(name, _check_bits(n_bits))


def load(
    name: str = "digits",
    split: str = "train",
    batch_size: int = 128,
    *,
    shuffle: bool | None = None,
    n_bits: int | None = None,
    flip: bool = False,
    data_dir: str | None = None,
    download: bool = True,
    repeat: bool = False,
    drop_remainder: bool = False,
    seed: int | None = 0,
    **audio_options,
) -> tf.data.Dataset:
    """A `tf.data.Dataset` of uint8 image batches `[B, H, W, C]` with values in `[0, num_bins)`.

    Args:
      name: "digits" (embedded, offline) or a TFDS dataset: mnist, fashion_mnist,
        cifar10, svhn_cropped, celeb_a (centre crop, 64x64), downsampled_imagenet_32,
        downsampled_imagenet_64. `info(name)` gives event shape and `num_bins`.
        Speech ("speech", "ljspeech", a folder of .wav files) yields dicts of audio and mels:
        see `tfp_flows.data.audio_datasets.load` for `audio_options` (segment_length, mel_config, ...).
      split: "train", "validation" or "test".
      shuffle: shuffle examples (default: for the train split only).
      n_bits: reduce 8-bit TFDS images to `n_bits` bits as openai/glow does
        (`x // 2**(8 - n_bits)`; `num_bins = 2**n_bits`).
      flip: random horizontal flips (data augmentation).
      data_dir: where TFDS data lives (pre-downloaded with `tfds build`).
      download: let TFDS download missing data; either way missing data that cannot
        be had raises `DatasetUnavailableError` saying how to prepare it.
    """
    if audio_datasets.is_audio_source(name):
        if n_bits is not None or flip:
            raise ValueError(f"load: n_bits and flip apply to images, not to the audio dataset {name!r}.")
        return audio_datasets.load(
            name, split, batch_size, shuffle=shuffle, data_dir=data_dir, download=download, repeat=repeat,
            drop_remainder=drop_remainder, seed=seed, **audio_options,
        )
    if audio_options:
        raise TypeError(f"load: unexpected arguments {sorted(audio_options)} for the image dataset {name!r}.")
    _check_name(name)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"load: expected batch_size >= 1, got {batch_size!r}.")
    shuffle = split == "train" if shuffle is None else shuffle
    if name == "digits":
        if n_bits is not None:
            raise ValueError("load: n_bits does not apply to digits (17 levels, 0..16).")
        ds = tf.data.Dataset.from_tensor_slices(digits.load_split(split))
        buffer = digits.SPLIT_SIZES[split]
    else:
        bits = _check_bits(n_bits)
        ds = tfds_datasets.load_split(name, split, data_dir, download, shuffle_files=shuffle)
        if bits < 8:
            ds = ds.map(lambda x: x // (2 ** (8 - bits)), num_parallel_calls=tf.data.AUTOTUNE)
        buffer = 10_000
    if flip:
        ds = ds.map(lambda x: tf.image.random_flip_left_right(x, seed=seed), num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def _check_name(name):
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}.")


def _check_bits(n_bits):
    if n_bits is None:
        return 8
    if not isinstance(n_bits, (int, np.integer)) or not 1 <= n_bits <= 8:
        raise ValueError(f"expected n_bits in 1..8, got {n_bits!r}.")
    return int(n_bits)
