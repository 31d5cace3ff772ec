"""tensorflow-datasets image datasets, as discrete uint8 images for flows."""
from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from tfp_flows.data.info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class TFDSSource:
    tfds_name: str
    event_shape: tuple[int, int, int]
    splits: dict  # our split name -> TFDS split expression
    center_crop: int | None = None  # crop a centred square of this size before resizing


_HELD_OUT = {"train": "train[:95%]", "validation": "train[95%:]", "test": "test"}
SOURCES = {
    "mnist": TFDSSource("mnist", (28, 28, 1), _HELD_OUT),
    "fashion_mnist": TFDSSource("fashion_mnist", (28, 28, 1), _HELD_OUT),
    "cifar10": TFDSSource("cifar10", (32, 32, 3), _HELD_OUT),
    "svhn_cropped": TFDSSource("svhn_cropped", (32, 32, 3), _HELD_OUT),
    # CelebA: 178x218 images, centre 148x148 crop resized to 64x64 (as RealNVP and Glow).
    "celeb_a": TFDSSource("celeb_a", (64, 64, 3), {"train": "train", "validation": "validation", "test": "test"}, center_crop=148),
    "downsampled_imagenet_32": TFDSSource(
        "downsampled_imagenet/32x32", (32, 32, 3), {"train": "train[:98%]", "validation": "train[98%:]", "test": "validation"}
    ),
    "downsampled_imagenet_64": TFDSSource(
        "downsampled_imagenet/64x64", (64, 64, 3), {"train": "train[:98%]", "validation": "train[98%:]", "test": "validation"}
    ),
}


class DatasetUnavailableError(RuntimeError):
    """The TFDS data is not on disk and could not be downloaded."""


def info(name: str, n_bits: int = 8) -> DatasetInfo:
    source = SOURCES[name]
    return DatasetInfo(name=name, event_shape=source.event_shape, num_bins=2**n_bits, splits=tuple(source.splits))


def load_split(name: str, split: str, data_dir: str | None, download: bool, shuffle_files: bool) -> tf.data.Dataset:
    """Unbatched uint8 images `[H, W, C]` of one split, resized/cropped to the event shape."""
    import tensorflow_datasets as tfds

    source = SOURCES[name]
    if split not in source.splits:
        raise ValueError(f"{name}: unknown split {split!r}; expected one of {tuple(source.splits)}.")
    builder = tfds.builder(source.tfds_name, data_dir=data_dir)
    try:
        if download:
            builder.download_and_prepare()
        elif not builder.is_prepared():
            raise FileNotFoundError("not prepared and download=False")
        ds = builder.as_dataset(split=source.splits[split], shuffle_files=shuffle_files)
    except Exception as error:  # a network stack trace helps no one: say what to do
        where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
        raise DatasetUnavailableError(
            f"dataset {name!r} (TFDS {source.tfds_name!r}) is not prepared in {where} and could not be downloaded "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no detail'}). Prepare it on a "
            f"machine with internet access with `tfds build {source.tfds_name} --data_dir DIR` and pass data_dir=DIR "
            "(tfp-flows: --data-dir DIR)."
        ) from None
    return ds.map(lambda example: _to_event(example["image"], source), num_parallel_calls=tf.data.AUTOTUNE)


def _to_event(image, source: TFDSSource):
    image = tf.cast(image, tf.uint8)
    height, width, channels = source.event_shape
    if source.center_crop is not None:
        image = tf.image.resize_with_crop_or_pad(image, source.center_crop, source.center_crop)
    if tuple(image.shape[:2]) != (height, width):
        resized = tf.image.resize(tf.cast(image, tf.float32), (height, width), method="area", antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    image = tf.ensure_shape(image, (height, width, channels))
    return image
