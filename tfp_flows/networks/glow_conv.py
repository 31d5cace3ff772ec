"""Glow's coupling network, its zero-initialised output convolution and its split prior (openai/glow)."""
from __future__ import annotations

import math

import keras
from keras import ops

from tfp_flows import _checks
from tfp_flows.networks.mlp import check_context
from tfp_flows.networks.normalization import DataInitNorm


@keras.saving.register_keras_serializable(package="tfp_flows")
class ZeroConv2D(keras.layers.Layer):
    """openai/glow's `conv2d_zeros`: a zero-initialised conv whose output is scaled by `exp(3 * logs)`.

    Starting at zero makes every coupling the identity map (additive) or a fixed
    scaling (affine), and the split prior a standard normal; the learned per-channel
    `logs` lets the output grow quickly once training starts.

    `initial_scale`: the multiplier `exp(3 * logs)` at the start (`logs = log(initial_scale) / 3`).
    The output is zero whatever it is; it sets how far the first optimizer steps move the
    output. openai/glow starts at 1 and trains with a learning-rate warmup; without one,
    Adam's first steps move every weight by the full learning rate, so the output moves by
    about `lr * sum(|inputs|)` (~0.5 per step for 128 ActNorm'd ReLU channels, 3x3): a
    32x32x3 Glow trained with `Adam(1e-3)` then jumped from 6.8 to 17 bits/dim at step 2
    and stayed ~0.3 bits/dim behind after 300 steps. 0.3 (the default) removed the jump
    and the gap; 0.1 also removed it but learned slower at 8x8 (`benchmarks/compare_peers.py`).

    `context_dim=C > 0`: `call(x, conditional_input=c)` adds `W c` (zero-initialised,
    per channel) to the output: openai/glow's `split2d_prior` with `ycond`
    (`h += linear_zeros(y_onehot)`).

    Args:
      filters: output channels.
      kernel_size: square kernel size ("same" padding).
      context_dim: `C > 0` adds a learned per-channel bias `W c` from `conditional_input` `[N, C]`.

    Raises:
      ValueError: `filters < 1` or `context_dim < 0`; when called, a missing or unexpected `conditional_input`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import ZeroConv2D
    >>> float(tf.reduce_max(tf.abs(ZeroConv2D(6)(tf.ones([1, 4, 4, 2])))))  # zero-initialised
    0.0
    """

    def __init__(self, filters: int, kernel_size: int = 3, context_dim: int = 0, initial_scale: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.initial_scale = _checks.number("ZeroConv2D", "initial_scale", initial_scale, 0.0, low_open=True)
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"ZeroConv2D: expected filters >= 1, got {filters!r}.")
        if not isinstance(context_dim, int) or context_dim < 0:
            raise ValueError(f"ZeroConv2D: expected context_dim >= 0, got {context_dim!r}.")
        self.filters, self.kernel_size, self.context_dim = filters, kernel_size, context_dim
        self.conv = keras.layers.Conv2D(filters, kernel_size, padding="same", kernel_initializer="zeros", name="conv")
        self.context_proj = (
            keras.layers.Dense(filters, use_bias=False, kernel_initializer="zeros", name="context_proj") if context_dim else None
        )

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.logs = self.add_weight(
            shape=(self.filters,), initializer=keras.initializers.Constant(math.log(self.initial_scale) / 3.0), name="logs",
        )
        if self.context_proj is not None:
            self.context_proj.build((None, self.context_dim))
        self.built = True

    def call(self, x, conditional_input=None):
        check_context(conditional_input, self.context_dim, "ZeroConv2D")
        out = self.conv(x) * ops.exp(ops.cast(self.logs, self.compute_dtype) * 3.0)
        if self.context_proj is not None:
            out = out + ops.cast(self.context_proj(conditional_input), out.dtype)[:, None, None, :]
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters, kernel_size=self.kernel_size, context_dim=self.context_dim, initial_scale=self.initial_scale,
        )
        return config


