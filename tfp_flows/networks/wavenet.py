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

    def call(self, x, cond, fused: bool = False, chunk_steps: int | None = None):
        if chunk_steps is not None:
            if not fused:
                raise ValueError("WaveNet: chunk_steps applies to the fused formulation (synthesis); pass fused=True.")
            _positive_int("WaveNet", chunk_steps=chunk_steps)
        if fused:
            return self._fused_call(x, cond, chunk_steps)
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

    def _fused_call(self, x, cond, chunk_steps: int | None = None):
        """`call` rearranged for speed, exactly the same function (up to float rounding):

        * the start conv has `C_a` inputs: the first dilated conv is applied to `[x_a, 1]` with the start conv
          folded into its kernel (`C_a + 1` input channels instead of `n_channels`);
        * the end conv is linear: it is folded into every layer's skip outputs (`out_channels` columns instead
          of `n_channels`), and the skip sum is taken of those;
        * each layer's share of the conditioning conv is its own matmul (no `[T', 2 n_channels n_layers]`
          intermediate to slice);
        * the dilated convs (kernel 3) use Winograd's F(2, 3) per dilation phase: 4 matmuls for 2 outputs
          where a direct conv does 6 (Lavin & Gray 2016); other kernels one matmul of the shifted copies;
        * `chunk_steps`: each layer runs over the time axis in chunks of that many steps, one after another;
          a chunk's dilated conv reads the `(K - 1) / 2 * dilation` steps it needs each side from the layer's
          input. Only a layer's input and output (`n_channels` wide) span the whole sequence; the wide
          intermediates (gates, conditioning, Winograd terms: `2 n_channels` wide and more) are a chunk's, and
          nothing is computed twice. Without it, they span the whole sequence: 10 s of 22 kHz audio through
          the full-size WaveGlow then streams gigabytes through memory, and runs slower.
        """
        dtype = self.compute_dtype
        x, cond = tf.cast(x, dtype), tf.cast(cond, dtype)
        start, layers = self._fused_weights()
        x_one = tf.concat([x, tf.ones_like(x[..., :1])], -1)
        length = tf.shape(x_one)[1]
        audio = skip = None
        for i, layer in enumerate(layers):
            def step(begin, end, i=i, layer=layer, audio=audio):
                return self._fused_layer(i, layer, start, x_one, audio, cond, begin, end, length)

            if chunk_steps is None:
                audio_next, out = step(0, length)
            else:
                last = i == self.n_layers - 1
                widths = (None if last else self.n_channels, layer["out"].shape[-1] - (0 if last else self.n_channels))
                audio_next, out = _in_chunks(step, length, chunk_steps, widths, dtype)
            skip = out if skip is None else skip + out
            audio = audio_next
        return skip

    def _fused_weights(self) -> tuple[tf.Tensor, list[dict]]:
        """The start kernel `[C_a + 1, C]` (bias as last row) and each layer's folded kernels and biases (see
        `_fused_call`), in the compute dtype: computed once per call, shared by its chunks."""
        dtype = self.compute_dtype
        weight = lambda v: tf.cast(v, tf.float32)  # noqa: E731  folds in float32, then the compute dtype
        channels = self.n_channels
        start = tf.concat([weight(self.start.kernel)[0], weight(self.start.bias)[None]], 0)  # [C_a + 1, C]
        end, end_bias = weight(self.end.kernel)[0], weight(self.end.bias)
        cond_kernel, cond_bias = weight(self.cond_layer.kernel)[0], weight(self.cond_layer.bias)
        layers = []
        for i in range(self.n_layers):
            columns = slice(2 * channels * i, 2 * channels * (i + 1))
            kernel = weight(self.in_layers[i].kernel)
            if i == 0:  # applied to [x_a, 1]: the start conv folded in
                kernel = tf.einsum("hc,kco->kho", start, kernel)
            in_bias = weight(self.in_layers[i].bias) + cond_bias[columns]
            res_skip, res_skip_bias = weight(self.res_skip_layers[i].kernel)[0], weight(self.res_skip_layers[i].bias)
            if i < self.n_layers - 1:
                out = tf.concat([res_skip[:, :channels], res_skip[:, channels:] @ end], 1)
                out_bias = tf.concat([res_skip_bias[:channels], tf.linalg.matvec(end, res_skip_bias[channels:], transpose_a=True)], 0)
            else:  # the end conv's bias joins the last skip part
                out, out_bias = res_skip @ end, tf.linalg.matvec(end, res_skip_bias, transpose_a=True) + end_bias
            values = dict(kernel=kernel, cond=cond_kernel[:, columns], in_bias=in_bias, out=out, out_bias=out_bias)
            layers.append({key: tf.cast(value, dtype) for key, value in values.items()})
        return tf.cast(start, dtype), layers

    def _fused_layer(self, i, layer, start, x_one, audio, cond, begin, end, length):
        """Fused layer `i` on steps `[begin, end)`: (its residual output `audio + res` there, None for the last
        layer; its skip part there). `audio` is the layer's input over the whole sequence (None for layer 0,
        which reads `x_one` = `[x_a, 1]` through the folded start conv)."""
        channels, dilation = self.n_channels, 2**i
        reach = (self.kernel_size - 1) // 2 * dilation
        source = x_one if i == 0 else audio
        low, high = tf.maximum(begin - reach, 0), tf.minimum(end + reach, length)  # zeros beyond the sequence
        acts = _dilated(source[:, low:high], layer["kernel"], dilation, (reach - (begin - low), reach - (high - end)))
        acts = acts + _dense(cond[:, begin:end], layer["cond"]) + layer["in_bias"]
        acts = tf.tanh(acts[..., :channels]) * tf.sigmoid(acts[..., channels:])
        out = _dense(acts, layer["out"]) + layer["out_bias"]
        if i == self.n_layers - 1:
            return None, out
        here = _dense(x_one[:, begin:end], start) if i == 0 else audio[:, begin:end]  # = start(x) for layer 0
        return here + out[..., :channels], out[..., channels:]

    def get_config(self):
        config = super().get_config()
        config.update(out_channels=self.out_channels, n_layers=self.n_layers, n_channels=self.n_channels, kernel_size=self.kernel_size)
        return config


