"""NVIDIA WaveGlow's denoiser: subtract the model's bias spectrum (its output for a silent mel) from its audio."""
from __future__ import annotations

import tensorflow as tf

MODES = ("zeros", "normal")


class Denoiser:
    """Removes the constant hiss a vocoder adds: `|S'| = max(|S| - strength * |B|, 0)`, phase kept.

    `B` is the magnitude spectrum of the first STFT frame of `model.infer(mel0, sigma=0)`,
    where `mel0` is a zero (`mode="zeros"`, NVIDIA's default) or standard normal
    (`mode="normal"`) mel of `frames` frames: what the model says when given no signal.
    `S` is the STFT of the audio (Hann window, hop `filter_length / n_overlap`, reflection
    padding of `filter_length / 2` on both sides, NVIDIA's `STFT`), and the denoised audio
    is the inverse STFT of `|S'| exp(i angle(S))`, trimmed to the input's length.

    >>> from tfp_flows import models
    >>> model = models.WaveGlow.from_preset("tiny")
    >>> denoiser = Denoiser(model, filter_length=64)
    >>> denoiser(model.infer(tf.zeros([1, 8, 10])), strength=0.1).shape
    TensorShape([1, 160])

    Args:
      model: a `WaveGlow`.
      filter_length: STFT size (NVIDIA: 1024).
      n_overlap: hop = `filter_length / n_overlap`.
      win_length: the Hann window's length (default `filter_length`).
      mode: "zeros" or "normal", the mel whose output is the bias.
      frames: the bias mel's length.
      seed: seed of the "normal" mel.

    Raises:
      ValueError: an unknown `mode` or non-positive sizes; when called, audio that is not `[..., T]` or
        shorter than `filter_length / 2`, or `strength < 0`.
    """

    def __init__(self, model, filter_length: int = 1024, n_overlap: int = 4, win_length: int | None = None,
                 mode: str = "zeros", frames: int = 88, seed: int = 0):
        win_length = filter_length if win_length is None else win_length
        for key, value in dict(filter_length=filter_length, n_overlap=n_overlap, win_length=win_length, frames=frames).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Denoiser: expected an integer {key} >= 1, got {value!r}.")
        if filter_length % n_overlap or win_length > filter_length or filter_length % 2:
            raise ValueError(
                f"Denoiser: expected an even filter_length divisible by n_overlap and win_length <= filter_length, "
                f"got filter_length={filter_length}, n_overlap={n_overlap}, win_length={win_length}."
            )
        if mode not in MODES:
            raise ValueError(f"Denoiser: unknown mode {mode!r}; expected one of {MODES}.")
        self.filter_length, self.hop_length, self.win_length = filter_length, filter_length // n_overlap, win_length
        shape = [1, model.n_mels, frames]
        mel = tf.zeros(shape) if mode == "zeros" else tf.random.stateless_normal(shape, seed=[seed, 0])
        bias_audio = model.infer(mel, sigma=0.0, clip=False)
        self.bias_spectrum = tf.abs(self._stft(bias_audio))[:, 0, :]  # [1, bins]: the first frame, as NVIDIA

    def _window(self, length=None, dtype=tf.float32):
        """NVIDIA's window: a periodic Hann of `win_length` zero-padded to `filter_length` in the centre."""
        window = tf.signal.hann_window(self.win_length, periodic=True, dtype=dtype)
        left = (self.filter_length - self.win_length) // 2
        return tf.pad(window, [[left, self.filter_length - self.win_length - left]])

    def _stft(self, audio):
        pad = self.filter_length // 2
        length = audio.shape[-1]
        if length is not None and length <= pad:
            raise ValueError(f"Denoiser: expected audio longer than filter_length / 2 = {pad} samples, got {length}.")
        padded = tf.pad(audio, [[0, 0]] * (audio.shape.rank - 1) + [[pad, pad]], mode="REFLECT")
        return tf.signal.stft(padded, self.filter_length, self.hop_length, self.filter_length, window_fn=self._window)

    def __call__(self, audio, strength: float = 0.1) -> tf.Tensor:
        """Denoised `audio` (float `[..., T]`), the same shape."""
        audio = tf.convert_to_tensor(audio, tf.float32)
        if audio.shape.rank is None or audio.shape.rank < 1:
            raise ValueError(f"Denoiser: expected audio of shape [..., T], got shape {audio.shape}.")
        if not strength >= 0:
            raise ValueError(f"Denoiser: expected strength >= 0, got {strength!r}.")
        spectrum = self._stft(audio)
        magnitude = tf.nn.relu(tf.abs(spectrum) - strength * self.bias_spectrum)
        phase = tf.math.angle(spectrum)
        denoised = tf.complex(magnitude * tf.cos(phase), magnitude * tf.sin(phase))
        out = tf.signal.inverse_stft(denoised, self.filter_length, self.hop_length, self.filter_length, window_fn=self._window)
        # Divide by the overlap-added squared window (NVIDIA's window_sumsquare), exact up to the edges too.
        frames = tf.shape(spectrum)[-2]
        squared = tf.tile(self._window()[None, :] ** 2, [frames, 1])
        window_sum = tf.signal.overlap_and_add(squared, self.hop_length)
        out = out / tf.where(window_sum > 1e-8, window_sum, 1.0)
        start = self.filter_length // 2
        return out[..., start : start + tf.shape(audio)[-1]]
