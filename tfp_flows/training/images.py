"""Sample grids as PNG files, written with TensorFlow alone; for class-conditional models one row per class."""
from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf


def to_uint8(y: np.ndarray, num_bins: int | None) -> np.ndarray:
    """Continuous samples `y` in [0, 1) to displayable uint8 pixels (discretised to `num_bins` levels).

    Args:
      y: samples of any shape; values outside [0, 1) are clipped, NaN is 0.
      num_bins: the model's levels, or None for continuous data (then min-max scaled to 0..255).

    Raises nothing: any numeric array is mapped.

    >>> import numpy as np
    >>> from tfp_flows.training import to_uint8
    >>> to_uint8(np.array([0.0, 0.5, 0.99, 1.5]), num_bins=17).tolist()
    [0, 128, 255, 255]
    """
    y = np.asarray(y, np.float64)
    if num_bins is None:
        low, high = np.nanmin(y), np.nanmax(y)
        return np.uint8(np.clip((y - low) / max(high - low, 1e-12), 0, 1) * 255)
    levels = np.clip(np.floor(np.nan_to_num(y, nan=0.0) * num_bins), 0, num_bins - 1)
    return np.uint8(np.round(levels * 255.0 / (num_bins - 1)))


def grid(images: np.ndarray, columns: int | None = None, min_size: int = 32, pad: int = 1) -> np.ndarray:
    """Tiles uint8 images `[N, H, W, C]` into one `[rows*H', cols*W', C]` image, upscaling small ones.

    Args:
      images: uint8 `[N, H, W, C]`.
      columns: images per row (default: about the square root of N).
      min_size: images smaller than this are upscaled by repetition to at least this size.
      pad: white pixels between images.

    Raises:
      ValueError: images that are not `[N, H, W, C]` with `N >= 1`.

    >>> import numpy as np
    >>> from tfp_flows.training import grid
    >>> grid(np.zeros((4, 8, 8, 1), np.uint8), min_size=8).shape  # 2 x 2 images, 1-pixel padding
    (19, 19, 1)
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"grid: expected images [N, H, W, C] with N >= 1, got shape {images.shape}.")
    count, height, width, channels = images.shape
    factor = max(1, math.ceil(min_size / max(height, width)))
    images = images.repeat(factor, axis=1).repeat(factor, axis=2)
    height, width = height * factor, width * factor
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (height + pad) + pad, columns * (width + pad) + pad, channels), 255, np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (height + pad), pad + c * (width + pad)
        canvas[top : top + height, left : left + width] = image
    return canvas


def write_png(path: str, image: np.ndarray) -> None:
    """Writes a uint8 `[H, W, C]` image atomically (temporary file, then rename).

    Args:
      path: the PNG file (its folder is created).
      image: uint8 `[H, W, C]`, C in 1, 3, 4.

    Raises:
      ValueError: from `tf.io.encode_png`, for an image that is not `[H, W, C]`.

    >>> import numpy as np, os, tempfile
    >>> from tfp_flows.training import write_png
    >>> path = os.path.join(tempfile.mkdtemp(), "black.png")
    >>> write_png(path, np.zeros((4, 4, 1), np.uint8))
    >>> os.path.getsize(path) > 0
    True
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as handle:
        handle.write(tf.io.encode_png(np.asarray(image, np.uint8)).numpy())
    os.replace(tmp, path)


def save_sample_grid(model, path: str, num: int = 64, temperature: float = 0.7, seed: int = 0) -> np.ndarray:
    """Samples `num` images from `model` and writes them as one PNG grid; returns the grid.

    Args:
      model: a `FlowModel` over images.
      path: the PNG file.
      temperature: scales the base standard deviation.
      seed: the sampling seed.

    Raises:
      ValueError: `num <= 0` or `temperature < 0` (from `model.sample`).

    >>> import os, tempfile
    >>> from tfp_flows import models
    >>> from tfp_flows.training import save_sample_grid
    >>> save_sample_grid(models.Glow.from_preset("tiny"), os.path.join(tempfile.mkdtemp(), "s.png"), num=4).shape
    (67, 67, 1)
    """
    samples = model.sample(num, temperature=temperature, seed=seed).numpy()
    image = grid(to_uint8(samples, model.num_bins))
    write_png(path, image)
    return image


def class_grid_samples(model, per_class: int, temperature: float = 0.7, seed: int = 0, classes=None) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` samples of each class (all `model.num_classes`, or `classes`), class by class: (samples, labels).

    Args:
      temperature: scales the base standard deviation.
      seed: the sampling seed.

    Raises:
      ValueError: a model that is not class-conditional, `per_class < 1`, or classes out of range.

    >>> from tfp_flows import models
    >>> from tfp_flows.training import class_grid_samples
    >>> samples, labels = class_grid_samples(models.Glow.from_preset("tiny", num_classes=3), per_class=2)
    >>> samples.shape, labels.tolist()
    ((6, 8, 8, 1), [0, 0, 1, 1, 2, 2])
    """
    num_classes = int(getattr(model, "num_classes", None) or 0)
    if not num_classes:
        raise ValueError(f"class_grid_samples: {type(model).__name__} is not class-conditional (no num_classes).")
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"class_grid_samples: expected per_class >= 1, got {per_class!r}.")
    classes = np.arange(num_classes) if classes is None else np.asarray(classes, np.int64).reshape(-1)
    if classes.size == 0 or classes.min() < 0 or classes.max() >= num_classes:
        raise ValueError(f"class_grid_samples: expected classes in [0, {num_classes}), got {classes.tolist()}.")
    labels = np.repeat(classes, per_class).astype(np.int32)
    samples = model.sample(len(labels), labels=tf.constant(labels), temperature=temperature, seed=seed).numpy()
    return samples, labels


def save_class_grid(model, path: str, per_class: int = 10, temperature: float = 0.7, seed: int = 0, classes=None) -> np.ndarray:
    """Samples of a class-conditional model as one PNG grid, a row per class (`per_class` columns); returns the grid.

    Args:
      model: a class-conditional `FlowModel` over images.
      path: the PNG file.
      temperature: scales the base standard deviation.
      seed: the sampling seed.
      classes: the classes to draw (default: all, in order).

    Raises:
      ValueError: as `class_grid_samples`.

    >>> import os, tempfile
    >>> from tfp_flows import models
    >>> from tfp_flows.training import save_class_grid
    >>> try:  # with a class-conditional model: one row of `per_class` samples per class
    ...     save_class_grid(models.Glow.from_preset("tiny"), os.path.join(tempfile.mkdtemp(), "c.png"))
    ... except ValueError as error:
    ...     print(error)
    class_grid_samples: Glow is not class-conditional (no num_classes).
    """
    samples, _ = class_grid_samples(model, per_class, temperature, seed, classes)
    image = grid(to_uint8(samples, model.num_bins), columns=per_class)
    write_png(path, image)
    return image
