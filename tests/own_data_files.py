"""Real files for the own-data tests, written from scikit-learn's bundled photos, digits and wine table."""
from __future__ import annotations

import csv
import os
import struct

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits, load_sample_images, load_wine


def write_bmp(path: str, image: np.ndarray) -> None:
    """A 24-bit uncompressed BMP (TensorFlow decodes BMP but has no encoder)."""
    height, width, _ = image.shape
    row = width * 3
    padded = (row + 3) // 4 * 4
    pixels = b"".join(image[y, :, ::-1].tobytes() + b"\0" * (padded - row) for y in range(height - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    with open(path, "wb") as handle:
        handle.write(header + info + pixels)


def write_photos(root: str, per_class: int = 12, size: int = 24, formats=("png", "jpg", "bmp"), seed: int = 0) -> str:
    """A folder with one subfolder per photo ('china', 'flower'), `per_class` random crops each."""
    rng = np.random.default_rng(seed)
    for name, photo in zip(("china", "flower"), load_sample_images().images):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            top, left = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
            crop = np.ascontiguousarray(photo[top : top + size, left : left + size])
            fmt = formats[i % len(formats)]
            path = os.path.join(root, name, f"{i:02d}.{fmt}")
            if fmt == "png":
                tf.io.write_file(path, tf.io.encode_png(crop))
            elif fmt == "jpg":
                tf.io.write_file(path, tf.io.encode_jpeg(crop, quality=95))
            elif fmt == "bmp":
                write_bmp(path, crop)
            elif fmt == "gif":
                from PIL import Image

                Image.fromarray(crop).save(path)
    return root


def write_wine_csv(path: str) -> str:
    """scikit-learn's wine table (178 rows, 13 numeric columns) plus a text column 'cultivar'."""
    wine = load_wine()
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(wine.feature_names) + ["cultivar"])
        for row, target in zip(wine.data, wine.target):
            writer.writerow([f"{v:g}" for v in row] + [f"class_{target}"])
    return path


def write_digits_npy(path: str) -> str:
    """scikit-learn's 1797 8x8 digits as uint8 images [N, 8, 8, 1] (values 0..16)."""
    np.save(path, load_digits().images.astype(np.uint8)[..., None])
    return path
