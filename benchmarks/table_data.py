"""Real tables that ship with scikit-learn, as standardised train/validation/test splits fixed by a seed.

Used by `compare_tables.py` (ours against zuko's NSF). Every table is continuous (discrete
columns get uniform dequantization noise, drawn once from the seed) and standardised with the
training rows' mean and standard deviation, so both libraries see exactly the same numbers
and report held-out log-likelihoods in the same units (nats per row of standardised data).

* `digits`: `load_digits`, 1,797 rows x 64 pixel columns with levels 0..16, plus U[0, 1) noise
  (three columns are always 0, so they become pure uniform noise: a flat, bounded column).
* `breast_cancer`: `load_breast_cancer`, 569 x 30 measurements (skewed, heavy-tailed columns).
* `wine`: `load_wine`, 178 x 13 measurements: a tiny table, where any flow overfits.
* `photo_patches`: the tens-of-thousands-row table, built the way BSDS300 (Papamakarios et
  al. 2017, the NSF/MAF benchmark of 63 columns) is built from photographs, here from the two
  photographs scikit-learn ships (`load_sample_images`): grey 8x8 patches, uniform
  dequantization of the 8-bit levels, each patch's own mean subtracted and its last pixel
  dropped (it is minus the sum of the others), 63 columns. Patches overlap (stride 3), so
  the split is by region, not by row: each photograph is cut into 40x40 blocks (10 x 16 per
  photograph, 320 in all), the seed sends 10% of the blocks to validation and 10% to test,
  and a patch belongs to the block that holds it whole (121 per block). 38,720 rows
  (30,976 / 3,872 / 3,872).

>>> tables = load_tables(["wine"], seed=0)
>>> {split: array.shape for split, array in tables["wine"].items()}
{'train': (142, 13), 'validation': (18, 13), 'test': (18, 13)}
"""
from __future__ import annotations

import numpy as np

TABLES = ("digits", "breast_cancer", "wine", "photo_patches")
SPLITS = ("train", "validation", "test")
PATCH, STRIDE, BLOCK = 8, 3, 40


def _row_splits(rows: np.ndarray, rng: np.random.Generator, fraction: float = 0.1) -> dict[str, np.ndarray]:
    order = rng.permutation(len(rows))
    held = int(round(fraction * len(rows)))
    return dict(train=rows[order[2 * held:]], validation=rows[order[:held]], test=rows[order[held:2 * held]])


def _grey_photographs() -> list[np.ndarray]:
    from sklearn.datasets import load_sample_images

    # ITU-R 601 luma of the 8-bit RGB, rounded back to the 256 integer levels a grey photograph has.
    return [np.rint(image.astype(np.float64) @ [0.299, 0.587, 0.114]).clip(0, 255) for image in load_sample_images().images]


def _patches(region: np.ndarray) -> np.ndarray:
    rows = []
    for top in range(0, region.shape[0] - PATCH + 1, STRIDE):
        for left in range(0, region.shape[1] - PATCH + 1, STRIDE):
            rows.append(region[top:top + PATCH, left:left + PATCH].reshape(-1))
    return np.asarray(rows)


def photo_patches(rng: np.random.Generator) -> dict[str, np.ndarray]:
    blocks = []
    for grey in _grey_photographs():
        grey = grey + rng.uniform(size=grey.shape)  # uniform dequantization, once per pixel
        for top in range(0, grey.shape[0] - BLOCK + 1, BLOCK):
            for left in range(0, grey.shape[1] - BLOCK + 1, BLOCK):
                patches = _patches(grey[top:top + BLOCK, left:left + BLOCK]) / 256.0
                blocks.append(patches - patches.mean(axis=1, keepdims=True))
    order = rng.permutation(len(blocks))
    held = int(round(0.1 * len(blocks)))
    chosen = dict(validation=order[:held], test=order[held:2 * held], train=order[2 * held:])
    return {split: np.concatenate([blocks[i] for i in sorted(chosen[split])])[:, :-1] for split in SPLITS}


def raw_table(name: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Unstandardised splits of table `name`."""
    from sklearn import datasets

    if name == "photo_patches":
        return photo_patches(rng)
    if name == "digits":
        values = datasets.load_digits().data.astype(np.float64)
        return _row_splits(values + rng.uniform(size=values.shape), rng)
    if name == "breast_cancer":
        return _row_splits(datasets.load_breast_cancer().data.astype(np.float64), rng)
    if name == "wine":
        return _row_splits(datasets.load_wine().data.astype(np.float64), rng)
    raise ValueError(f"unknown table {name!r}; expected one of {TABLES}.")


def load_tables(names=TABLES, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """`{table: {split: float32 [rows, columns]}}`, standardised with the training split's statistics."""
    tables = {}
    for name in names:
        splits = raw_table(name, np.random.default_rng([seed, TABLES.index(name)]))
        mean, std = splits["train"].mean(axis=0), splits["train"].std(axis=0)
        tables[name] = {split: ((values - mean) / std).astype(np.float32) for split, values in splits.items()}
    return tables
