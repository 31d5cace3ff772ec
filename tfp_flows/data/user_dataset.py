"""A `tf.data.Dataset` passed in by the user: unbatched images or vectors, split by a seeded hash of the position.

Elements are images `[H, W, C]` (integers; `num_bins = 256`, `2**n_bits` or the `num_bins` given), vectors
`[D]` (floats; continuous), dicts with an `image` entry (and optional `label`), or
`(example, label)` pairs. A dataset has no splits of its own here: element `i` goes to
validation, test or train by a stateless uniform draw seeded with `(seed, i)`, so the
same dataset (in the same order) and seed give the same splits every time.
"""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.data import splits as splits_lib
from tfp_flows.data.info import DatasetInfo


def _parts(spec):
    """(example spec, label spec or None) of an element spec."""
    if isinstance(spec, dict):
        if "image" not in spec:
            raise ValueError(f"a dataset of dicts needs an 'image' entry, got keys {sorted(spec)}.")
        return spec["image"], spec.get("label")
    if isinstance(spec, tuple):
        if len(spec) != 2:
            raise ValueError(f"a dataset of tuples must yield (example, label) pairs, got {len(spec)} parts.")
        return spec
    return spec, None


def info(ds: tf.data.Dataset, n_bits: int = 8, num_bins: int | None = None) -> DatasetInfo:
    example, _ = _parts(ds.element_spec)
    if not isinstance(example, tf.TensorSpec) or not example.shape.is_fully_defined():
        raise ValueError(
            f"expected an unbatched dataset of images [H, W, C] or vectors [D] with a known shape, got element spec {example}; "
            "for a batched dataset pass ds.unbatch()."
        )
    shape = tuple(int(d) for d in example.shape)
    if len(shape) == 3 and (example.dtype.is_integer or example.dtype == tf.uint8):
        return DatasetInfo(name="dataset", event_shape=shape, num_bins=num_bins or 2**n_bits)
    if len(shape) == 1 and example.dtype.is_floating:
        if num_bins is not None:
            raise ValueError(f"num_bins applies to integer images; this dataset yields float vectors of shape {shape}.")
        return DatasetInfo(name="dataset", event_shape=shape, num_bins=None, kind="vectors")
    raise ValueError(
        f"expected elements that are integer images [H, W, C] or float vectors [D], got {example.dtype.name} of shape {shape}."
    )


def split(ds: tf.data.Dataset, split_name: str, n_bits: int, with_labels: bool,
          validation_fraction: float, test_fraction: float, seed: int, num_bins: int | None = None) -> tf.data.Dataset:
    """The unbatched examples of `split_name` ("all" for every one), converted to uint8 images or float32 vectors."""
    meta = info(ds, n_bits, num_bins)
    if split_name not in splits_lib.SPLITS + ("all",):
        raise ValueError(f"dataset: unknown split {split_name!r}; expected one of {splits_lib.SPLITS + ('all',)}.")
    splits_lib.check_fractions(validation_fraction, test_fraction)
    _, label_spec = _parts(ds.element_spec)
    if with_labels and label_spec is None:
        raise ValueError("with_labels=True, but the dataset's elements carry no label.")

    def convert(*element):
        example, label = _parts(element if len(element) > 1 else element[0])
        if meta.kind == "images":
            example = tf.cast(example, tf.uint8)
            if n_bits < 8 and num_bins is None:
                example = example // (2 ** (8 - n_bits))
        else:
            example = tf.cast(example, tf.float32)
        return (example, tf.cast(label, tf.int32)) if with_labels else example

    if split_name != "all":
        low, high = {"validation": (0.0, validation_fraction),
                     "test": (validation_fraction, validation_fraction + test_fraction),
                     "train": (validation_fraction + test_fraction, 1.0)}[split_name]

        def keep(index, _):
            u = tf.random.stateless_uniform([], seed=tf.stack([tf.cast(seed, tf.int64), index]))
            return tf.logical_and(u >= low, u < high)

        ds = ds.enumerate().filter(keep).map(lambda _, element: element)
    return ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE)
