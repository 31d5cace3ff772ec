"""WaveGlow's WN conditioner (a non-causal WaveNet) and its mel upsampler (NVIDIA/waveglow, glow.py)."""
from __future__ import annotations

import keras
import tensorflow as tf
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

    `call(x, cond, fused=True)` computes the same function rearranged for speed (see `_fused_call`);
    `WaveGlow` synthesis (`infer`, `decode`) uses it; densities and training use the plain form.

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

    def call(self, x, cond, fused: bool = False):
        if fused:
            return self._fused_call(x, cond)
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

    def _fused_call(self, x, cond):
        """`call` rearranged for speed, exactly the same function (up to float rounding):

        * the start conv has `C_a` inputs: the first dilated conv is applied to `[x_a, 1]` with the start conv
          folded into its kernel (`C_a + 1` input channels instead of `n_channels`);
        * the end conv is linear: it is folded into every layer's skip outputs (`out_channels` columns instead
          of `n_channels`), and the skip sum is taken of those;
        * each layer's share of the conditioning conv is its own matmul (no `[T', 2 n_channels n_layers]`
          intermediate to slice);
        * the dilated convs (kernel 3) use Winograd's F(2, 3) per dilation phase: 4 matmuls for 2 outputs
          where a direct conv does 6 (Lavin & Gray 2016); other kernels one matmul of the shifted copies.
        """
        dtype = self.compute_dtype
        x, cond = tf.cast(x, dtype), tf.cast(cond, dtype)
        weight = lambda v: tf.cast(v, tf.float32)  # noqa: E731  folds in float32, then the compute dtype
        channels = self.n_channels
        start = tf.concat([weight(self.start.kernel)[0], weight(self.start.bias)[None]], 0)  # [C_a + 1, C]
        x_one = tf.concat([x, tf.ones_like(x[..., :1])], -1)
        audio = _dense(x_one, tf.cast(start, dtype))  # = start(x)
        end, end_bias = weight(self.end.kernel)[0], weight(self.end.bias)
        cond_kernel, cond_bias = weight(self.cond_layer.kernel)[0], weight(self.cond_layer.bias)
        skip = None
        for i in range(self.n_layers):
            columns = slice(2 * channels * i, 2 * channels * (i + 1))
            kernel, dilation = weight(self.in_layers[i].kernel), 2**i
            if i == 0:
                acts = _dilated(x_one, tf.cast(tf.einsum("hc,kco->kho", start, kernel), dtype), dilation)
            else:
                acts = _dilated(audio, tf.cast(kernel, dtype), dilation)
            bias = weight(self.in_layers[i].bias) + cond_bias[columns]
            acts = acts + _dense(cond, tf.cast(cond_kernel[:, columns], dtype)) + tf.cast(bias, dtype)
            acts = tf.tanh(acts[..., :channels]) * tf.sigmoid(acts[..., channels:])
            res_skip, res_skip_bias = weight(self.res_skip_layers[i].kernel)[0], weight(self.res_skip_layers[i].bias)
            if i < self.n_layers - 1:
                kernel = tf.concat([res_skip[:, :channels], res_skip[:, channels:] @ end], 1)
                bias = tf.concat([res_skip_bias[:channels], tf.linalg.matvec(end, res_skip_bias[channels:], transpose_a=True)], 0)
            else:
                kernel, bias = res_skip @ end, tf.linalg.matvec(end, res_skip_bias, transpose_a=True)
            out = _dense(acts, tf.cast(kernel, dtype)) + tf.cast(bias, dtype)
            if i < self.n_layers - 1:
                audio = audio + out[..., :channels]
                out = out[..., channels:]
            skip = out if skip is None else skip + out
        return skip + tf.cast(end_bias, dtype)

    def get_config(self):
        config = super().get_config()
        config.update(out_channels=self.out_channels, n_layers=self.n_layers, n_channels=self.n_channels, kernel_size=self.kernel_size)
        return config


def _dense(x, kernel):
    """`x [..., C_in] @ kernel [C_in, C_out]` as one 2-D matmul (a 1x1 conv)."""
    out = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], 0))


def _dilated(x, kernel, dilation: int):
    """`y[:, t] = sum_k x[:, t + (k - (K - 1) / 2) dilation] @ kernel[k]` (zero padding: Keras' "same", odd K)."""
    if kernel.shape[0] == 3:
        # Tiles of 2 x dilation samples: on sequences shorter than ~4 x dilation some hold padding only, a waste
        # bounded by ~4 x dilation rows of matmul, small next to any long sequence's cost.
        return _winograd_f23(x, kernel, dilation)
    return _im2col(x, kernel, dilation)


def _im2col(x, kernel, dilation: int):
    """The direct dilated conv: the K shifted copies side by side, one matmul with the `[K * C_in, C_out]` kernel."""
    taps, length = kernel.shape[0], tf.shape(x)[1]
    half = (taps - 1) // 2 * dilation
    padded = tf.pad(x, [[0, 0], [half, half], [0, 0]])
    columns = tf.concat([padded[:, k * dilation : k * dilation + length] for k in range(taps)], -1)
    return _dense(columns, tf.reshape(kernel, [-1, kernel.shape[-1]]))


def _winograd_f23(x, kernel, dilation: int):
    """The kernel-3 dilated conv by Winograd's F(2, 3) on each of the `dilation` interleaved subsequences.

    Outputs `t = (2 b + s) d + r` (`s` = 0, 1) of tile `b`, phase `r`, need the padded inputs `p_j = p[(2 b + j)
    d + r]`, `j` = 0..3 (`p` = `x` with `d` zeros in front). With `g_k = kernel[k]`:
    `m_0 = (p_0 - p_2) g_0`, `m_1 = (p_1 + p_2) (g_0 + g_1 + g_2) / 2`, `m_2 = (p_2 - p_1) (g_0 - g_1 + g_2) / 2`,
    `m_3 = (p_1 - p_3) g_2`; `y_0 = m_0 + m_1 + m_2`, `y_1 = m_1 - m_2 - m_3`.
    """
    d = dilation
    length, channels = tf.shape(x)[1], x.shape[-1]
    tiles = (length + 2 * d - 1) // (2 * d)
    padded = tf.pad(x, [[0, 0], [d, 2 * d * tiles - length + d], [0, 0]])
    blocks = tf.reshape(padded, tf.stack([-1, tiles + 1, 2, d, channels]))
    p0, p1, p2, p3 = blocks[:, :-1, 0], blocks[:, :-1, 1], blocks[:, 1:, 0], blocks[:, 1:, 1]
    g0, g1, g2 = kernel[0], kernel[1], kernel[2]
    m0 = _dense(p0 - p2, g0)
    m1 = _dense(p1 + p2, (g0 + g1 + g2) / 2)
    m2 = _dense(p2 - p1, (g0 - g1 + g2) / 2)
    m3 = _dense(p1 - p3, g2)
    y = tf.stack([m0 + m1 + m2, m1 - m2 - m3], axis=2)  # [N, tiles, 2, d, C_out]: samples (2 b + s) d + r
    return tf.reshape(y, tf.stack([-1, 2 * d * tiles, kernel.shape[-1]]))[:, :length]
