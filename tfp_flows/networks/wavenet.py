"""WaveGlow's WN conditioner (a non-causal WaveNet) and its mel upsampler (NVIDIA/waveglow, glow.py)."""
from __future__ import annotations

import keras
from keras import ops


def _positive_int(owner: str, **values) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{owner}: expected an integer {key} >= 1, got {value!r}.")


@keras.saving.register_keras_serializable(package="tfp_flows")
class WaveNet(keras.layers.Layer):
    """The coupling network of a WaveGlow flow: `(x_a [N, T', C_a], cond [N, T', M]) -> [N, T', out_channels]`.

    start 1x1 conv -> `n_layers` x [dilated conv (kernel `kernel_size`, dilation `2**i`,
    "same" padding, non-causal) + 1x1 conv of the conditioning -> `tanh(a) * sigmoid(b)`
    -> 1x1 conv to residual and skip parts] -> sum of skips -> zero-initialised 1x1 conv.

    The last conv starts at zero, so every affine coupling starts as the identity
    (NVIDIA: "helps with training stability"). The conditioning's 1x1 conv is one conv
    for all layers (`2 * n_channels * n_layers` outputs), sliced per layer, as NVIDIA's
    `cond_layer`. NVIDIA wraps the convs in weight normalisation; these are plain convs.

    Args:
      out_channels: channels of the output (the coupling's parameters).
      n_layers: dilated layers (dilations 1, 2, 4, ...).
      n_channels: residual and skip channels.
      kernel_size: odd kernel size of the dilated convolutions.

    Raises:
      ValueError: a non-positive size, or an even `kernel_size`.

    >>> import tensorflow as tf
    >>> from tfp_flows.networks import WaveNet
    >>> net = WaveNet(out_channels=4, n_layers=2, n_channels=8)
    >>> net(tf.zeros([2, 16, 2]), tf.zeros([2, 16, 5])).shape
    TensorShape([2, 16, 4])
    """

    def __init__(self, out_channels: int, n_layers: int = 8, n_channels: int = 256, kernel_size: int = 3, **kwargs):
        super().__init__(**kwargs)
        _positive_int("WaveNet", out_channels=out_channels, n_layers=n_layers, n_channels=n_channels, kernel_size=kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"WaveNet: expected an odd kernel_size (centred, non-causal convs), got {kernel_size}.")
        self.out_channels, self.n_layers, self.n_channels, self.kernel_size = out_channels, n_layers, n_channels, kernel_size
        self.start = keras.layers.Conv1D(n_channels, 1, name="start")
        self.cond_layer = keras.layers.Conv1D(2 * n_channels * n_layers, 1, name="cond")
        self.in_layers = [
            keras.layers.Conv1D(2 * n_channels, kernel_size, dilation_rate=2**i, padding="same", name=f"in_{i}")
            for i in range(n_layers)
        ]
        # The last layer has no residual output: only its skip part is used.
        self.res_skip_layers = [
            keras.layers.Conv1D(2 * n_channels if i < n_layers - 1 else n_channels, 1, name=f"res_skip_{i}")
            for i in range(n_layers)
        ]
        self.end = keras.layers.Conv1D(out_channels, 1, kernel_initializer="zeros", bias_initializer="zeros", name="end")

    def build(self, x_shape, cond_shape):
        x_shape, cond_shape = tuple(x_shape), tuple(cond_shape)
        hidden = x_shape[:-1] + (self.n_channels,)
        self.start.build(x_shape)
        self.cond_layer.build(cond_shape)
        for in_layer, res_skip in zip(self.in_layers, self.res_skip_layers):
            in_layer.build(hidden)
            res_skip.build(hidden)
        self.end.build(hidden)
        self.built = True

    def call(self, x, cond):
        x = ops.cast(x, self.compute_dtype)
        cond = self.cond_layer(ops.cast(cond, self.compute_dtype))
        audio = self.start(x)
        channels = self.n_channels
        skip = None
        for i in range(self.n_layers):
            acts = self.in_layers[i](audio) + cond[..., 2 * channels * i : 2 * channels * (i + 1)]
            acts = ops.tanh(acts[..., :channels]) * ops.sigmoid(acts[..., channels:])
            res_skip = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                audio = audio + res_skip[..., :channels]
                res_skip = res_skip[..., channels:]
            skip = res_skip if skip is None else skip + res_skip
        return self.end(skip)

    def get_config(self):
        config = super().get_config()
        config.update(out_channels=self.out_channels, n_layers=self.n_layers, n_channels=self.n_channels, kernel_size=self.kernel_size)
        return config
