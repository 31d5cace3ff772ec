"""tensorflow-datasets image datasets, as discrete uint8 images for flows.

Seven datasets have fixed event shapes and splits (`SOURCES`); any other TFDS name with
an image feature works too (`generic_source`): its first `Image` feature (preferring one
named `image`), its own validation/test splits when it has them, else held-out slices of
`train`, and `image_size` (centre crop + resize) for images of varying size. A `label`
class feature gives `(image, label)` pairs with `with_labels` (its names: `class_names`).

Offline, a download fails after one attempt (TFDS would otherwise retry each file ten
times with back-off for minutes), and what the attempt left in the data directory is
removed before `DatasetUnavailableError` explains how to prepare the data.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil

import tensorflow as tf

from tfp_flows import _messages
from tfp_flows.data.info import DatasetInfo


@dataclasses.dataclass(frozen=True)
class TFDSSource:
    tfds_name: str
    event_shape: tuple[int, int, int]
    splits: dict | None  # our split name -> TFDS split expression (None: from the prepared data)
    center_crop: int | None = None  # crop a centred square of this size before resizing
    image_key: str = "image"
    square_crop: bool = False  # crop the largest centred square (generic sources with image_size)
    class_names: tuple[str, ...] = ()  # names of the `label` feature's classes; () without one
    label_key: str = "label"


_HELD_OUT = {"train": "train[:95%]", "validation": "train[95%:]", "test": "test"}
# The `label` names of the TFDS datasets (their ClassLabel features), known here without loading TFDS.
_DIGIT_NAMES = tuple(str(d) for d in range(10))
_FASHION_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
_CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SOURCES = {
    "mnist": TFDSSource("mnist", (28, 28, 1), _HELD_OUT, class_names=_DIGIT_NAMES),
    "fashion_mnist": TFDSSource("fashion_mnist", (28, 28, 1), _HELD_OUT, class_names=_FASHION_NAMES),
    "cifar10": TFDSSource("cifar10", (32, 32, 3), _HELD_OUT, class_names=_CIFAR10_NAMES),
    "svhn_cropped": TFDSSource("svhn_cropped", (32, 32, 3), _HELD_OUT, class_names=_DIGIT_NAMES),
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
    """The TFDS data is not on disk and could not be downloaded.

    Raised by `data.load` and `data.info`, with the dataset, the data directory and the
    `tfds build NAME --data_dir DIR` command that prepares it in the message.

    >>> from tfp_flows.data import DatasetUnavailableError
    >>> issubclass(DatasetUnavailableError, RuntimeError)
    True
    """


def generic_source(name: str, data_dir: str | None = None, image_size: int | None = None) -> TFDSSource | None:
    """A source for any registered TFDS dataset with an image feature; None if TFDS has no such dataset."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        return None
    except Exception as error:  # e.g. a dataset whose code needs an optional package
        raise ValueError(f"TFDS dataset {name!r} cannot be used: {type(error).__name__}: {_messages.reason(error)}") from None
    features = builder.info.features
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)] if hasattr(features, "items") else []
    if not images:
        raise ValueError(f"TFDS dataset {name!r} has no image feature (features: {sorted(features.keys()) if hasattr(features, 'keys') else features}).")
    key = "image" if "image" in images else images[0]
    height, width, channels = features[key].shape
    if image_size is not None:
        height = width = int(image_size)
    elif height is None or width is None:
        raise ValueError(f"TFDS dataset {name!r} has images of varying size; pass image_size (tfp-flows: --image-size N).")
    label = features["label"] if "label" in features.keys() else None
    class_names = tuple(label.names) if isinstance(label, tfds.features.ClassLabel) and label.num_classes else ()
    return TFDSSource(name, (height, width, channels or 3), None, image_key=key, square_crop=image_size is not None,
                      class_names=class_names)


def info(name: str, n_bits: int = 8, source: TFDSSource | None = None) -> DatasetInfo:
    source = source or SOURCES[name]
    splits = tuple(source.splits) if source.splits else ("train", "validation", "test")
    return DatasetInfo(name=name, event_shape=source.event_shape, num_bins=2**n_bits, splits=splits, class_names=source.class_names)


def _split_expressions(available) -> dict:
    """Our splits from the TFDS splits a dataset has: its own, else held-out slices of train."""
    available = set(available)
    if not available:  # split metadata unknown (e.g. under tfds.testing.mock_data): the common train/test case
        return _HELD_OUT
    if "train" not in available:
        raise ValueError(f"has no 'train' split (splits: {sorted(available)}).")
    if {"validation", "test"} <= available:
        return {"train": "train", "validation": "validation", "test": "test"}
    if "test" in available:
        return _HELD_OUT
    if "validation" in available:
        return {"train": "train[:95%]", "validation": "train[95%:]", "test": "validation"}
    return {"train": "train[:90%]", "validation": "train[90%:95%]", "test": "train[95%:]"}


