"""RealNVP's coupling network: a ResNet whose log-scale output is tanh-bounded with a learned scale."""
from __future__ import annotations

import keras
from keras import ops

from tfp_flows import _checks
from tfp_flows.networks.mlp import check_context
from tfp_flows.networks.normalization import DataInitNorm


@keras.saving.register_keras_serializable(package="tfp_flows")
class ResidualBlock(keras.layers.Layer):
    """`x + conv3x3(relu(norm(conv3x3(relu(norm(x))))))`, pre-activation style.

    Args:
      filters: channels of the input, the two convolutions and the output.

    Raises:
      ValueError: from Keras, on an input whose channels differ from `filters`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import ResidualBlock
    >>> ResidualBlock(4)(tf.ones([1, 4, 4, 4])).shape
    TensorShape([1, 4, 4, 4])
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = _checks.integer("ResidualBlock", "filters", filters)
        self.norm1, self.norm2 = DataInitNorm(name="norm1"), DataInitNorm(name="norm2")
        self.conv1 = keras.layers.Conv2D(filters, 3, padding="same", name="conv1")
        self.conv2 = keras.layers.Conv2D(filters, 3, padding="same", name="conv2")

    def build(self, input_shape):
        for layer in (self.norm1, self.conv1, self.norm2, self.conv2):
            layer.build(tuple(input_shape[:-1]) + (self.filters,))
        self.built = True

    def call(self, x):
        h = self.conv1(ops.relu(self.norm1(x)))
        return x + self.conv2(ops.relu(self.norm2(h)))

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config


@keras.saving.register_keras_serializable(package="tfp_flows")
class RealNVPResNet(keras.layers.Layer):
    """conv3x3 -> `res_blocks` residual blocks -> norm -> ReLU -> zero-initialised conv3x3.

    Outputs `concat(shift, log_scale)` with `out_channels // 2` channels each, where
    `log_scale = scale * tanh(h)` and `scale` is a learned per-channel factor (Dinh et al.
    2016): bounded, so `AffineCoupling(..., scale_fn="exp")` stays stable. With
    `affine_head=False` the zero conv's output is returned as is (spline couplings).

    `context_dim=C > 0` conditions it: `call(x, conditional_input=c)` (`c`: `[N, C]`)
    adds a learned per-channel bias `W c` (zero-initialised) after the input convolution.

    Args:
      out_channels: even number of output channels (shift and log-scale halves).
      res_blocks: the number of residual blocks (8 in the paper's CIFAR-10 model).
      filters: the feature maps of every block (64 in the paper).
      affine_head: bound the log-scale half with a learned `scale * tanh`.
      context_dim: `C > 0` adds a learned per-channel bias `W c` from `conditional_input` `[N, C]`.

    Raises:
      ValueError: an odd `out_channels`, `res_blocks < 0`, `filters < 1` or `context_dim < 0`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import RealNVPResNet
    >>> RealNVPResNet(out_channels=2, res_blocks=1, filters=4)(tf.ones([2, 4, 4, 1])).shape
    TensorShape([2, 4, 4, 2])
    """

    def __init__(
        self, out_channels: int, res_blocks: int = 8, filters: int = 64, affine_head: bool = True, context_dim: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(context_dim, int) or context_dim < 0:
            raise ValueError(f"RealNVPResNet: expected context_dim >= 0, got {context_dim!r}.")
        self.context_dim = context_dim
        self.context_proj = (
            keras.layers.Dense(filters, use_bias=False, kernel_initializer="zeros", name="context_proj") if context_dim else None
        )
        if not isinstance(out_channels, int) or out_channels < 1 or (affine_head and (out_channels < 2 or out_channels % 2)):
            raise ValueError(f"RealNVPResNet: expected an even out_channels >= 2, got {out_channels!r}.")
        _checks.boolean("RealNVPResNet", "affine_head", affine_head)
        if isinstance(res_blocks, bool) or not isinstance(res_blocks, int) or res_blocks < 0:
            raise ValueError(f"RealNVPResNet: expected res_blocks >= 0, got {res_blocks!r}.")
        if not isinstance(filters, int) or filters < 1:
            raise ValueError(f"RealNVPResNet: expected filters >= 1, got {filters!r}.")
        self.out_channels, self.res_blocks, self.filters = out_channels, res_blocks, filters
        self.affine_head = bool(affine_head)
        self.conv_in = keras.layers.Conv2D(filters, 3, padding="same", name="conv_in")
        self.blocks = [ResidualBlock(filters, name=f"block_{i}") for i in range(res_blocks)]
        self.norm_out = DataInitNorm(name="norm_out")
        self.conv_out = keras.layers.Conv2D(out_channels, 3, padding="same", kernel_initializer="zeros", name="conv_out")

    def build(self, input_shape):
        self.conv_in.build(tuple(input_shape))
        hidden = tuple(input_shape[:-1]) + (self.filters,)
        for layer in self.blocks + [self.norm_out, self.conv_out]:
            layer.build(hidden)
        if self.affine_head:
            self.scale = self.add_weight(shape=(self.out_channels // 2,), initializer="ones", name="scale")
        if self.context_proj is not None:
            self.context_proj.build((None, self.context_dim))
        self.built = True

    def call(self, x, conditional_input=None):
        check_context(conditional_input, self.context_dim, "RealNVPResNet")
        h = self.conv_in(x)
        if self.context_proj is not None:
            h = h + ops.cast(self.context_proj(conditional_input), h.dtype)[:, None, None, :]
        for block in self.blocks:
            h = block(h)
        out = self.conv_out(ops.relu(self.norm_out(h)))
        if not self.affine_head:
            return out
        shift, raw = ops.split(out, 2, axis=-1)
        return ops.concatenate([shift, ops.cast(self.scale, raw.dtype) * ops.tanh(raw)], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(out_channels=self.out_channels, res_blocks=self.res_blocks, filters=self.filters, affine_head=self.affine_head,
                      context_dim=self.context_dim)
        return config
