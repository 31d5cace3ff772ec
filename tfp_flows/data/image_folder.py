"""A folder of images (PNG, JPEG, BMP, GIF) as discrete uint8 images; subfolders are class labels.

Layout: either images directly in the folder (no labels), or one subfolder per class
(`photos/cats/*.jpg`, `photos/dogs/*.png`; class ids follow the sorted subfolder names).
Hidden files and files with other suffixes are ignored. Images are decoded by
TensorFlow (`tf.io.decode_image`; a GIF gives its first frame), an alpha channel is
dropped, and the dataset is grey (`C = 1`) when every image is grey (one channel, or
R = G = B), else RGB with grey images repeated over three channels. With `image_size`
each image is centre-cropped to a square and resized (area averaging) to
`image_size x image_size`; without it all images must have the same size. `n_bits`
reduces the 8-bit values to `2**n_bits` levels as openai/glow does; `num_bins` says
how many levels the images hold instead (every value must lie below it).
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tfp_flows import _messages

from tfp_flows.data.arrays import check_levels
from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def find_images(root: str) -> tuple[list[str], list[str]]:
    """Sorted relative paths of the images under `root`, and the class names (top-level subfolders)."""
    paths = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and name.lower().endswith(EXTENSIONS):
                paths.append(os.path.relpath(os.path.join(directory, name), root))
    if not paths:
        raise ValueError(f"folder {root} holds no images ({', '.join(e[1:].upper() for e in EXTENSIONS)}); is it the right folder?")
    top_level = [p for p in paths if os.sep not in p]
    if len(top_level) == len(paths):
        return paths, []
    if top_level:
        raise ValueError(
            f"folder {root} mixes images at its top level ({top_level[0]!r}) with class subfolders; "
            "put every image in a class subfolder, or none."
        )
    return paths, sorted({p.split(os.sep, 1)[0] for p in paths})


def decode(path: str) -> np.ndarray:
    """One image file as uint8 `[H, W, C]` with C in {1, 3} (alpha dropped); a clear error if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        image = tf.io.decode_image(raw, expand_animations=False).numpy()
    except OSError as error:
        raise ValueError(f"cannot read image {path}: {error.strerror or error}.") from None
    except tf.errors.OpError as error:
        raise ValueError(f"cannot decode image {path}: {_why_undecodable(raw, error)}; replace it with a readable "
                         "image or move it out of the folder.") from None
    if image.dtype != np.uint8:  # 16-bit PNGs
        image = (image.astype(np.float64) / np.iinfo(image.dtype).max * 255).round().astype(np.uint8)
    if image.shape[-1] in (2, 4):  # grey+alpha, RGBA
        image = image[..., :-1]
    if image.size == 0:
        raise ValueError(f"image {path} is empty ({image.shape[1]}x{image.shape[0]} pixels).")
    return image


_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP"}


def _why_undecodable(raw: bytes, error) -> str:
    """Why TensorFlow could not decode the bytes of an image file, in words (the file's start tells its format)."""
    if not raw:
        return "the file is empty (0 bytes)"
    kind = next((name for signature, name in _SIGNATURES.items() if raw.startswith(signature)), None)
    if kind is None:
        return f"it is not a PNG, JPEG, BMP or GIF image (its first bytes are {raw[:8]!r})"
    return f"its {kind} data is truncated or corrupt ({_messages.reason(error)})"


def _crop_and_resize(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    if side == size:
        return square
    resized = tf.image.resize(tf.cast(square, tf.float32), (size, size), method="area", antialias=True)
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def _is_grey(image: np.ndarray) -> bool:
    return image.shape[-1] == 1 or bool(np.all(image[..., 0] == image[..., 1]) and np.all(image[..., 1] == image[..., 2]))


def read(root: str, image_size: int | None = None, n_bits: int = 8, num_bins: int | None = None) -> InMemoryData:
    """Decodes every image under `root` (checked, cropped/resized) into one uint8 array."""
    if image_size is not None and (not isinstance(image_size, (int, np.integer)) or image_size < 1):
        raise ValueError(f"expected image_size as an integer >= 1, got {image_size!r}.")
    paths, class_names = find_images(root)
    images = []
    first_size = None
    for relative in paths:
        path = os.path.join(root, relative)
        image = decode(path)
        if image_size is not None:
            image = _crop_and_resize(image, int(image_size))
        elif first_size is None:
            first_size = (image.shape[:2], relative)
        elif image.shape[:2] != first_size[0]:
            (h0, w0), other = first_size
            raise ValueError(
                f"images in {root} have different sizes ({other}: {w0}x{h0}, {relative}: {image.shape[1]}x{image.shape[0]} "
                "pixels); pass image_size (tfp-flows: --image-size N) to centre-crop and resize them all to N x N."
            )
        images.append(image)
    grey = all(_is_grey(image) for image in images)
    channels = 1 if grey else 3
    stacked = np.stack([image[..., :1] if grey else (np.repeat(image, 3, -1) if image.shape[-1] == 1 else image) for image in images])
    check_levels(stacked, num_bins, root)
    if n_bits < 8:
        stacked = stacked // np.uint8(2 ** (8 - n_bits))
    labels = None
    if class_names:
        ids = {name: i for i, name in enumerate(class_names)}
        labels = np.array([ids[p.split(os.sep, 1)[0]] for p in paths], np.int32)
    info = DatasetInfo(
        name=root, event_shape=tuple(int(d) for d in stacked.shape[1:3]) + (channels,), num_bins=num_bins or 2**n_bits,
        class_names=tuple(class_names), num_examples=len(paths),
    )
    return InMemoryData(info=info, examples=stacked, keys=tuple(p.replace(os.sep, "/") for p in paths), labels=labels)
