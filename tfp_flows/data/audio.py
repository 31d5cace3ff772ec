"""Audio features for vocoders: NVIDIA-compatible log-mel spectrograms in TensorFlow, Griffin-Lim, WAV files.

The features match the mels NVIDIA's WaveGlow/Tacotron 2 recipes feed a vocoder (and BigVGAN/HiFi-GAN's
`mel_spectrogram`), so mels from such pipelines can be vocoded by our models:

    padded = reflect_pad(audio, (n_fft - hop) / 2 on both sides)       # no further centre padding
    frames = padded[t*hop : t*hop + n_fft] * hann_periodic(win_length)  # t = 0 .. T/hop - 1
    magnitude = |rfft(frames, n_fft)|                                   # [..., frames, n_fft/2 + 1]
    mel = log(max(slaney_mel_filterbank @ magnitude, 1e-5))            # [..., n_mels, frames]

so `frames * hop_length == T` when `T` is a multiple of `hop_length` (a WaveGlow upsamples one mel frame to
exactly `hop_length` samples). `MelConfig(center=True)` is NVIDIA's Tacotron 2 `stft.py` (`layers.TacotronSTFT`,
what NVIDIA/waveglow's `mel2samp.py` and its published models use): reflection padding of `n_fft / 2` on both
sides, `T // hop + 1` frames, the same window, mel basis and log clamp; the frames are shifted by half a hop.

The filterbank is librosa's default `librosa.filters.mel` (Slaney mel scale, "slaney" area normalisation),
written out here so that librosa is not a dependency; `tf.signal.linear_to_mel_weight_matrix` is the HTK
scale without normalisation and gives different features.

>>> config = MelConfig()
>>> audio = tf.zeros([2, 8192])
>>> mel_spectrogram(audio, config).shape
TensorShape([2, 80, 32])
>>> mel_spectrogram(audio, MelConfig(center=True)).shape  # Tacotron 2's stft.py: one frame more
TensorShape([2, 80, 33])
>>> slaney_mel_filterbank(config).shape
(80, 513)
"""
from __future__ import annotations

import dataclasses
import functools
import os
import wave

import numpy as np
import tensorflow as tf

LOG_CLAMP = 1e-5  # NVIDIA's dynamic range compression: log(clamp(x, min=1e-5))


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
def _filterbank(config: MelConfig) -> np.ndarray:
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
    return _filterbank(config).copy()


def _stft_window(config: MelConfig):
    """A periodic Hann window of `win_length`, zero-padded to `n_fft` in the centre (as torch.stft does)."""

    def window_fn(frame_length, dtype):
        window = tf.signal.hann_window(config.win_length, periodic=True, dtype=dtype)
        left = (config.n_fft - config.win_length) // 2
        return tf.pad(window, [[left, config.n_fft - config.win_length - left]])

    return window_fn


def _fold(audio: tf.Tensor, name: str) -> tuple[tf.Tensor, tf.Tensor]:
    """[..., T] -> ([N, T], leading shape) so leading batch dims of any number (or none) work."""
    if audio.shape.rank is None:
        raise ValueError(f"{name}: expected audio [..., T] of known rank, got unknown rank.")
    if audio.shape.rank == 0:
        raise ValueError(f"{name}: expected audio [..., T] (at least one dimension), got a scalar.")
    shape = tf.shape(audio)
    return tf.reshape(audio, tf.concat([[-1], shape[-1:]], 0)), shape[:-1]


