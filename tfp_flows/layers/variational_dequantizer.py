"""Flow++'s variational dequantization (Ho et al. 2019): a conditional flow `q(u | x)` on `[0, 1)^D`."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors import AffineCoupling

tfb, tfd = tfp.bijectors, tfp.distributions


@keras.saving.register_keras_serializable(package="tfp_flows")
class VariationalDequantizer(keras.layers.Layer):
    """`q(u | x)`: the noise that dequantizes discrete images `x`, learned jointly with the model.

    `u = sigmoid(g(eps; x))`, `eps ~ N(0, I)` of the image's shape, where `g` is `couplings`
    affine couplings (checkerboard masks of alternating parity, soft-clamped scales) whose
    conditioners see the masked `eps` and features `h(x)` of the image (two 3x3 ReLU convs
    of `hidden_channels` on `x / num_bins - 1/2`). Then

      log q(u | x) = log N(eps; 0, I) - log|det dg/deps| - sum log sigmoid'(g(eps))

    and the model trains on `y = (x + u) / num_bins` with the variational bound
    `log P(x) >= E_q[log p(y) - D log(num_bins) - log q(u | x)]` (Ho et al. 2019, eq. 12).
    The coupling heads start at zero, so `q` starts as a logit-normal around 1/2.
    Images `(H, W, C)` only (the masks are checkerboards).

    Args:
      event_shape: the image shape `(H, W, C)`.
      num_bins: the number of levels of `x`.
      hidden_channels: width of the feature and coupling networks.
      couplings: the number of affine couplings of `g`.

    Raises:
      ValueError: an event shape that is not an image, `num_bins < 2`, or `hidden_channels`/`couplings`
        below 1.

    >>> import tensorflow as tf
    >>> from tfp_flows.layers import VariationalDequantizer
    >>> q = VariationalDequantizer(event_shape=(4, 4, 1), num_bins=17, hidden_channels=8)
    >>> u, log_q = q(tf.zeros([2, 4, 4, 1]))
    >>> u.shape, log_q.shape, bool(tf.reduce_all((u > 0) & (u < 1)))
    (TensorShape([2, 4, 4, 1]), TensorShape([2]), True)
    """

    def __init__(self, event_shape: Sequence[int], num_bins: int, hidden_channels: int = 32, couplings: int = 2, **kwargs):
        super().__init__(**kwargs)
        event_shape = _checks.shape("VariationalDequantizer", "event_shape", event_shape, ranks=(3,))
        if len(event_shape) != 3:
            raise ValueError(f"VariationalDequantizer: expected an image event shape (H, W, C), got {event_shape}.")
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or num_bins < 2:
            raise ValueError(f"VariationalDequantizer: expected num_bins >= 2, got {num_bins!r}.")
        for key, value in dict(hidden_channels=hidden_channels, couplings=couplings).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"VariationalDequantizer: expected {key} >= 1, got {value!r}.")
        self.event_shape, self.num_bins = event_shape, num_bins
        self.hidden_channels, self.num_couplings = hidden_channels, couplings
        channels = event_shape[-1]
        conv = lambda filters, name, **kw: keras.layers.Conv2D(filters, 3, padding="same", name=name, **kw)
        self.context_net = [conv(hidden_channels, "context_0", activation="relu"), conv(hidden_channels, "context_1", activation="relu")]
        self.coupling_nets = [
            [conv(hidden_channels, f"coupling_{i}_hidden", activation="relu"), conv(2 * channels, f"coupling_{i}_out", kernel_initializer="zeros")]
            for i in range(couplings)
        ]

    def build(self, input_shape=None):
        image = (None,) + self.event_shape
        hidden = (None,) + self.event_shape[:2] + (self.hidden_channels,)
        self.context_net[0].build(image)
        self.context_net[1].build(hidden)
        for inner, out in self.coupling_nets:
            inner.build(image[:-1] + (self.event_shape[-1] + self.hidden_channels,))
            out.build(hidden)
        self.built = True

    def _context(self, x):
        h = tf.cast(x, self.compute_dtype) / self.num_bins - 0.5
        for layer in self.context_net:
            h = layer(h)
        return h

    def bijector(self, x) -> tfb.Bijector:
        """`eps -> u` given discrete images `x` `[N, H, W, C]` (the context is computed once here)."""
        context = self._context(x)
        steps = []
        for i, (inner, out) in enumerate(self.coupling_nets):
            def net(e_a, inner=inner, out=out):
                return out(inner(tf.concat([tf.cast(e_a, context.dtype), context], axis=-1)))

            steps.append(AffineCoupling(net, "checkerboard", self.event_shape, parity=i % 2, scale_fn="soft_clamp"))
        return tfb.Chain([tfb.Sigmoid()] + steps[::-1])

    def base_distribution(self, dtype=tf.float32) -> tfd.Distribution:
        return tfd.Independent(tfd.Normal(tf.zeros(self.event_shape, dtype), 1.0), reinterpreted_batch_ndims=3)

    def sample_and_log_prob(self, x, seed=None, noise: bool = True):
        """`(u, log q(u | x))` for discrete images `x` `[N, H, W, C]`; `u` has `x`'s shape, `log q` is `[N]`.

        `noise=False` takes `eps = 0` (the base mode): a deterministic `u` for evaluation.
        """
        x = tf.convert_to_tensor(x, tf.float32)
        shape = tf.shape(x)
        eps = keras.random.normal(shape, seed=seed) if noise else tf.zeros(shape, tf.float32)
        flow = self.bijector(x)
        u = flow.forward(eps)
        log_q = self.base_distribution().log_prob(eps) - flow.forward_log_det_jacobian(eps, event_ndims=3)
        return u, log_q

    def log_prob(self, u, x):
        """`log q(u | x)` for `u` in `(0, 1)^D` (through the inverse flow)."""
        flow = self.bijector(tf.convert_to_tensor(x, tf.float32))
        eps = flow.inverse(u)
        return self.base_distribution().log_prob(eps) + flow.inverse_log_det_jacobian(u, event_ndims=3)

    def call(self, x):
        return self.sample_and_log_prob(x, noise=False)

    def get_config(self):
        config = super().get_config()
        config.update(
            event_shape=list(self.event_shape), num_bins=self.num_bins, hidden_channels=self.hidden_channels,
            couplings=self.num_couplings,
        )
        return config
