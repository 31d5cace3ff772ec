"""Writes demo files for `tfp-flows train --data`: a folder of photo crops and a CSV table, from scikit-learn's bundled data.

- `OUT/photos/{china,flower}/NNN.{png,jpg}`: random 48x48 crops of scikit-learn's two sample photos (subfolders
  are the class labels);
- `OUT/wine.csv`: scikit-learn's wine table (178 rows, 13 numeric columns and a text column `cultivar`).

Run: python examples/write_demo_files.py --out demo
"""
from __future__ import annotations

import argparse
import csv
import os

import numpy as np


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="demo", help="folder to write photos/ and wine.csv into")
    parser.add_argument("--crops", type=int, default=150, help="crops per photo")
    parser.add_argument("--size", type=int, default=48, help="crop size in pixels")
    parser.add_argument("--seed", type=int, default=0, help="crop positions")
    args = parser.parse_args(argv)

    import tensorflow as tf
    from sklearn.datasets import load_sample_images, load_wine

    rng = np.random.default_rng(args.seed)
    for name, photo in zip(("china", "flower"), load_sample_images().images):
        folder = os.path.join(args.out, "photos", name)
        os.makedirs(folder, exist_ok=True)
        for i in range(args.crops):
            top, left = rng.integers(0, photo.shape[0] - args.size), rng.integers(0, photo.shape[1] - args.size)
            crop = np.ascontiguousarray(photo[top : top + args.size, left : left + args.size])
            encoded = tf.io.encode_png(crop) if i % 2 else tf.io.encode_jpeg(crop, quality=95)
            tf.io.write_file(os.path.join(folder, f"{i:03d}.{'png' if i % 2 else 'jpg'}"), encoded)
    wine = load_wine()
    with open(os.path.join(args.out, "wine.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(list(wine.feature_names) + ["cultivar"])
        for row, target in zip(wine.data, wine.target):
            writer.writerow([f"{v:g}" for v in row] + [f"class_{target}"])
    print(f"Wrote {2 * args.crops} photo crops to {os.path.join(args.out, 'photos')} and {os.path.join(args.out, 'wine.csv')}")
    return args.out


if __name__ == "__main__":
    main()