def load_split(name: str, split: str, data_dir: str | None, download: bool, shuffle_files: bool,
               source: TFDSSource | None = None, with_labels: bool = False) -> tf.data.Dataset:
    """Unbatched uint8 images `[H, W, C]` of one split, resized/cropped to the event shape (with int32 labels: pairs)."""
    import tensorflow_datasets as tfds

    source = source or SOURCES[name]
    if with_labels and not source.class_names:
        raise ValueError(f"with_labels=True, but the TFDS dataset {name!r} has no 'label' class feature to condition on.")
    if source.splits is not None and split not in source.splits:
        raise ValueError(f"{name}: unknown split {split!r}; expected one of {tuple(source.splits)}.")
    if split not in ("train", "validation", "test"):
        raise ValueError(f"{name}: unknown split {split!r}; expected one of ('train', 'validation', 'test').")
    builder = tfds.builder(source.tfds_name, data_dir=data_dir)
    try:
        if download:
            with _one_attempt(), _cleanup_on_failure(builder, source.tfds_name):
                builder.download_and_prepare()
        elif not builder.is_prepared():
            raise FileNotFoundError("not prepared and download=False")
        expressions = source.splits or _split_expressions(builder.info.splits.keys())
        ds = builder.as_dataset(split=expressions[split], shuffle_files=shuffle_files)
    except Exception as error:  # a network stack trace helps no one: say what to do
        where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
        raise DatasetUnavailableError(
            f"dataset {name!r} (TFDS {source.tfds_name!r}) is not prepared in {where} and could not be downloaded "
            f"({type(error).__name__}: {_messages.reason(error)}). Prepare it on a "
            f"machine with internet access with `tfds build {source.tfds_name} --data_dir DIR` and pass data_dir=DIR "
            "(tfp-flows: --data-dir DIR)."
        ) from None
    if with_labels:
        return ds.map(lambda example: (_to_event(example[source.image_key], source), tf.cast(example[source.label_key], tf.int32)),
                      num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(lambda example: _to_event(example[source.image_key], source), num_parallel_calls=tf.data.AUTOTUNE)


@contextlib.contextmanager
def _one_attempt():
    """TFDS retries every URL ten times with exponential back-off (minutes when offline): try once."""
    try:
        from tensorflow_datasets.core.download import downloader
    except ImportError:  # a TFDS layout we do not know: keep its default
        yield
        return
    saved = getattr(downloader, "MAX_RETRIES", None)
    downloader.MAX_RETRIES = 0
    try:
        yield
    finally:
        if saved is not None:
            downloader.MAX_RETRIES = saved


@contextlib.contextmanager
def _cleanup_on_failure(builder, tfds_name: str):
    """Removes the directories and partial downloads a failed `download_and_prepare` created."""
    root = os.path.expanduser(str(builder.data_dir_root))
    downloads = os.path.join(root, "downloads")
    candidates = [root, os.path.join(root, tfds_name.split("/")[0]), str(builder.data_dir), downloads,
                  os.path.join(downloads, "extracted"), os.path.join(downloads, tfds_name.split("/")[0])]
    own_downloads = candidates[-1]  # partial files of this dataset land here
    existed = {path for path in candidates if os.path.exists(path)}
    listing = set(os.listdir(own_downloads)) if os.path.isdir(own_downloads) else set()
    try:
        yield
    except BaseException:
        for path in sorted(candidates, key=len, reverse=True):
            if path not in existed:
                shutil.rmtree(path, ignore_errors=True)
            elif path == own_downloads and os.path.isdir(path):
                for entry in set(os.listdir(path)) - listing:  # partial files of this attempt
                    target = os.path.join(path, entry)
                    shutil.rmtree(target, ignore_errors=True) if os.path.isdir(target) else os.remove(target)
        raise


def _to_event(image, source: TFDSSource):
    image = tf.cast(image, tf.uint8)
    height, width, channels = source.event_shape
    if source.center_crop is not None:
        image = tf.image.resize_with_crop_or_pad(image, source.center_crop, source.center_crop)
    elif source.square_crop:
        shape = tf.shape(image)
        side = tf.minimum(shape[0], shape[1])
        image = tf.image.crop_to_bounding_box(image, (shape[0] - side) // 2, (shape[1] - side) // 2, side, side)
    if source.square_crop or tuple(image.shape[:2]) != (height, width):
        resized = tf.image.resize(tf.cast(image, tf.float32), (height, width), method="area", antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
    image = tf.ensure_shape(image, (height, width, channels))
    return image
