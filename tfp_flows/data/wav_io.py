"""16-bit PCM WAV files: `read_wav`, `read_wav_at` (another sample rate refused or resampled), `write_wav`.

numpy and the standard library's `wave` (no TensorFlow); scipy only to resample.
"""
from __future__ import annotations

import os
import wave

import numpy as np


def read_wav(path: str, mixdown: bool = True) -> tuple[np.ndarray, int]:
    """Reads a 16-bit PCM WAV file: `(int16 samples [T], sample_rate)`.

    Stereo/multichannel files are mixed down to mono (mean of the channels, rounded) unless
    `mixdown=False`, which refuses them. 8-, 24- and 32-bit or floating-point files are refused with a
    ValueError naming the file (convert them, e.g. `sox in.wav -b 16 out.wav`).

    Args:
      path: the WAV file.

    >>> import numpy as np, os, tempfile
    >>> from tfp_flows import data
    >>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
    >>> data.write_wav(path, np.array([0, 100, -100], np.int16), 22050)
    >>> samples, rate = data.read_wav(path)
    >>> samples.tolist(), rate
    ([0, 100, -100], 22050)
    """
    path = os.fspath(path)
    try:
        with wave.open(path, "rb") as handle:
            channels, width, rate = handle.getnchannels(), handle.getsampwidth(), handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    except FileNotFoundError:
        raise ValueError(f"read_wav: {path!r}: no such file.") from None
    except (wave.Error, EOFError, OSError) as error:
        raise ValueError(
            f"read_wav: {path!r} is not a readable 16-bit PCM WAV file ({type(error).__name__}: {error}); "
            "floating-point and WAVE_FORMAT_EXTENSIBLE files are not supported: convert to 16-bit PCM."
        ) from None
    if width != 2:
        raise ValueError(
            f"read_wav: {path!r} has {8 * width}-bit samples; expected 16-bit PCM (convert, e.g. with "
            f"`sox {os.path.basename(path)} -b 16 out.wav`)."
        )
    samples = np.frombuffer(frames, dtype="<i2")
    if len(samples) % channels:
        raise ValueError(f"read_wav: {path!r} is truncated (a partial frame of {channels} channels).")
    samples = samples.reshape(-1, channels)
    if channels > 1:
        if not mixdown:
            raise ValueError(f"read_wav: {path!r} has {channels} channels; expected mono.")
        samples = np.round(samples.astype(np.float64).mean(axis=1, keepdims=True))
    return samples[:, 0].astype(np.int16), int(rate)


def read_wav_at(path: str, sample_rate: int, resample: bool = False, mixdown: bool = True) -> np.ndarray:
    """int16 mono samples of a WAV file at `sample_rate`.

    A file at another rate is refused with a ValueError naming the file and both rates, unless
    `resample=True`: then it is resampled with a polyphase filter (`scipy.signal.resample_poly`).
    """
    samples, rate = read_wav(path, mixdown=mixdown)
    if rate == sample_rate:
        return samples
    if not resample:
        raise ValueError(
            f"{os.fspath(path)!r} is sampled at {rate} Hz; expected {sample_rate} Hz. Resample it (e.g. "
            f"`sox in.wav -r {sample_rate} out.wav`) or pass resample=True."
        )
    from scipy.signal import resample_poly

    divisor = np.gcd(int(rate), int(sample_rate))
    resampled = resample_poly(samples.astype(np.float64), sample_rate // divisor, rate // divisor)
    return np.clip(np.round(resampled), -32768, 32767).astype(np.int16)


def write_wav(path: str, audio: np.ndarray, sample_rate: int) -> None:
    """Writes mono 16-bit PCM audio atomically (temporary file, then rename).

    `audio` is int16 samples, or floats in [-1, 1] (scaled by 32767 and clipped; NaN is refused).

    Args:
      path: the WAV file to write.
      audio: int16 samples `[T]`, or float samples in [-1, 1] (scaled by 32767).
      sample_rate: Hz.

    Raises:
      ValueError: audio that is not one-dimensional, float audio with NaN/Inf, integers outside int16, or
        another dtype.

    >>> import numpy as np, os, tempfile
    >>> from tfp_flows import data
    >>> data.write_wav(os.path.join(tempfile.mkdtemp(), "silence.wav"), np.zeros(100, np.int16), 8000)
    """
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"write_wav: expected mono audio [T], got shape {audio.shape}.")
    if audio.dtype.kind == "f":
        if not np.all(np.isfinite(audio)):
            raise ValueError(f"write_wav: {os.fspath(path)!r}: audio has non-finite values.")
        audio = np.clip(np.round(audio * 32767.0), -32768, 32767)
    elif audio.dtype.kind not in "iu":
        raise ValueError(f"write_wav: expected int16 or float audio, got dtype {audio.dtype}.")
    elif audio.size and (audio.min() < -32768 or audio.max() > 32767):
        raise ValueError(f"write_wav: integer audio outside the int16 range [{audio.min()}, {audio.max()}].")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with wave.open(tmp, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(int(sample_rate))
        handle.writeframes(audio.astype("<i2").tobytes())
    os.replace(tmp, path)
