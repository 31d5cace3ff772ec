"""NumPy files (`.npy`, `.npz`) of images `[N, H, W, C]` / `[N, H, W]` (integers) or vectors `[N, D]`.

Images hold integer levels in `[0, 256)` (any integer dtype, or integer-valued floats)
and are stored as uint8 with `num_bins = 2**n_bits` (256 by default), or the `num_bins`
given (the levels the integers hold: 17 for the digits' 0..16; all values below it). Vectors are
continuous (`num_bins=None`), float32, and must be finite.

An `.npz` holds either one array (named `x`, `images` or `data`, or its only array)
with optional `labels` (or `y`), or the splits themselves: `train` (required),
`validation` and `test` (optional; missing ones are held out of `train`), with optional
`train_labels`, ... . Its arrays are read without pickle.
"""
from __future__ import annotations

import os

import numpy as np

from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo

_SINGLE_KEYS = ("x", "images", "data")
_LABEL_KEYS = ("labels", "y")


def _load(path: str):
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"cannot read {path} as a NumPy {os.path.splitext(path)[1]} file ({detail}).") from None


def read(path: str, n_bits: int = 8, num_bins: int | None = None) -> InMemoryData:
    loaded = _load(path)
    if isinstance(loaded, np.ndarray):
        return _build(path, {"": (loaded, None)}, n_bits, num_bins)
    with loaded as archive:
        names = list(archive.files)
        if "train" in names:
            parts = {}
            for split in ("train", "validation", "test"):
                if split in names:
                    labels = archive[f"{split}_labels"] if f"{split}_labels" in names else None
                    parts[split] = (archive[split], labels)
            return _build(path, parts, n_bits, num_bins)
        candidates = [k for k in _SINGLE_KEYS if k in names] or [k for k in names if k not in _LABEL_KEYS]
        if len(candidates) != 1:
            raise ValueError(
                f"{path}: expected one array (named {' or '.join(_SINGLE_KEYS)}) or 'train'/'validation'/'test' arrays, "
                f"got arrays {names}."
            )
        label_key = next((k for k in _LABEL_KEYS if k in names), None)
        return _build(path, {"": (archive[candidates[0]], archive[label_key] if label_key else None)}, n_bits, num_bins)


def _build(path: str, parts: dict, n_bits: int = 8, num_bins: int | None = None) -> InMemoryData:
    """Checks and joins the arrays of `parts` (split name -> (array, labels)); "" means one unsplit array."""
    converted, kinds = {}, set()
    for split, (array, labels) in parts.items():
        what = f"{path}" + (f" ['{split}']" if split else "")
        examples, kind = _convert(array, what, n_bits, num_bins)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(examples),) or not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(f"{what}: expected integer labels of shape ({len(examples)},), got {labels.dtype} {labels.shape}.")
        converted[split] = (examples, labels)
        kinds.add((kind, examples.shape[1:]))
    if len(kinds) > 1:
        raise ValueError(f"{path}: the split arrays differ in kind or shape: {sorted(str(k) for k in kinds)}.")
    kind, event_shape = kinds.pop()
    if kind == "vectors" and num_bins is not None:
        raise ValueError(f"{path}: num_bins applies to images [N, H, W(, C)]; vectors [N, D] are continuous.")
    examples = np.concatenate([e for e, _ in converted.values()])
    with_labels = [l is not None for _, l in converted.values()]
    labels = np.concatenate([l for _, l in converted.values()]).astype(np.int32) if all(with_labels) else None
    keys, given = [], None
    if "" not in converted:
        given = {}
        for split, (e, _) in converted.items():
            given[split] = [f"{split}/{i}" for i in range(len(e))]
            keys += given[split]
    else:
        keys = [str(i) for i in range(len(examples))]
    class_names = tuple(str(i) for i in range(int(labels.max()) + 1)) if labels is not None and len(labels) else ()
    info = DatasetInfo(
        name=path, event_shape=tuple(int(d) for d in event_shape), num_bins=(num_bins or 2**n_bits) if kind == "images" else None,
        kind=kind, class_names=class_names, num_examples=len(examples),
        columns=tuple(str(i) for i in range(event_shape[0])) if kind == "vectors" else (),
    )
    return InMemoryData(info=info, examples=examples, keys=tuple(keys), labels=labels, given_splits=given)


def _convert(array: np.ndarray, what: str, n_bits: int, num_bins: int | None = None) -> tuple[np.ndarray, str]:
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{what}: expected numbers, got an array of dtype {array.dtype}.")
    if array.ndim not in (2, 3, 4) or array.shape[0] == 0:
        raise ValueError(
            f"{what}: expected images [N, H, W, C] or [N, H, W] (integers 0..255), or vectors [N, D], with N >= 1; "
            f"got shape {array.shape}."
        )
    if array.ndim == 2:
        values = array.astype(np.float32)
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            row, column = bad[0]
            raise ValueError(f"{what}: row {row}, column {column} is {array[row, column]}; expected finite numbers.")
        return values, "vectors"
    if array.ndim == 3:
        array = array[..., None]
    if array.dtype.kind == "f" and not (np.all(np.isfinite(array)) and np.all(array == np.round(array))):
        raise ValueError(
            f"{what}: an image array [N, H, W, C] must hold integer levels 0..255, got non-integer {array.dtype} values; "
            "for continuous data pass vectors [N, D]."
        )
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise ValueError(f"{what}: image values must lie in 0..255 (8-bit), got min {low}, max {high}.")
    images = array.astype(np.uint8)
    check_levels(images, num_bins, what)
    if n_bits < 8:
        images = images // np.uint8(2 ** (8 - n_bits))
    return images, "images"


def check_levels(images: np.ndarray, num_bins: int | None, what: str) -> None:
    """Integer images declared to hold `num_bins` levels must lie in `[0, num_bins)`."""
    if num_bins is not None and images.size and int(images.max()) >= num_bins:
        high = int(images.max())
        raise ValueError(f"{what}: image values reach {high}, but num_bins={num_bins} means levels 0..{num_bins - 1}; "
                         f"pass num_bins of at least {high + 1} (256 for 8-bit images).")