@keras.saving.register_keras_serializable(package="tfp_flows")
class SplitPrior(ZeroConv2D):
    """openai/glow's `split2d_prior` with a bounded scale: the learned prior of a factored-out half.

    A zero-initialised conv of the kept half `h` gives `2F` channels: the mean `mu` of the
    factored half (the first `F`) and its raw log-scale `s` (the last `F`), returned as
    `[mu, clamp * tanh(s / clamp)]` (what `FactorOut`'s `prior` returns). The soft clamp
    keeps the prior's standard deviation in `(exp(-clamp), exp(clamp))`, so at the start it
    is openai/glow's prior (the identity near zero) and it cannot sharpen without bound on
    channels that the kept half predicts well: with an unbounded log-scale a Glow trained
    with Adam 1e-3 on 8x8 photograph crops jumped by 1.2-1.9 training bits/dim at times and
    ended 0.09 bits/dim worse after 1,000 steps, with twice the seed-to-seed spread
    (`benchmarks/compare_peers.py`).
    `clamp=None` gives openai/glow's unbounded prior.

    `context_dim=C > 0`: a per-class (or per-context) bias on both outputs, as `ZeroConv2D`.

    Args:
      filters: `2F`, the mean and the log-scale of the `F` factored-out channels.
      kernel_size: of the convolution over the kept half.
      context_dim: width of a context / one-hot label (0: none).
      clamp: bound of the log-scale (`None`: unbounded, openai/glow's).
      initial_scale: as `ZeroConv2D`.

    Raises:
      ValueError: an odd or non-positive `filters`, `clamp <= 0`, or a bad `context_dim` / `initial_scale`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import SplitPrior
    >>> prior = SplitPrior(filters=4)
    >>> prior(tf.zeros([1, 2, 2, 3])).shape  # [mu, log_scale] of 2 channels, N(0, 1) at the start
    TensorShape([1, 2, 2, 4])
    """

    def __init__(self, filters: int, kernel_size: int = 3, context_dim: int = 0, clamp: float | None = 2.0, **kwargs):
        if not isinstance(filters, int) or filters < 2 or filters % 2:
            raise ValueError(f"SplitPrior: expected an even filters >= 2 (a mean and a log-scale per channel), got {filters!r}.")
        if clamp is not None and (isinstance(clamp, bool) or not isinstance(clamp, (int, float)) or not clamp > 0):
            raise ValueError(f"SplitPrior: expected clamp > 0 or None, got {clamp!r}.")
        super().__init__(filters, kernel_size, context_dim, **kwargs)
        self.clamp = None if clamp is None else float(clamp)

    def call(self, x, conditional_input=None):
        out = super().call(x, conditional_input)
        if self.clamp is None:
            return out
        mean, log_scale = ops.split(out, 2, axis=-1)
        return ops.concatenate([mean, self.clamp * ops.tanh(log_scale / self.clamp)], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(clamp=self.clamp)
        return config


# The starting output multiplier of a Glow's coupling networks (`glow_initial_scale`). Measured with
# Adam(1e-3), no warmup, on photograph crops (benchmarks/compare_peers.py and the note of issue 28):
# the first step jumped at 32x32x3 (L3 K8 w128, 24 couplings) from a start of 0.6 (6.6 -> 12 bits/dim)
# but not from 0.3; at 8x8 (L2 K4 w64, 8 couplings) a start of 0.6 learned faster than 0.3 and more
# smoothly than 1.
MAX_INITIAL_SCALE = 0.6
FIRST_STEP_BUDGET = 900.0


def glow_initial_scale(hidden_channels: int, couplings: int) -> float:
    """The starting multiplier of the coupling networks' zero convs for a Glow of this size.

    Adam's first step moves every weight of a zero-initialised output conv by the full
    learning rate, with the gradient's sign, so each coupling's output moves by about
    `lr * initial_scale * sum(|h|)`, a sum over the `9 * hidden_channels` ActNorm'd inputs,
    and the log-density by the sum of that over the `couplings`. Keeping
    `initial_scale * hidden_channels * couplings` at most `FIRST_STEP_BUDGET` bounds that
    first move whatever the model's size; `MAX_INITIAL_SCALE` caps small models, whose
    training was bumpier from larger starts. Both constants are measured, not derived.

    Args:
      hidden_channels: width of the coupling networks.
      couplings: how many coupling networks the flow has (`levels * steps`).

    Raises:
      ValueError: a non-positive `hidden_channels` or `couplings`.

    >>> glow_initial_scale(hidden_channels=64, couplings=8)  # 8x8: levels 2, steps 4
    0.6
    >>> round(glow_initial_scale(hidden_channels=128, couplings=24), 3)  # 32x32x3: levels 3, steps 8
    0.293
    """
    for key, value in dict(hidden_channels=hidden_channels, couplings=couplings).items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"glow_initial_scale: expected {key} >= 1, got {value!r}.")
    return min(MAX_INITIAL_SCALE, FIRST_STEP_BUDGET / (hidden_channels * couplings))