def _in_chunks(step, length, chunk_steps: int, widths, dtype):
    """`step(begin, end)` -> `(a, b)` (`[N, end - begin, width]` each, `a` None if its width is None) over
    `[0, length)` in chunks of `chunk_steps`, one after another (`parallel_iterations=1`: one chunk's
    intermediates alive at a time), concatenated along the time axis."""
    count = tf.maximum((length + chunk_steps - 1) // chunk_steps, 1)
    kept = [k for k, width in enumerate(widths) if width is not None]

    def body(j, *parts):
        begin = j * chunk_steps
        outputs = step(begin, tf.minimum(begin + chunk_steps, length))
        # time first: the chunks concatenate along it
        return (j + 1, *(part.write(j, tf.transpose(outputs[k], [1, 0, 2])) for part, k in zip(parts, kept)))

    parts = [tf.TensorArray(dtype, size=count, infer_shape=False, element_shape=[None, None, widths[k]]) for k in kept]
    parts = tf.while_loop(lambda j, *_: j < count, body, [tf.constant(0), *parts], parallel_iterations=1)[1:]
    results = iter(tf.transpose(part.concat(), [1, 0, 2]) for part in parts)
    return tuple(None if width is None else next(results) for width in widths)


def _dense(x, kernel):
    """`x [..., C_in] @ kernel [C_in, C_out]` as one 2-D matmul (a 1x1 conv)."""
    out = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), kernel)
    return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [kernel.shape[-1]]], 0))


def _dilated(x, kernel, dilation: int, padding=None):
    """`y[:, t] = sum_k p[:, t + k dilation] @ kernel[k]`, `p` = `x` with `padding = (left, right)` zero steps
    (default `(K - 1) / 2 * dilation` each side: Keras' "same" for an odd K); `len(x) + left + right - (K - 1) dilation`
    outputs."""
    reach = (kernel.shape[0] - 1) // 2 * dilation
    left, right = (reach, reach) if padding is None else padding
    if kernel.shape[0] == 3:
        # Tiles of 2 x dilation samples: on sequences shorter than ~4 x dilation some hold padding only, a waste
        # bounded by ~4 x dilation rows of matmul, small next to any long sequence's cost.
        return _winograd_f23(x, kernel, dilation, left, right)
    return _im2col(x, kernel, dilation, left, right)


def _im2col(x, kernel, dilation: int, left, right):
    """The direct dilated conv: the K shifted copies side by side, one matmul with the `[K * C_in, C_out]` kernel."""
    taps = kernel.shape[0]
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]])
    length = tf.shape(padded)[1] - (taps - 1) * dilation
    columns = tf.concat([padded[:, k * dilation : k * dilation + length] for k in range(taps)], -1)
    return _dense(columns, tf.reshape(kernel, [-1, kernel.shape[-1]]))


def _winograd_f23(x, kernel, dilation: int, left, right):
    """The kernel-3 dilated conv by Winograd's F(2, 3) on each of the `dilation` interleaved subsequences.

    Outputs `t = (2 b + s) d + r` (`s` = 0, 1) of tile `b`, phase `r`, need the padded inputs `p_j = p[(2 b + j)
    d + r]`, `j` = 0..3 (`p` = `x` with `left` zeros in front, zeros behind up to whole tiles). With `g_k = kernel[k]`:
    `m_0 = (p_0 - p_2) g_0`, `m_1 = (p_1 + p_2) (g_0 + g_1 + g_2) / 2`, `m_2 = (p_2 - p_1) (g_0 - g_1 + g_2) / 2`,
    `m_3 = (p_1 - p_3) g_2`; `y_0 = m_0 + m_1 + m_2`, `y_1 = m_1 - m_2 - m_3`.
    """
    d = dilation
    channels = x.shape[-1]
    length = tf.shape(x)[1] + left + right - 2 * d  # outputs
    tiles = (length + 2 * d - 1) // (2 * d)
    padded = tf.pad(x, [[0, 0], [left, 2 * d * (tiles + 1) - tf.shape(x)[1] - left], [0, 0]])
    blocks = tf.reshape(padded, tf.stack([-1, tiles + 1, 2, d, channels]))
    p0, p1, p2, p3 = blocks[:, :-1, 0], blocks[:, :-1, 1], blocks[:, 1:, 0], blocks[:, 1:, 1]
    g0, g1, g2 = kernel[0], kernel[1], kernel[2]
    m0 = _dense(p0 - p2, g0)
    m1 = _dense(p1 + p2, (g0 + g1 + g2) / 2)
    m2 = _dense(p2 - p1, (g0 - g1 + g2) / 2)
    m3 = _dense(p1 - p3, g2)
    y = tf.stack([m0 + m1 + m2, m1 - m2 - m3], axis=2)  # [N, tiles, 2, d, C_out]: samples (2 b + s) d + r
    return tf.reshape(y, tf.stack([-1, 2 * d * tiles, kernel.shape[-1]]))[:, :length]
