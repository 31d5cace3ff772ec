"""Glow's coupling network and its zero-initialised output convolution (openai/glow)."""
from __future__ import annotations

import keras
from keras import ops

from tfp_flows.networks.mlp import check_context
from tfp_flows.networks.normalization import DataInitNorm


@keras.saving.register_keras_serializable(package="tfp_flows")
class ZeroConv2D(keras.layers.Layer):
    """openai/glow's `conv2d_zeros`: a zero-initialised conv whose output is scaled by `exp(3 * logs)`.

    Starting at zero makes every coupling the identity map (additive) or a fixed
    scaling (affine), and the split prior a standard normal; the learned per-channel
    `logs` lets the output grow quickly once training starts.

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

    def __init__(self, filters: int, kernel_size: int = 3, context_dim: int = 0, **kwargs):
        super().__init__(**kwargs)
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
        self.logs = self.add_weight(shape=(self.filters,), initializer="zeros", name="logs")
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
        config.update(filters=self.filters, kernel_size=self.kernel_size, context_dim=self.context_dim)
        return config


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

    Raises:
      ValueError: a non-positive size or a negative `context_dim`; when called, a missing or unexpected
        `conditional_input`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import GlowConvNet
    >>> GlowConvNet(out_channels=4, hidden_channels=8)(tf.ones([2, 4, 4, 2])).shape
    TensorShape([2, 4, 4, 4])
    """

    def __init__(self, out_channels: int, hidden_channels: int = 512, context_dim: int = 0, **kwargs):
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
        self.conv_out = ZeroConv2D(out_channels, 3, name="conv_out")

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
        config.update(out_channels=self.out_channels, hidden_channels=self.hidden_channels, context_dim=self.context_dim)
        return config
