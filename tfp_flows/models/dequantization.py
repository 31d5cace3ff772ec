"""`dequantization="uniform" | "variational"` for image flow models (Flow++, Ho et al. 2019)."""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.layers.variational_dequantizer import VariationalDequantizer
from tfp_flows.models._model_support import entry_point

DEQUANTIZATIONS = ("uniform", "variational")


class DequantizationMixin:
    """Adds `dequantization=` to a `FlowModel` (listed before `FlowModel` among the bases).

    * "uniform" (default): `u ~ U[0, 1)`, the `FlowModel` behaviour.
    * "variational": `u ~ q(u | x)`, a `VariationalDequantizer` trained jointly. The training
      loss (nats) is `-(log p(y) - log q(u | x))` and the logged `bits_per_dim` is the
      variational bound `-(log p(y) - log q(u | x) - D log(num_bins)) / (D log 2)`, an upper
      bound on the discrete model's bits/dim (uniform dequantization is the special case
      `log q = 0`). `dequantizer_channels` sets the width of q's conv nets.
    """

    def __init__(self, *args, dequantization: str = "uniform", dequantizer_channels: int = 32, **kwargs):
        super().__init__(*args, **kwargs)
        owner = type(self).__name__
        if dequantization not in DEQUANTIZATIONS:
            raise ValueError(f"{owner}: unknown dequantization {dequantization!r}; expected one of {DEQUANTIZATIONS}.")
        self.dequantization, self.dequantizer_channels = dequantization, dequantizer_channels
        self.dequantizer = None
        if dequantization == "variational":
            self._require_float32("dequantization='variational'")
            if self.condition_dim:
                raise ValueError(f"{owner}: dequantization='variational' is not available for conditional models yet; use 'uniform'.")
            if self.num_bins is None or len(self.event_shape) != 3:
                raise ValueError(
                    f"{owner}: dequantization='variational' needs discrete images (event shape (H, W, C) and "
                    f"num_bins set), got event shape {self.event_shape} and num_bins={self.num_bins}."
                )
            self.dequantizer = VariationalDequantizer(
                self.event_shape, self.num_bins, hidden_channels=dequantizer_channels, name="dequantizer"
            )

    def _build_all(self):
        if self.dequantizer is not None:
            self.dequantizer.sample_and_log_prob(tf.zeros((1,) + self.event_shape), noise=False)
        super()._build_all()

    @entry_point
    def bits_per_dim(self, x, noise: bool = False, dequantization: str | None = None, labels=None, context=None) -> tf.Tensor:
        """Bits per dimension of discrete `x`, by the model's dequantization unless `dequantization` is given.

        * "uniform": `-(log p((x + u) / num_bins) - D log num_bins) / (D log 2)` with `u` at the bin
          centre (`noise=False`, deterministic) or `u ~ U[0, 1)` (`noise=True`, the papers' test number).
        * "variational" (models built with it; their default): the variational bound
          `-(log p(y) - log q(u | x) - D log num_bins) / (D log 2)` with `u ~ q(u | x)` (`noise=True`;
          its mean over draws is Flow++'s reported number) or `u` at q's base mode
          (`noise=False`, deterministic, as the exported `bits_per_dim` signature computes).

        `model.bits_per_dim(x, dequantization="uniform")` gives the uniform number of a
        variationally trained model for comparison (a looser bound: the flow was fit to q's noise).
        Conditional models (uniform only) take `labels=` or `context=` as `log_prob` does.
        """
        method = self.dequantization if dequantization is None else dequantization
        owner = f"{type(self).__name__}.bits_per_dim"
        if method not in DEQUANTIZATIONS:
            raise ValueError(f"{owner}: unknown dequantization {method!r}; expected one of {DEQUANTIZATIONS}.")
        if method == "uniform":
            return super().bits_per_dim(x, noise, labels=labels, context=context)
        if self.dequantizer is None:
            raise ValueError(f"{owner}: this model was built with dequantization='uniform'; it has no q(u | x).")
        from tfp_flows.models import conditioning

        conditioning.condition(self, labels, context, owner)  # refuses labels/context: these models are unconditional
        x = self._discrete(x)
        shape = tf.shape(x)
        batch_shape = shape[: tf.size(shape) - len(self.event_shape)]
        bound = self._variational_bound(tf.reshape(x, (-1,) + self.event_shape), noise)
        return tf.reshape(self._bits_per_dim(bound), batch_shape)

    def _variational_bound(self, x, noise: bool) -> tf.Tensor:
        """`log p(y) - log q(u | x)`, `y = (x + u) / num_bins`, for checked discrete `x` `[N, *event]`."""
        u, log_q = self.dequantizer.sample_and_log_prob(x, seed=self._noise, noise=noise)
        return self.log_prob((x + u) / self.num_bins) - log_q

    def _nll(self, data, training):
        if self.dequantizer is None:
            return super()._nll(data, training)
        from tfp_flows.models import conditioning

        x = self._discrete(conditioning.split_batch(self, data, f"{type(self).__name__}.fit")[0])
        bound = self._variational_bound(tf.reshape(x, (-1,) + self.event_shape), noise=True)
        return -tf.reduce_mean(bound), tf.reduce_mean(self._bits_per_dim(bound))

    def get_config(self):
        config = super().get_config()
        config.update(dequantization=self.dequantization, dequantizer_channels=self.dequantizer_channels)
        return config
