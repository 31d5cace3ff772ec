"""`MelConfig`, the STFT and mel settings, and the Slaney mel filterbank: numpy only (no TensorFlow).

The filterbank is librosa's default `librosa.filters.mel` (Slaney mel scale, "slaney" area normalisation),
written out here so that librosa is not a dependency; `tf.signal.linear_to_mel_weight_matrix` is the HTK
scale without normalisation and gives different features.

>>> slaney_mel_filterbank(MelConfig()).shape
(80, 513)
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np


@dataclasses.dataclass(frozen=True)
class MelConfig:
    """STFT and mel parameters; the defaults are NVIDIA's WaveGlow / Tacotron 2 (LJ Speech) settings.

    Args:
      sample_rate: Hz.
      n_fft: FFT size.
      win_length: Hann window length (<= n_fft).
      hop_length: samples per frame (<= n_fft; `n_fft - hop_length` even).
      n_mels: mel bins.
      fmin, fmax: the filterbank's frequency range (`fmax <= sample_rate / 2`).
      center: False: frames from `(n_fft - hop_length) / 2` padding; True: Tacotron 2's `stft.py` framing
        (`n_fft / 2` reflection padding each side, `T // hop + 1` frames), the mels NVIDIA's WaveGlow was
        trained on (`WaveGlow.from_nvidia` records it).

    Raises:
      ValueError: non-positive sizes, `win_length` or `hop_length` above `n_fft`, an odd `n_fft - hop_length`
        (or an odd `n_fft` with `center=True`), a non-boolean `center`, or a frequency range outside
        `[0, sample_rate / 2]`.

    >>> from tfp_flows.data import MelConfig
    >>> MelConfig().hop_length, MelConfig(sample_rate=8000, fmax=4000.0).n_mels
    (256, 80)
    """

    sample_rate: int = 22050
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0
    center: bool = False  # True: Tacotron 2's stft.py padding (n_fft / 2 each side, T // hop + 1 frames)

    def __post_init__(self):
        for field in ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels"):
            value = getattr(self, field)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"MelConfig: expected a positive integer {field}, got {value!r}.")
        if self.win_length > self.n_fft:
            raise ValueError(f"MelConfig: expected win_length <= n_fft, got {self.win_length} > {self.n_fft}.")
        if not isinstance(self.center, (bool, np.bool_)):
            raise ValueError(f"MelConfig: expected center True or False, got {self.center!r}.")
        if self.center and self.n_fft % 2:
            raise ValueError(f"MelConfig: center=True pads n_fft / 2 on both sides; expected an even n_fft, got {self.n_fft}.")
        if not self.center and (self.n_fft - self.hop_length) % 2:
            raise ValueError(
                f"MelConfig: n_fft - hop_length must be even (reflection padding of (n_fft - hop) / 2 on both "
                f"sides), got n_fft={self.n_fft}, hop_length={self.hop_length}."
            )
        if self.hop_length > self.n_fft:
            raise ValueError(f"MelConfig: expected hop_length <= n_fft, got {self.hop_length} > {self.n_fft}.")
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"MelConfig: expected 0 <= fmin < fmax <= sample_rate / 2 = {self.sample_rate / 2}, got "
                f"fmin={self.fmin}, fmax={self.fmax}."
            )

    @property
    def num_bins(self) -> int:
        """Number of STFT frequency bins, `n_fft // 2 + 1`."""
        return self.n_fft // 2 + 1

    @property
    def padding(self) -> int:
        """Reflection padding on each side of the waveform: `(n_fft - hop_length) // 2`, or `n_fft // 2` (`center`)."""
        return self.n_fft // 2 if self.center else (self.n_fft - self.hop_length) // 2

    def num_frames(self, length: int) -> int:
        """Frames of `length` samples: `length // hop_length`, plus one with `center`."""
        return length // self.hop_length + (1 if self.center else 0)


# --- Slaney mel scale (Auditory Toolbox; librosa's default `htk=False`) -----------------------------------
_F_SP = 200.0 / 3  # Hz per mel below 1 kHz (linear part)
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0  # log-spaced above 1 kHz


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, np.float64)
    linear = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `hz_to_mel`."""
    mel = np.asarray(mel, np.float64)
    linear = _F_SP * mel
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log, linear)


@functools.lru_cache(maxsize=8)
def cached_filterbank(config: MelConfig) -> np.ndarray:
    """`slaney_mel_filterbank(config)` computed once and shared: read-only, for TensorFlow constants."""
    fft_hz = np.linspace(0.0, config.sample_rate / 2, config.num_bins)
    # n_mels + 2 band edges equally spaced in mel; band i rises from edge i to i+1 and falls to i+2.
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(config.fmin), hz_to_mel(config.fmax), config.n_mels + 2))
    widths = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    # "slaney" normalisation: each triangle has unit area in Hz (2 / bandwidth), so energy is roughly constant.
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    weights = weights.astype(np.float32)
    weights.setflags(write=False)
    return weights


def slaney_mel_filterbank(config: MelConfig = MelConfig()) -> np.ndarray:
    """Mel filterbank `[n_mels, n_fft // 2 + 1]` (float32), equal to `librosa.filters.mel` defaults.

    `librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)`: triangles with
    edges equally spaced on the Slaney mel scale, each scaled by 2 / (its width in Hz).
    """
    return cached_filterbank(config).copy()
