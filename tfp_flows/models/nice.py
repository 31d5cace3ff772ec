"""NICE (Dinh, Krueger & Bengio 2014): additive couplings on flattened data and a diagonal scaling."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors import AdditiveCoupling, SplineCoupling
from tfp_flows.bijectors.spline_coupling import check_spline_knobs
from tfp_flows.layers import ScalingLayer
from tfp_flows.models.base import FlowModel
from tfp_flows.models.dequantization import DequantizationMixin
from tfp_flows.models.presets import PresetMixin
from tfp_flows.models.realnvp import _standardizer
from tfp_flows.networks import MLP

tfb = tfp.bijectors
COUPLINGS = ("additive", "spline")


@keras.saving.register_keras_serializable(package="tfp_flows")
class NICE(PresetMixin, DequantizationMixin, FlowModel):
    """`num_couplings` additive couplings alternating the odd/even split, then `exp(s)` scaling.

    Data-to-latent: (`y - 1/2` for discrete data) -> flatten -> coupling(odd/even, parity 0)
    -> coupling(parity 1) -> ... -> scaling. Each coupling network is an MLP of
    `hidden_layers` x `hidden_units` ReLU units with a linear, zero-initialised output (so
    couplings start as the identity). The prior is a standard logistic (the paper's
    choice) or a standard normal. Deviation from the paper: the scaling layer is
    initialised from the first batch to give unit-variance latents (see `ScalingLayer`).
    `standardize=True` (vectors) standardises the data first, inside the flow, as RealNVP.

    `coupling="spline"` swaps each additive coupling for a `SplineCoupling` on the same
    odd/even split (`spline_bins` bins on `[-spline_bound, spline_bound]`; no longer
    volume-preserving). `dequantization="variational"` (image event shapes) learns the
    dequantization noise (see `DequantizationMixin`).

    Conditioning (see `FlowModel`): `num_classes=K` or `context_dim=C`; the conditional
    prior is the logistic (or normal) base shifted and scaled by functions of the label/context.

    Args:
      event_shape: images `(H, W, C)` (flattened) or vectors `(D,)`.
      num_bins: the number of levels of discrete data, or None for continuous vectors.

    Shapes: `log_prob(y)` takes `[..., *event_shape]` and returns `[...]`.

    Raises:
      ValueError: an unknown coupling, `num_couplings < 1`, fewer than 2 dimensions, or (from `FlowModel`) a
        bad `num_bins`, prior or dtype; the methods raise it for data of the wrong shape.

    >>> from tfp_flows import models
    >>> m = models.NICE(event_shape=(8, 8, 1), num_couplings=2, hidden_units=16, hidden_layers=1, num_bins=17)
    >>> m.sample(3, seed=0).shape
    TensorShape([3, 8, 8, 1])
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (28, 28, 1),
        num_couplings: int = 4,
        hidden_units: int = 1000,
        hidden_layers: int = 5,
        prior: str = "logistic",
        num_bins: int | None = 256,
        standardize: bool = False,
        coupling: str = "additive",
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        **kwargs,
    ):
        super().__init__(event_shape, num_bins=num_bins, prior=prior, **kwargs)
        self.standardizer = _standardizer(standardize, self.event_shape, type(self).__name__)
        if coupling not in COUPLINGS:
            raise ValueError(f"NICE: unknown coupling {coupling!r}; expected one of {COUPLINGS}.")
        check_spline_knobs(spline_bins, spline_bound, "NICE")
        self.coupling, self.spline_bins, self.spline_bound = coupling, spline_bins, float(spline_bound)
        per_entry = 1 if coupling == "additive" else SplineCoupling.params_per_entry(spline_bins)
        for name, value, minimum in (("num_couplings", num_couplings, 1), ("hidden_units", hidden_units, 1),
                                     ("hidden_layers", hidden_layers, 0)):
            _checks.integer("NICE", name, value, minimum)
        if self.num_dims < 2:
            raise ValueError(f"NICE: needs at least 2 dimensions, got event shape {self.event_shape}.")
        self.num_couplings, self.hidden_units, self.hidden_layers = num_couplings, hidden_units, hidden_layers
        self._masks = [("odd_even", i % 2) for i in range(num_couplings)]
        self.shift_nets = []
        for i, (_, parity) in enumerate(self._masks):
            transformed = self.num_dims // 2 if parity == 0 else self.num_dims - self.num_dims // 2
            self.shift_nets.append(MLP(
                per_entry * transformed, hidden_units, hidden_layers, zero_init=True,
                context_dim=self.network_context_dim, name=f"coupling_{i}",
            ))
        self.scaling = ScalingLayer((self.num_dims,), name="scaling")
        self._build_all()

    def _flow(self):
        dims = (self.num_dims,)
        steps = [tfb.Reshape(event_shape_out=dims, event_shape_in=self.event_shape)]
        for net, (mask, parity) in zip(self.shift_nets, self._masks):
            net = self._conditioner(net)
            if self.coupling == "spline":
                steps.append(SplineCoupling(
                    net, mask, dims, parity=parity, spline_bins=self.spline_bins, spline_bound=self.spline_bound,
                    conditional=self.condition_couplings,
                ))
            else:
                steps.append(AdditiveCoupling(net, mask, dims, parity=parity, conditional=self.condition_couplings))
        steps.append(self.scaling.bijector())
        if self.num_bins is not None:
            steps.insert(0, tfb.Shift(tf.constant(-0.5, self.flow_dtype)))  # data in [0, 1) centred on 0, where the prior is
        if self.standardizer is not None:
            steps.insert(0, self.standardizer.bijector())  # vectors in their own units
        return tfb.Chain(steps[::-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            num_couplings=self.num_couplings, hidden_units=self.hidden_units, hidden_layers=self.hidden_layers,
            coupling=self.coupling, spline_bins=self.spline_bins, spline_bound=self.spline_bound,
            standardize=self.standardizer is not None,
        )
        return config

    def initialize(self, x, discrete: bool = True, labels=None, context=None) -> None:
        if self.standardizer is not None and not self.standardizer.is_adapted:
            self.standardizer.adapt(self.dequantize(x) if discrete else x)
        super().initialize(x, discrete, labels=labels, context=context)
