"""WaveGlow's input checks: mels `[..., n_mels, frames]` and audio `[..., T]` that they cover (a mixin of `WaveGlow`)."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.models import validation


class WaveGlowInputs:
    """Clear errors for mel and audio inputs; the model provides `n_mels`, `n_group`, `hop_length` and `upsample_kernel`."""

    def _check_mel(self, mel, what: str = "mel") -> tf.Tensor:
        owner = type(self).__name__
        mel = validation.as_real_tensor(mel, owner, what)
        rank = mel.shape.rank
        if rank is not None and rank < 2:
            raise ValueError(
                f"{owner}: expected {what} of shape [..., n_mels={self.n_mels}, frames], got shape {tuple(mel.shape.as_list())}."
            )
        if rank is not None and mel.shape[-2] is not None and mel.shape[-2] != self.n_mels:
            hint = " (is it [frames, n_mels]? transpose the last two axes)" if mel.shape[-1] == self.n_mels else ""
            raise ValueError(
                f"{owner}: expected {what} with {self.n_mels} mel channels, shape [..., {self.n_mels}, frames], "
                f"got shape {tuple(mel.shape.as_list())}{hint}."
            )
        if rank is not None and mel.shape[-1] == 0:
            raise ValueError(f"{owner}: expected {what} with at least one frame, got shape {tuple(mel.shape.as_list())}.")
        return validation.check_values(mel, owner, what)

    def _check_audio(self, audio, mel, what: str, bounds: dict) -> tf.Tensor:
        owner = type(self).__name__
        audio = validation.as_real_tensor(audio, owner, what)
        if audio.shape.rank is not None and mel.shape.rank is not None and audio.shape.rank != mel.shape.rank - 1:
            raise ValueError(
                f"{owner}: expected {what} [..., T] with the batch shape of mel [..., {self.n_mels}, frames], got {what} "
                f"of shape {tuple(audio.shape.as_list())} and mel of shape {tuple(mel.shape.as_list())}."
            )
        length, frames = audio.shape[-1], mel.shape[-1]
        if length is not None and length % self.n_group:
            raise ValueError(f"{owner}: expected a {what} length divisible by n_group = {self.n_group}, got {length} samples.")
        if length is not None and frames is not None and length > (frames - 1) * self.hop_length + self.upsample_kernel:
            raise ValueError(
                f"{owner}: {what} of {length} samples is longer than its {frames} mel frames cover "
                f"({frames} x hop {self.hop_length} = {frames * self.hop_length})."
            )
        return validation.check_values(audio, owner, what, **bounds)

    def _pair(self, audio, mel, what: str, bounds: dict):
        """Checked `(audio [N, T], mel [N, n_mels, F], batch_shape)`."""
        mel = self._check_mel(mel)
        audio = self._check_audio(audio, mel, what, bounds)
        batch_shape = tf.shape(audio)[:-1]
        folded_mel = tf.reshape(mel, tf.concat([[-1], tf.shape(mel)[-2:]], 0))
        return tf.reshape(audio, [-1, tf.shape(audio)[-1]]), folded_mel, batch_shape


def _take_audio(x, mel=None):
    """`(audio, mel)` from a dict `{"audio", "mel"}` (what `data.load` yields) or from the two arguments."""
    if isinstance(x, dict):
        missing = sorted({"audio", "mel"} - set(x))
        if missing:
            raise ValueError(
                f"WaveGlow: expected a dict with 'audio' and 'mel' entries, got keys {sorted(x)} (missing {missing})."
            )
        return x["audio"], x["mel"]
    if mel is None:
        raise ValueError(f"WaveGlow: expected a dict {{'audio', 'mel'}} or audio and mel, got {type(x).__name__} without a mel.")
    return x, mel
