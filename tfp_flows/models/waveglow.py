"""WaveGlow (Prenger, Valle & Catanzaro 2018): a flow over waveforms given mel spectrograms.

Built from our bijectors: `Group1D` (the 1-D squeeze into `n_group` channels), then
`n_flows` x [`Invertible1x1Conv` over `(T', C)` -> `AffineCoupling` whose conditioner is a
`WaveNet` (WN) stack fed the upsampled mel], with `EarlyOutput` every `n_early_every`
flows. NVIDIA/waveglow's `glow.py` is the reference for every choice that the paper leaves open.
"""
from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors import AffineCoupling, EarlyOutput, Group1D, SequenceChannelMask
from tfp_flows.layers import Invertible1x1ConvLayer
from tfp_flows.models.base import FlowModel
from tfp_flows.models._model_support import entry_point
from tfp_flows.models._waveglow_inputs import WaveGlowInputs, _take_audio
from tfp_flows.models._waveglow_synthesis import SYNTHESIS_CHUNK_STEPS, WaveGlowSynthesis
from tfp_flows.models._waveglow_training import WaveGlowTraining
from tfp_flows.models.presets import PresetMixin
from tfp_flows.networks import WaveNet

tfb, tfd = tfp.bijectors, tfp.distributions
UPSAMPLE_INITS = ("random", "repeat")