def stft_magnitude(audio: tf.Tensor, config: MelConfig = MelConfig()) -> tf.Tensor:
    """|STFT| `[..., frames, n_fft // 2 + 1]` of float audio `[..., T]` with NVIDIA's reflection padding."""
    audio = tf.convert_to_tensor(audio)
    if not audio.dtype.is_floating:
        raise ValueError(
            f"stft_magnitude: expected float audio in [-1, 1], got dtype {audio.dtype.name} "
            "(int16 samples: use `audio_to_float`)."
        )
    if audio.dtype != tf.float64:  # half precision (mixed-precision callers): features in float32
        audio = tf.cast(audio, tf.float32)
    folded, leading = _fold(audio, "stft_magnitude")
    length = folded.shape[-1]
    if length is not None and length <= config.padding:
        raise ValueError(
            f"stft_magnitude: expected audio longer than the reflection padding {config.padding} samples "
            f"({'n_fft / 2' if config.center else '(n_fft - hop_length) / 2'}), got T={length}."
        )
    padded = tf.pad(folded, [[0, 0], [config.padding, config.padding]], mode="REFLECT")
    spectrum = tf.signal.stft(
        padded, frame_length=config.n_fft, frame_step=config.hop_length, fft_length=config.n_fft,
        window_fn=_stft_window(config), pad_end=False,
    )
    magnitude = tf.abs(spectrum)
    return tf.reshape(magnitude, tf.concat([leading, tf.shape(magnitude)[-2:]], 0))


def audio_to_float(samples: tf.Tensor) -> tf.Tensor:
    """int16 sample values to float32 audio in [-1, 1): `samples / 32768` (NVIDIA's MAX_WAV_VALUE scaling).

    Raises nothing: any numeric tensor is scaled.

    >>> import numpy as np
    >>> from tfp_flows.data import audio_to_float
    >>> audio_to_float(np.array([-32768, 16384], np.int16)).numpy().tolist()
    [-1.0, 0.5]
    """
    return tf.cast(samples, tf.float32) / 32768.0


def mel_spectrogram(audio: tf.Tensor, config: MelConfig = MelConfig()) -> tf.Tensor:
    """NVIDIA-compatible log-mel spectrogram `[..., n_mels, frames]` of float audio `[..., T]` in [-1, 1].

    `frames = T // hop_length` (the padded length is `T - hop_length + n_fft`), so `frames * hop_length == T`
    when `T` is a multiple of the hop; with `config.center` (Tacotron 2's `stft.py`) `T // hop_length + 1`.
    Works eagerly and under `tf.function`/XLA with unknown batch and length.

    Args:
      config: STFT and mel settings (`MelConfig`, NVIDIA's by default).

    Raises:
      ValueError: audio that is a scalar or of unknown rank.

    >>> import numpy as np
    >>> from tfp_flows import data
    >>> data.mel_spectrogram(np.zeros((2, 2560), np.float32)).shape  # frames = T // hop
    TensorShape([2, 80, 10])
    """
    magnitude = stft_magnitude(audio, config)
    filterbank = tf.constant(_filterbank(config), magnitude.dtype)
    mel = tf.linalg.matrix_transpose(tf.matmul(magnitude, filterbank, transpose_b=True))
    return tf.math.log(tf.maximum(mel, LOG_CLAMP))


def log_mel_l1(reference: tf.Tensor, resynthesis: tf.Tensor, config: MelConfig = MelConfig()) -> tf.Tensor:
    """Mean |log-mel(reference) - log-mel(resynthesis)| over bins and frames: `[...]` for float audio `[..., T]`.

    The vocoder quality number reported next to bits per sample; both waveforms must have the same length.

    Args:
      config: the `MelConfig` of the mels compared.

    Raises:
      ValueError: audio of different shapes, or not `[..., T]`.

    >>> import numpy as np
    >>> from tfp_flows import data
    >>> wave = np.sin(np.arange(4096, dtype=np.float32) / 10)
    >>> float(data.log_mel_l1(wave, wave))
    0.0
    """
    reference, resynthesis = tf.convert_to_tensor(reference), tf.convert_to_tensor(resynthesis)
    if reference.shape.is_fully_defined() and resynthesis.shape.is_fully_defined() and reference.shape != resynthesis.shape:
        raise ValueError(f"log_mel_l1: expected audio of the same shape, got {reference.shape} and {resynthesis.shape}.")
    distance = tf.abs(mel_spectrogram(reference, config) - mel_spectrogram(resynthesis, config))
    return tf.reduce_mean(distance, axis=[-2, -1])


@functools.lru_cache(maxsize=8)
def _pseudo_inverse(config: MelConfig) -> np.ndarray:
    return np.linalg.pinv(_filterbank(config).astype(np.float64)).astype(np.float32)


