"""Log-mel spectrogram pictures as PNG files, written with numpy and TensorFlow alone (no matplotlib).

>>> mel = np.linspace(-11.5, 2.0, 80 * 50).reshape(80, 50)
>>> spectrogram_image(mel).shape
(160, 300, 3)
>>> side_by_side(mel, mel[:, :40]).shape  # original left, resynthesis right, one colour scale
(160, 544, 3)
"""
from __future__ import annotations

import math

import numpy as np

from tfp_flows.training.images import write_png

# Viridis at 0, 1/4, 1/2, 3/4, 1: perceptually ordered, readable in greyscale; interpolated linearly.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)
_GAP_COLOUR = 255  # white column between the two panels


def colourise(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] `[H, W]` to uint8 RGB `[H, W, 3]` with the viridis colour map."""
    values = np.clip(np.nan_to_num(np.asarray(values, np.float64), nan=0.0), 0.0, 1.0)
    anchors = np.linspace(0.0, 1.0, len(_VIRIDIS))
    rgb = np.stack([np.interp(values, anchors, _VIRIDIS[:, c]) for c in range(3)], axis=-1)
    return np.uint8(np.round(rgb))


def _check_mel(mel, name: str) -> np.ndarray:
    mel = np.asarray(mel, np.float64)
    if mel.ndim != 2 or mel.shape[0] == 0 or mel.shape[1] == 0:
        raise ValueError(f"{name}: expected a log-mel spectrogram [n_mels, frames], got shape {mel.shape}.")
    return mel


def spectrogram_image(
    mel: np.ndarray, low: float | None = None, high: float | None = None, row_scale: int = 2, column_scale: int | None = None
) -> np.ndarray:
    """A log-mel `[n_mels, frames]` as uint8 RGB, low frequencies at the bottom.

    Colours span `[low, high]` (default: the spectrogram's own range); every mel band becomes `row_scale`
    pixel rows, every frame `column_scale` columns (default: enough for a picture >= 256 pixels wide).
    """
    mel = _check_mel(mel, "spectrogram_image")
    low = float(np.nanmin(mel)) if low is None else low
    high = float(np.nanmax(mel)) if high is None else high
    column_scale = column_scale or max(1, math.ceil(256 / mel.shape[1]))
    image = colourise((mel[::-1] - low) / max(high - low, 1e-12))
    return image.repeat(row_scale, axis=0).repeat(column_scale, axis=1)


def side_by_side(original: np.ndarray, resynthesised: np.ndarray, gap: int = 4) -> np.ndarray:
    """Two log-mels (original left, resynthesised right) on one colour scale, as one uint8 RGB image.

    The colour scale is the original's range, so a resynthesis that is louder or quieter shows as such.
    """
    original = _check_mel(original, "side_by_side")
    resynthesised = _check_mel(resynthesised, "side_by_side")
    if original.shape[0] != resynthesised.shape[0]:
        raise ValueError(
            f"side_by_side: both spectrograms need the same number of mel bands, got {original.shape[0]} "
            f"and {resynthesised.shape[0]}."
        )
    low, high = float(np.nanmin(original)), float(np.nanmax(original))
    column_scale = max(1, math.ceil(256 / max(original.shape[1], resynthesised.shape[1])))
    left = spectrogram_image(original, low, high, column_scale=column_scale)
    right = spectrogram_image(resynthesised, low, high, column_scale=column_scale)
    separator = np.full((left.shape[0], gap, 3), _GAP_COLOUR, np.uint8)
    return np.concatenate([left, separator, right], axis=1)


def save_spectrogram_comparison(path: str, original: np.ndarray, resynthesised: np.ndarray) -> np.ndarray:
    """Writes `side_by_side(original, resynthesised)` as a PNG (atomically); returns the image."""
    image = side_by_side(original, resynthesised)
    write_png(path, image)
    return image
