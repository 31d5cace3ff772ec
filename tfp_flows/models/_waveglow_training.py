"""WaveGlow's Keras training hooks: the loss, `fit` on `{"audio", "mel"}` batches, `compile` (a mixin of `WaveGlow`)."""
from __future__ import annotations

import keras
import tensorflow as tf

from tfp_flows.models._model_support import entry_point
from tfp_flows.models._waveglow_inputs import _take_audio
from tfp_flows.models.optimizers import FusedAdam


class WaveGlowTraining:
    """The model provides `_pair`, `_levels`, `_log_prob_folded`, `_bits_per_sample`, `dequantize`,
    `bits_per_sample`, `log_prob` and `learning_rate`; this class must come before `FlowModel` in the bases."""

    def _nll(self, data, training):
        audio, mel = _take_audio(keras.utils.unpack_x_y_sample_weight(data)[0])
        x, mel, _ = self._pair(audio, mel, "audio", self._levels())
        log_prob = self._log_prob_folded(self.dequantize(x, noise=True), mel)
        return -tf.reduce_mean(log_prob), tf.reduce_mean(self._bits_per_sample(log_prob, tf.shape(x)[-1]))

    # Autograph would convert every bijector and TFP call of the step (3x slower tracing, no loops to convert).
    @entry_point
    def train_step(self, data):
        return super().train_step(data)

    @entry_point
    def test_step(self, data):
        return super().test_step(data)

    def initialize(self, x, discrete: bool = True) -> None:
        """WaveGlow has no data-dependent initialisation (no ActNorm): checks the batch only."""
        audio, mel = _take_audio(x)
        if discrete:
            self.bits_per_sample(audio, mel)
        else:
            self.log_prob(audio, mel)
        self._initialized.assign(1.0)

    def compile(self, optimizer=None, **kwargs):
        """Keras `compile`; without an optimizer, Adam at the preset's `learning_rate` (NVIDIA: 1e-4, no clipping),
        as `FusedAdam` (the same update from fused kernels; a given Keras Adam is run so too, see `FlowModel.compile`)."""
        super().compile(optimizer=FusedAdam(self.learning_rate) if optimizer is None else optimizer, **kwargs)

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """Trains on dicts `{"audio": int16 levels [B, T], "mel": [B, n_mels, T // hop]}` (a `tf.data.Dataset` or arrays)."""
        if isinstance(x, tf.data.Dataset):
            first = next(iter(x.take(1)))
            kwargs.setdefault("shuffle", False)  # a Dataset shuffles itself
        elif isinstance(x, dict):
            first = {key: value[: batch_size or 32] for key, value in x.items()}
        else:
            raise ValueError(
                f"WaveGlow.fit: expected a tf.data.Dataset or a dict of arrays with 'audio' and 'mel', got {type(x).__name__}."
            )
        self.initialize(keras.utils.unpack_x_y_sample_weight(first)[0] if isinstance(first, tuple) else first)
        return keras.Model.fit(self, x, y, batch_size=batch_size, **kwargs)