def griffin_lim(
    mel: tf.Tensor, config: MelConfig = MelConfig(), iterations: int = 60, momentum: float = 0.99, seed: int = 0
) -> tf.Tensor:
    """Reference vocoder: float audio `[..., frames * hop_length]` from a log-mel `[..., n_mels, frames]`.

    The linear magnitude is the mel basis' pseudo-inverse applied to `exp(mel)` (clipped at 0); the phase is
    recovered by fast Griffin-Lim (Perraudin et al. 2013: Griffin-Lim with `momentum`; 0 gives the classic
    algorithm), starting from random phases drawn with `seed`. Inverse STFT with the same window and padding
    as `mel_spectrogram`, so `mel_spectrogram(griffin_lim(mel))` has as many frames as `mel` (`(frames - 1) * hop`
    samples with `config.center`).

    Args:
      mel: log-mel `[..., n_mels, frames]`.
      config: the `MelConfig` the mel was computed with.
      iterations: Griffin-Lim iterations.

    Raises:
      ValueError: a mel of the wrong rank or number of bins, or `iterations < 0`.

    >>> import tensorflow as tf
    >>> from tfp_flows import data
    >>> data.griffin_lim(tf.fill([80, 4], -5.0), iterations=2).shape
    TensorShape([1024])
    """
    mel = tf.convert_to_tensor(mel, tf.float32)
    if mel.shape.rank is None or mel.shape.rank < 2 or mel.shape[-2] != config.n_mels:
        raise ValueError(
            f"griffin_lim: expected a log-mel [..., n_mels={config.n_mels}, frames], got shape {mel.shape}."
        )
    if not isinstance(iterations, (int, np.integer)) or iterations < 0:
        raise ValueError(f"griffin_lim: expected iterations >= 0, got {iterations!r}.")
    mel = tf.debugging.assert_all_finite(mel, "griffin_lim: the log-mel has non-finite values")
    pseudo_inverse = tf.constant(_pseudo_inverse(config))  # [bins, n_mels]
    # exp(mel)^T [..., frames, n_mels] @ pinv^T [n_mels, bins] -> linear magnitude [..., frames, bins]
    magnitude = tf.maximum(tf.matmul(tf.linalg.matrix_transpose(tf.exp(mel)), pseudo_inverse, transpose_b=True), 0.0)
    leading = tf.shape(magnitude)[:-2]
    magnitude = tf.reshape(magnitude, tf.concat([[-1], tf.shape(magnitude)[-2:]], 0))
    magnitude = tf.cast(magnitude, tf.complex64)

    window_fn = _stft_window(config)
    inverse_window_fn = tf.signal.inverse_stft_window_fn(config.hop_length, forward_window_fn=window_fn)
    num_frames = tf.shape(magnitude)[1]
    length = (num_frames - 1 if config.center else num_frames) * config.hop_length

    def synthesise(spectrum):
        padded = tf.signal.inverse_stft(
            spectrum, frame_length=config.n_fft, frame_step=config.hop_length, fft_length=config.n_fft,
            window_fn=inverse_window_fn,
        )
        return padded[:, config.padding : config.padding + length]

    def analyse(audio):
        padded = tf.pad(audio, [[0, 0], [config.padding, config.padding]], mode="REFLECT")
        return tf.signal.stft(
            padded, frame_length=config.n_fft, frame_step=config.hop_length, fft_length=config.n_fft,
            window_fn=window_fn,
        )

    def unit_phase(spectrum):
        return spectrum / tf.cast(tf.maximum(tf.abs(spectrum), 1e-12), tf.complex64)

    phase = tf.random.stateless_uniform(tf.shape(magnitude), seed=[seed, 0], maxval=2 * np.pi)
    angles = tf.complex(tf.cos(phase), tf.sin(phase))
    previous = tf.zeros_like(magnitude)
    for _ in range(int(iterations)):
        rebuilt = analyse(synthesise(magnitude * angles))
        angles = unit_phase(rebuilt - (momentum / (1 + momentum)) * previous)
        previous = rebuilt
    audio = synthesise(magnitude * angles)
    return tf.reshape(audio, tf.concat([leading, [-1]], 0))


# --- WAV files ------------------------------------------------------------------------------------------

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
