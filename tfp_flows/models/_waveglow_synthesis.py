"""WaveGlow's synthesis: `infer`, `decode` and `sample` run the flow's inverse (a mixin of `WaveGlow`).

Synthesis uses the WaveNets' fused formulation (`networks.WaveNet`, the same function rearranged for speed)
in one traced graph for every batch and mel length, and runs each WaveNet layer over the time axis in chunks
of `synthesis_chunk_steps` grouped steps (`WaveNet.call(..., chunk_steps=...)`): the same waveform, nothing
computed twice, and only `n_channels`-wide tensors span the whole utterance; the wide intermediates are a
chunk's. Long utterances then cost time in proportion to their length.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_flows.models import validation
from tfp_flows.models._model_support import entry_point

SYNTHESIS_CHUNK_STEPS = 4096


class WaveGlowSynthesis:
    """The model provides `_pair`, `_check_mel`, `_condition`, `_flow`, `n_mels`, `hop_length` and
    `inference_sigma`, and sets `_infer_graph = None` and `_synthesis_chunk_steps = SYNTHESIS_CHUNK_STEPS`;
    this class must come before `FlowModel` in the bases (its `sample` takes a mel)."""

    @property
    def synthesis_chunk_steps(self) -> int | None:
        """Synthesis runs each WaveNet layer over the grouped time axis in chunks of this many steps (None: the
        whole utterance at once). The waveform is the same to float rounding; setting it retraces synthesis."""
        return self._synthesis_chunk_steps

    @synthesis_chunk_steps.setter
    def synthesis_chunk_steps(self, steps: int | None):
        if steps is not None and (not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1):
            raise ValueError(f"WaveGlow: expected synthesis_chunk_steps an integer >= 1 or None, got {steps!r}.")
        self._synthesis_chunk_steps = None if steps is None else int(steps)
        self._infer_graph = None  # traced with the old value

    @entry_point
    def decode(self, z, mel) -> tf.Tensor:
        """Waveforms of latents `z` `[..., T]` given `mel`; `decode(encode(y, mel), mel) == y` up to float error."""
        z, mel, batch_shape = self._pair(z, mel, "z", {})
        y = self._synthesise(mel, tf.cast(z, tf.float32))
        return tf.reshape(y, tf.concat([batch_shape, tf.shape(z)[-1:]], 0))

    def _infer_folded(self, mel, z):
        cond = self._condition(mel, tf.shape(z)[-1])
        return self._flow(cond, fused=True, chunk_steps=self.synthesis_chunk_steps).inverse(z)

    def _synthesise(self, mel, z):
        """Waveforms `[N, T]` of latents `z` `[N, T]` given `mel` `[N, n_mels, F]` (the flow's inverse)."""
        if not tf.executing_eagerly():
            return self._infer_folded(mel, z)
        if self._infer_graph is None:  # one traced graph for every batch and mel length: much faster than eager ops
            signature = [tf.TensorSpec([None, self.n_mels, None], tf.float32), tf.TensorSpec([None, None], tf.float32)]
            self._infer_graph = tf.function(self._infer_folded, input_signature=signature, autograph=False)
        return self._infer_graph(mel, z)

    @entry_point
    def infer(self, mel, sigma: float | None = None, seed=None, clip: bool = True) -> tf.Tensor:
        """Synthesises waveforms `[..., F * hop_length]` (float in [-1, 1]) from mels `[..., n_mels, F]`.

        `sigma` is the standard deviation of the latent (default `inference_sigma`, 0.6 in
        NVIDIA's README; NVIDIA's `glow.py` `infer` defaults to 1.0; 0 gives the mode's waveform).
        An int `seed` makes the output reproducible. `clip` limits the waveform to [-1, 1] as a
        16-bit WAV does (NVIDIA's `infer` does not clip: `clip=False` matches it).
        """
        owner = f"{type(self).__name__}.infer"
        sigma = validation.check_temperature(self.inference_sigma if sigma is None else sigma, owner)
        mel = self._check_mel(mel)
        batch_shape = tf.shape(mel)[:-2]
        folded = tf.reshape(mel, tf.concat([[-1], tf.shape(mel)[-2:]], 0))
        shape = tf.stack([tf.shape(folded)[0], tf.shape(folded)[-1] * self.hop_length])
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            z = tf.random.stateless_normal(shape, seed=[int(seed), 0])
        else:
            z = tf.random.normal(shape, seed=seed)
        y = self._synthesise(folded, z * sigma)
        if clip:
            y = tf.clip_by_value(y, -1.0, 1.0)
        return tf.reshape(y, tf.concat([batch_shape, shape[-1:]], 0))

    @entry_point
    def sample(self, n: int = 1, temperature: float | None = None, seed=None, mel=None, jit_compile=None) -> tf.Tensor:
        """`n` waveforms per mel, `[n, ..., T]`; `temperature` is the latent sigma (default `inference_sigma`)."""
        if mel is None:
            raise ValueError(
                "WaveGlow.sample: a waveform needs a mel spectrogram; pass mel=[..., n_mels, frames] "
                "(or use model.infer(mel); on the command line, tfp-flows vocode)."
            )
        n = validation.check_num_samples(n, "WaveGlow.sample")
        mel = self._check_mel(mel)
        tiled = tf.broadcast_to(mel, tf.concat([[n], tf.shape(mel)], 0))
        return self.infer(tiled, sigma=temperature, seed=seed, clip=False)
