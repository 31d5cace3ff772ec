"""Audio features for vocoders in TensorFlow: NVIDIA-compatible log-mel spectrograms, Griffin-Lim back to audio.

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

The settings are a `MelConfig` and the filterbank librosa's default `librosa.filters.mel`, both in
`tfp_flows.data.mel_scale`.

>>> config = MelConfig()
>>> audio = tf.zeros([2, 8192])
>>> mel_spectrogram(audio, config).shape
TensorShape([2, 80, 32])
>>> mel_spectrogram(audio, MelConfig(center=True)).shape  # Tacotron 2's stft.py: one frame more
TensorShape([2, 80, 33])
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from tfp_flows.data.mel_scale import MelConfig, cached_filterbank

LOG_CLAMP = 1e-5  # NVIDIA's dynamic range compression: log(clamp(x, min=1e-5))


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
    filterbank = tf.constant(cached_filterbank(config), magnitude.dtype)
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
    return np.linalg.pinv(cached_filterbank(config).astype(np.float64)).astype(np.float32)


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