@keras.saving.register_keras_serializable(package="tfp_flows")
class GlowConvNet(keras.layers.Layer):
    """conv3x3 -> ActNorm -> ReLU -> conv1x1 -> ActNorm -> ReLU -> zero-initialised conv3x3.

    The hidden convolutions have no bias: a data-initialised ActNorm follows each, as in
    openai/glow's `conv2d(..., do_actnorm=True)`.

    `context_dim=C > 0` conditions it: `call(x, conditional_input=c)` (`c`: `[N, C]`, a
    one-hot label or a context) adds a learned per-channel bias `W c` (zero-initialised)
    to the first hidden layer, after its ActNorm.

    Args:
      out_channels: channels of the output (the coupling's parameters).
      hidden_channels: width of the two hidden convolutions (512 in the paper).
      context_dim: `C > 0` adds a learned per-channel bias `W c` from `conditional_input` `[N, C]`.
      initial_scale: the output convolution's starting multiplier (`ZeroConv2D`); `Glow` picks it
        from its size (`glow_initial_scale`).

    Raises:
      ValueError: a non-positive size or `initial_scale`, or a negative `context_dim`; when called, a missing
        or unexpected `conditional_input`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import GlowConvNet
    >>> GlowConvNet(out_channels=4, hidden_channels=8)(tf.ones([2, 4, 4, 2])).shape
    TensorShape([2, 4, 4, 4])
    """

    def __init__(
        self, out_channels: int, hidden_channels: int = 512, context_dim: int = 0, initial_scale: float = 0.3, **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(context_dim, int) or context_dim < 0:
            raise ValueError(f"GlowConvNet: expected context_dim >= 0, got {context_dim!r}.")
        self.context_dim = context_dim
        self.context_proj = (
            keras.layers.Dense(hidden_channels, use_bias=False, kernel_initializer="zeros", name="context_proj")
            if context_dim else None
        )
        for key, value in dict(out_channels=out_channels, hidden_channels=hidden_channels).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"GlowConvNet: expected {key} >= 1, got {value!r}.")
        self.out_channels, self.hidden_channels = out_channels, hidden_channels
        self.conv_in = keras.layers.Conv2D(hidden_channels, 3, padding="same", use_bias=False, name="conv_in")
        self.norm_in = DataInitNorm(name="norm_in")
        self.conv_mid = keras.layers.Conv2D(hidden_channels, 1, padding="same", use_bias=False, name="conv_mid")
        self.norm_mid = DataInitNorm(name="norm_mid")
        self.conv_out = ZeroConv2D(out_channels, 3, initial_scale=initial_scale, name="conv_out")
        self.initial_scale = self.conv_out.initial_scale

    def build(self, input_shape):
        shape = tuple(input_shape)
        hidden = shape[:-1] + (self.hidden_channels,)
        self.conv_in.build(shape)
        self.norm_in.build(hidden)
        self.conv_mid.build(hidden)
        self.norm_mid.build(hidden)
        self.conv_out.build(hidden)
        if self.context_proj is not None:
            self.context_proj.build((None, self.context_dim))
        self.built = True

    def call(self, x, conditional_input=None):
        check_context(conditional_input, self.context_dim, "GlowConvNet")
        h = self.norm_in(self.conv_in(x))
        if self.context_proj is not None:
            h = h + ops.cast(self.context_proj(conditional_input), h.dtype)[:, None, None, :]
        h = ops.relu(h)
        h = ops.relu(self.norm_mid(self.conv_mid(h)))
        return self.conv_out(h)

    def get_config(self):
        config = super().get_config()
        config.update(
            out_channels=self.out_channels, hidden_channels=self.hidden_channels, context_dim=self.context_dim,
            initial_scale=self.initial_scale,
        )
        return config