@keras.saving.register_keras_serializable(package="tfp_flows")
class WaveGlow(PresetMixin, WaveGlowSynthesis, WaveGlowTraining, WaveGlowInputs, FlowModel):
    """Density of a waveform `y` (float in [-1, 1), shape `[..., T]`) given its log-mel `[..., n_mels, F]`.

    Data-to-latent (the normalising direction): group `y` into `(T / n_group, n_group)`;
    for `k = 0 .. n_flows - 1`: every `n_early_every` flows (`k > 0`) the first
    `n_early_size` channels leave as latents (`EarlyOutput`), then an invertible 1x1
    conv mixes the remaining `C_k` channels and an affine coupling (`y_b = exp(log s) *
    x_b + t`, NVIDIA's unbounded `exp`) transforms the last `C_k - C_k // 2` given the
    first `C_k // 2` and the mel; the latent `z` has the waveform's length and a base
    `N(0, sigma^2)` (`sigma` the training sigma).

    Conditioning: the mel is upsampled to the audio rate by a transposed 1-D conv
    (kernel `upsample_kernel`, stride `hop_length`: `F` frames give `(F - 1) * hop +
    kernel >= F * hop` samples), trimmed to the audio length and grouped like the audio
    into `n_mels * n_group` channels. The mel is bound into each coupling's conditioner
    when the flow is built for it (`conditional_bijector(mel)`), as the flow is rebuilt
    from the current weights on every call.

    Discrete audio. `fit`/`evaluate` take dicts `{"audio": int16 levels [B, T], "mel": [B,
    n_mels, T // hop]}` and model `y = (x + u) / 32768`, `u ~ U[0, 1)`. The logged `loss` is
    nats per example and `bits_per_sample = -(log p(y) - T log 32768) / (T log 2)`: the
    bits/dim of `FlowModel` with one dimension per audio sample (the bin width of `y` is
    `1 / 32768` = `2 / num_bins`), 16 for a uniform model of 16-bit audio.

    Synthesis (`infer`, `decode`, `sample`; `_waveglow_synthesis`): the flow's inverse with the WaveNets'
    fused formulation, each WaveNet layer run over the time axis in chunks of `synthesis_chunk_steps` grouped
    steps (default 4096, 1.5 s of 22 kHz audio): the same waveform, time in proportion to the utterance's
    length (`model.synthesis_chunk_steps = None`: each layer over the whole utterance at once).

    Args:
      wn_layers, wn_channels, wn_kernel_size: the WaveNet conditioner of each coupling.
      segment_length: audio samples per training example.
      inference_sigma: the default `sigma` of `infer`.
      learning_rate: Adam's learning rate when compiled without an optimizer.
      sample_rate, n_fft, win_length, fmin, fmax: the mel features (`data.MelConfig`).
      lu: the LU parametrisation of the 1x1 convolutions.
      mel_center: Tacotron 2's mel framing (`data.MelConfig(center=True)`), as NVIDIA's checkpoints expect.
      upsample_init: "random" (NVIDIA's) or "repeat" (each frame repeated over its hop).

    Raises:
      ValueError: an odd `n_group`, early outputs that leave the last couplings fewer than 2 channels,
        `hop_length` or `segment_length` not divisible by `n_group`, `upsample_kernel < hop_length`,
        `sigma <= 0`, an unknown `upsample_init`, an odd `num_bins`; in the methods, mels of the wrong
        shape or not finite.

    >>> import tensorflow as tf
    >>> from tfp_flows import models
    >>> w = models.WaveGlow.from_preset("tiny")
    >>> w.infer(tf.zeros([1, 8, 5]), sigma=0.6).shape  # 5 frames x hop 16
    TensorShape([1, 80])
    """

    def __init__(
        self,
        n_mels: int = 80,
        n_flows: int = 12,
        n_group: int = 8,
        n_early_every: int = 4,
        n_early_size: int = 2,
        wn_layers: int = 8,
        wn_channels: int = 256,
        wn_kernel_size: int = 3,
        hop_length: int = 256,
        upsample_kernel: int = 1024,
        segment_length: int = 16000,
        sigma: float = 1.0,
        inference_sigma: float = 0.6,
        learning_rate: float = 1e-4,
        sample_rate: int = 22050,
        n_fft: int = 1024,
        win_length: int = 1024,
        fmin: float = 0.0,
        fmax: float = 8000.0,
        lu: bool = True,
        upsample_init: str = "random",
        num_bins: int = 65536,
        mel_center: bool = False,
        **kwargs,
    ):
        kwargs.pop("event_shape", None)  # from FlowModel's config: always (segment_length,)
        ints = dict(
            n_mels=n_mels, n_flows=n_flows, n_group=n_group, n_early_every=n_early_every, wn_layers=wn_layers,
            wn_channels=wn_channels, wn_kernel_size=wn_kernel_size, hop_length=hop_length,
            upsample_kernel=upsample_kernel, segment_length=segment_length, sample_rate=sample_rate, n_fft=n_fft,
            win_length=win_length,
        )
        for key, value in ints.items():
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"WaveGlow: expected an integer {key} >= 1, got {value!r}.")
        if isinstance(n_early_size, bool) or not isinstance(n_early_size, int) or n_early_size < 0 or n_early_size % 2:
            raise ValueError(f"WaveGlow: expected an even n_early_size >= 0, got {n_early_size!r}.")
        if n_group < 2 or n_group % 2:
            raise ValueError(f"WaveGlow: expected an even n_group >= 2 (the couplings split channels in halves), got {n_group}.")
        remaining = n_group - n_early_size * ((n_flows - 1) // n_early_every)
        if remaining < 2:
            raise ValueError(
                f"WaveGlow: {n_flows} flows with {n_early_size} early channels every {n_early_every} flows leave "
                f"{remaining} of n_group = {n_group} channels; the last couplings need at least 2."
            )
        if hop_length % n_group:
            raise ValueError(f"WaveGlow: expected hop_length divisible by n_group = {n_group}, got {hop_length}.")
        if upsample_kernel < hop_length:
            raise ValueError(f"WaveGlow: expected upsample_kernel >= hop_length = {hop_length}, got {upsample_kernel}.")
        if segment_length % n_group:
            raise ValueError(f"WaveGlow: expected segment_length divisible by n_group = {n_group}, got {segment_length}.")
        _checks.number("WaveGlow", "sigma", sigma, low=0.0, low_open=True)
        _checks.number("WaveGlow", "inference_sigma", inference_sigma, low=0.0)
        _checks.number("WaveGlow", "learning_rate", learning_rate, low=0.0, low_open=True)
        _checks.number("WaveGlow", "fmin", fmin, low=0.0)
        _checks.number("WaveGlow", "fmax", fmax, low=fmin, high=sample_rate / 2, low_open=True)  # up to Nyquist
        _checks.boolean("WaveGlow", "lu", lu)
        if upsample_init not in UPSAMPLE_INITS:
            raise ValueError(f"WaveGlow: unknown upsample_init {upsample_init!r}; expected one of {UPSAMPLE_INITS}.")
        if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 4 or num_bins % 2:
            raise ValueError(f"WaveGlow: expected an even num_bins (65536 for 16-bit audio), got {num_bins!r}.")
        super().__init__((segment_length,), num_bins=int(num_bins), **kwargs)
        self._require_float32("WaveGlow (its mel features and WaveNet conditioners)")
        for key, value in ints.items():
            setattr(self, key, int(value))
        self.n_early_size = n_early_size
        self.sigma, self.inference_sigma, self.learning_rate = float(sigma), float(inference_sigma), float(learning_rate)
        self.fmin, self.fmax, self.lu, self.upsample_init = float(fmin), float(fmax), bool(lu), upsample_init
        self.mel_center = bool(mel_center)
        self.audio_scale = self.num_bins / 2  # y = x / 32768 for 16-bit audio
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_sample")
        self._infer_graph = None
        self._synthesis_chunk_steps = SYNTHESIS_CHUNK_STEPS

        self.channels = []  # channels each flow works on, after the early outputs before it
        channels = n_group
        for k in range(n_flows):
            if k > 0 and k % n_early_every == 0:
                channels -= n_early_size
            self.channels.append(channels)
        self.upsample = keras.layers.Conv1DTranspose(
            n_mels, upsample_kernel, strides=hop_length, padding="valid", name="upsample"
        )
        self.convs = [
            Invertible1x1ConvLayer(c, lu=lu, seed=k, event_ndims=2, name=f"f{k}_conv1x1") for k, c in enumerate(self.channels)
        ]
        self.wns = [
            WaveNet(2 * (c - c // 2), wn_layers, wn_channels, wn_kernel_size, name=f"f{k}_wn")
            for k, c in enumerate(self.channels)
        ]
        self._build_all()
        if upsample_init == "repeat":
            self.upsample.kernel.assign(_repeating_kernel(upsample_kernel, hop_length, n_mels))

    # ------------------------------------------------------------------ structure
    def _build_all(self):
        self.log_prob(tf.zeros([1, self.hop_length]), tf.zeros([1, self.n_mels, 1]))
        self.built = True

    def _condition(self, mel, length):
        """The mel `[..., n_mels, F]` at the audio rate, grouped: `[..., length / n_group, n_mels * n_group]`."""
        batch_shape = tf.shape(mel)[:-2]
        frames = tf.shape(mel)[-1]
        folded = tf.transpose(tf.reshape(mel, [-1, self.n_mels, frames]), [0, 2, 1])
        spect = self.upsample(folded)[:, :length]  # (F - 1) * hop + kernel samples, trimmed to the audio
        steps = length // self.n_group
        # NVIDIA's layout: channel m * n_group + j holds mel bin m at sample t * n_group + j.
        spect = tf.reshape(spect, [-1, steps, self.n_group, self.n_mels])
        spect = tf.reshape(tf.transpose(spect, [0, 1, 3, 2]), [-1, steps, self.n_mels * self.n_group])
        return tf.reshape(spect, tf.concat([batch_shape, [steps, self.n_mels * self.n_group]], 0))

    def _wn_conditioner(self, network, cond, fused: bool = False, chunk_steps: int | None = None):
        """`x_a -> network(x_a, cond)`, with `cond` broadcast over any extra sample dimensions of `x_a`."""
        call = lambda x, c: network(x, c, fused=fused, chunk_steps=chunk_steps)  # noqa: E731
        if self.recompute and self.built:  # weights are created outside recompute_grad
            call = tf.recompute_grad(call)

        def conditioner(x_a):
            if x_a.shape.rank == 3 and cond.shape.rank == 3:
                return call(x_a, cond)
            shape = tf.shape(x_a)
            lead = shape[:-2]
            c = tf.broadcast_to(cond, tf.concat([lead, tf.shape(cond)[-2:]], 0))
            folded_x = tf.reshape(x_a, tf.concat([[-1], shape[-2:]], 0))
            out = call(folded_x, tf.reshape(c, tf.concat([[-1], tf.shape(cond)[-2:]], 0)))
            return tf.reshape(out, tf.concat([lead, tf.shape(out)[-2:]], 0))

        conditioner.takes_any_batch = True  # it folds x_a and the mel together (see call_folded)
        return conditioner

    def _flow(self, cond=None, fused: bool = False, chunk_steps: int | None = None) -> tfb.Bijector:
        """Data `y` `(T,)` -> latent `z` `(T,)` for the grouped conditioning `cond` of `_condition`.

        `fused`: the WaveNets compute with `WaveNet`'s fused formulation (synthesis: same values, faster);
        `chunk_steps`: and over the time axis in chunks of that many steps (`WaveNet.call`), the same values.
        """
        if cond is None:
            raise ValueError("WaveGlow: the flow depends on a mel spectrogram; use conditional_bijector(mel).")
        flow = None
        for k in reversed(range(self.n_flows)):
            coupling = AffineCoupling(
                self._wn_conditioner(self.wns[k], cond, fused, chunk_steps), mask=SequenceChannelMask(self.channels[k]), scale_fn="exp",
                name=f"f{k}_coupling",
            )
            steps = [self.convs[k].bijector(), coupling] + ([flow] if flow is not None else [])
            flow = tfb.Chain(steps[::-1], name=f"flows_{k}")
            if k > 0 and k % self.n_early_every == 0 and self.n_early_size:  # 0: no early outputs
                flow = EarlyOutput(flow, self.n_early_size, name=f"early_{k}")
        group = Group1D(self.n_group)
        return tfb.Chain([tfb.Invert(group), flow, group], name="waveglow")

    def conditional_bijector(self, mel) -> tfb.Bijector:
        """z -> y (TFP direction) for waveforms of `F * hop_length` samples given `mel` `[..., n_mels, F]`."""
        mel = self._check_mel(mel)
        return tfb.Invert(self._flow(self._condition(mel, tf.shape(mel)[-1] * self.hop_length)))

    def conditional_distribution(self, mel, sigma: float | None = None) -> tfd.TransformedDistribution:
        """`tfd.TransformedDistribution` over waveforms `[..., F * hop_length]` given `mel` `[..., n_mels, F]`.

        Batch shape: the mel's batch shape; `sample(n)` gives `[n, *batch, T]`. `sigma`
        defaults to the training sigma (the density `log_prob` evaluates).
        """
        mel = self._check_mel(mel)
        length = tf.shape(mel)[-1] * self.hop_length
        scale = self.sigma if sigma is None else sigma
        base = tfd.Sample(tfd.Normal(tf.zeros(tf.shape(mel)[:-2]), tf.cast(scale, tf.float32)), [length])
        return tfd.TransformedDistribution(base, tfb.Invert(self._flow(self._condition(mel, length))))

    @property
    def bijector(self):
        raise ValueError("WaveGlow: the bijector depends on a mel spectrogram; use model.conditional_bijector(mel).")

    @property
    def distribution(self):
        raise ValueError("WaveGlow: the distribution depends on a mel spectrogram; use model.conditional_distribution(mel).")

    @property
    def base_distribution(self):
        raise ValueError("WaveGlow: the base's length follows the mel; use model.conditional_distribution(mel).")

    def mel_config(self):
        """The `data.audio.MelConfig` of the features this model was trained on (`center`: Tacotron 2's padding)."""
        from tfp_flows.data.audio import MelConfig

        return MelConfig(
            sample_rate=self.sample_rate, n_fft=self.n_fft, win_length=self.win_length, hop_length=self.hop_length,
            n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, center=self.mel_center,
        )

    @classmethod
    def from_nvidia(cls, path, **overrides) -> "WaveGlow":
        """A WaveGlow with the weights of an NVIDIA checkpoint (NVIDIA/waveglow, DeepLearningExamples), no PyTorch.

        Reads `train.py` checkpoints (weight norm on or removed), pickled `glow.WaveGlow`s, state_dicts and
        `{'state_dict': ...}` files, zip or legacy PyTorch format, float32 or float16; the architecture comes
        from the tensors' shapes (`models.waveglow_nvidia`); unpickling allows only the globals a checkpoint
        needs. The model has `lu=False` (NVIDIA's plain 1x1 matrices) and Tacotron 2's mels (`mel_center=True`);
        `overrides` set what a checkpoint does not store (`sample_rate`, `n_fft`, `win_length`, `fmin`, `fmax`,
        `hop_length` for state_dicts, `segment_length`, `sigma`, `inference_sigma`, ...). A bad file raises a
        ValueError naming it. Unlike NVIDIA's `infer(mel, sigma=1.0)`, our `infer` defaults to `sigma=0.6`
        (`inference_sigma`, NVIDIA's README value) and clips to [-1, 1] (`clip=False`: NVIDIA's output).
        """
        from tfp_flows.models.waveglow_nvidia import from_nvidia

        return from_nvidia(path, cls, **overrides)

    # ------------------------------------------------------------------ densities
    def _log_prob_folded(self, y, mel):
        length = tf.shape(y)[-1]
        flow = self._flow(self._condition(mel, length))
        z = flow.forward(y)
        log_det = flow.forward_log_det_jacobian(y, event_ndims=1)
        base = tf.reduce_sum(tfd.Normal(0.0, self.sigma).log_prob(z), axis=-1)
        return base + log_det

    @entry_point
    def log_prob(self, audio, mel) -> tf.Tensor:
        """Log-density of waveforms `audio` (float in [-1, 1], `[..., T]`) given `mel` `[..., n_mels, F]`; shape `[...]`."""
        y, mel, batch_shape = self._pair(audio, mel, "audio", dict(low=-1.0, high=1.0))
        return tf.reshape(self._log_prob_folded(y, mel), batch_shape)

    @entry_point
    def dequantize(self, x, noise: bool = True) -> tf.Tensor:
        """`y = (x + u) / 32768` of 16-bit levels `x` in [-32768, 32767], `u ~ U[0, 1)` or `1/2` (`noise=False`)."""
        u = keras.random.uniform(tf.shape(x), seed=self._noise) if noise else 0.5
        return (tf.cast(x, tf.float32) + u) / self.audio_scale

    def _levels(self):
        return dict(low=-self.audio_scale, high=self.audio_scale - 1, integer=True)

    def _bits_per_sample(self, log_prob, length):
        length = tf.cast(length, tf.float32)
        return -(log_prob - length * math.log(self.audio_scale)) / (length * math.log(2.0))

    @entry_point
    def bits_per_sample(self, audio, mel, noise: bool = False) -> tf.Tensor:
        """Bits per sample of 16-bit `audio` (integer levels, `[..., T]`) given `mel`; shape `[...]`.

        Deterministic by default (bin centres); `noise=True` dequantizes uniformly as in training.
        """
        x, mel, batch_shape = self._pair(audio, mel, "audio", self._levels())
        log_prob = self._log_prob_folded(self.dequantize(x, noise), mel)
        return tf.reshape(self._bits_per_sample(log_prob, tf.shape(x)[-1]), batch_shape)

    @entry_point
    def bits_per_dim(self, x, mel=None, noise: bool = False) -> tf.Tensor:
        """`bits_per_sample`; `x` may be a dict `{"audio", "mel"}` (a batch of `data.load`)."""
        audio, mel = _take_audio(x, mel)
        return self.bits_per_sample(audio, mel, noise=noise)

    @entry_point
    def call(self, inputs, training=False):
        audio, mel = _take_audio(inputs)
        return self.log_prob(audio, mel)

    # ------------------------------------------------------------------ latents (synthesis: _waveglow_synthesis)
    @entry_point
    def encode(self, audio, mel) -> tf.Tensor:
        """The latent `z` (`[..., T]`, early outputs included) of waveforms `audio` given `mel`."""
        y, mel, batch_shape = self._pair(audio, mel, "audio", dict(low=-1.0, high=1.0))
        z = self._flow(self._condition(mel, tf.shape(y)[-1])).forward(y)
        return tf.reshape(z, tf.shape(audio))

    def get_config(self):
        config = super().get_config()
        config.pop("event_shape")
        config.pop("prior")
        config.update(
            n_mels=self.n_mels, n_flows=self.n_flows, n_group=self.n_group, n_early_every=self.n_early_every,
            n_early_size=self.n_early_size, wn_layers=self.wn_layers, wn_channels=self.wn_channels,
            wn_kernel_size=self.wn_kernel_size, hop_length=self.hop_length, upsample_kernel=self.upsample_kernel,
            segment_length=self.segment_length, sigma=self.sigma, inference_sigma=self.inference_sigma,
            learning_rate=self.learning_rate, sample_rate=self.sample_rate, n_fft=self.n_fft,
            win_length=self.win_length, fmin=self.fmin, fmax=self.fmax, lu=self.lu, upsample_init=self.upsample_init,
            mel_center=self.mel_center,
        )
        return config


def _repeating_kernel(kernel_size: int, hop_length: int, n_mels: int) -> np.ndarray:
    """A transposed-conv kernel `[kernel, n_mels, n_mels]` that repeats each mel frame over its `hop` samples.

    Frame `t` of `data.audio.mel_spectrogram` is centred on sample `t * hop + hop / 2`; the transposed conv
    writes frame `t` to samples `t * hop + k`, so ones at `k < hop` give sample `s` the frame whose centre is
    nearest (`floor(s / hop)`). (A linear interpolation would need taps at `k < 0`.)
    """
    window = (np.arange(kernel_size) < hop_length).astype(np.float64)
    return (window[:, None, None] * np.eye(n_mels)[None]).astype(np.float32)
