"""A 2-D density: RealNVP on scikit-learn's two moons; saves a PNG of the data beside the learned density.

Run: python examples/two_moons.py [--out two_moons.png] [--epochs 200]
"""
from __future__ import annotations

import argparse

import keras
import numpy as np
from sklearn.datasets import make_moons

from tfp_flows.models import RealNVP
from tfp_flows.training import LinearWarmup, write_png

EXTENT = (-1.5, 2.5, -1.0, 1.5)  # x_min, x_max, y_min, y_max


def density_grid(model, size: int) -> np.ndarray:
    xs = np.linspace(EXTENT[0], EXTENT[1], size)
    ys = np.linspace(EXTENT[3], EXTENT[2], size)  # top row = largest y
    points = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2).astype("float32")
    return np.exp(model.log_prob(points).numpy()).reshape(size, size)


def histogram(points: np.ndarray, size: int) -> np.ndarray:
    counts, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=size, range=[EXTENT[2:], EXTENT[:2]])
    return counts[::-1]


def to_pixels(values: np.ndarray) -> np.ndarray:
    scaled = values / max(values.max(), 1e-12)
    return np.uint8(255 * np.sqrt(scaled))[..., None]  # sqrt: faint regions stay visible


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="two_moons.png")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--size", type=int, default=160)
    args = parser.parse_args(argv)

    points = make_moons(4096, noise=0.06, random_state=0)[0].astype("float32")
    keras.utils.set_random_seed(0)
    model = RealNVP(event_shape=(2,), num_bins=None, num_couplings=8, filters=64, hidden_layers=2)
    model.compile(optimizer=keras.optimizers.Adam(LinearWarmup(2e-3, 100)))
    history = model.fit(points, batch_size=256, epochs=args.epochs, verbose=0)
    mean_log_prob = float(np.mean(model.log_prob(points)))

    gap = np.full((args.size, 4, 1), 255, np.uint8)
    picture = np.concatenate([to_pixels(histogram(points, args.size)), gap, to_pixels(density_grid(model, args.size))], axis=1)
    write_png(args.out, picture)
    print(f"final loss {history.history['loss'][-1]:.3f}; mean log-density of the data {mean_log_prob:.3f}; wrote {args.out}")
    return mean_log_prob


if __name__ == "__main__":
    main()
