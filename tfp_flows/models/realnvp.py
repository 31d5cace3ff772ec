"""RealNVP (Dinh, Sohl-Dickstein & Bengio 2016): multi-scale affine couplings with ResNet conditioners."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors import AffineCoupling, FactorOut, SplineCoupling, Squeeze, shuffle_channels
from tfp_flows.bijectors.spline_coupling import check_spline_knobs
from tfp_flows.layers import ActNormLayer, Invertible1x1ConvLayer, StandardizeLayer
from tfp_flows.models.base import FlowModel
from tfp_flows.models.dequantization import DequantizationMixin
from tfp_flows.models.presets import PresetMixin
from tfp_flows.networks import MLP, RealNVPResNet

tfb = tfp.bijectors
COUPLINGS = ("affine", "spline")
PERMUTATIONS = ("none", "shuffle", "linear")
# Vectors without an explicit choice (the constructor's and the `tabular` presets' defaults).
VECTOR_PERMUTATION, VECTOR_DROPOUT = "linear", 0.2


def logit_preprocessing(alpha: float, dtype=tf.float32) -> tfb.Bijector:
    """`y -> logit(alpha + (1 - 2 alpha) y)`, data to flow space; its Jacobian counts in `log_prob`."""
    shift, scale = tf.constant(alpha, dtype), tf.constant(1.0 - 2.0 * alpha, dtype)
    return tfb.Chain([tfb.Invert(tfb.Sigmoid()), tfb.Shift(shift), tfb.Scale(scale)], name="logit")


@keras.saving.register_keras_serializable(package="tfp_flows")
class RealNVP(PresetMixin, DequantizationMixin, FlowModel):
    """Multi-scale RealNVP; ActNorm after every coupling (batch-norm free).

    Images, data-to-latent, per scale but the last: 3 checkerboard couplings
    (alternating parity) -> squeeze -> 3 channel couplings (alternating) -> factor out
    half the channels (standard normal). The last scale: 4 checkerboard couplings. The
    coupling networks are `RealNVPResNet`s (`res_blocks`, `filters`) whose log-scale is
    `scale * tanh(h)`. With `num_bins` set, data first goes through the logit
    `logit(alpha + (1 - 2 alpha) y)`.

    Vectors `(D,)`, data-to-latent: `num_couplings` x [permutation -> affine coupling of
    one half given the other (alternating halves) -> ActNorm], MLP conditioners
    (`hidden_layers` x `filters` ReLU units, `dropout` in `fit`'s training steps) with a
    soft-clamped log-scale. `permutation` mixes the entries between couplings, so each
    coupling splits them differently (a fixed halves split alone only ever gives the same
    two parts): "linear" (the vector default) is a learned invertible linear map `W = P L U`
    (`Invertible1x1ConvLayer` on vectors, log-det `sum(log|diag U|)`) that starts as a random
    permutation `P`, as Durkan et al. (2019) put between their couplings on tables; "shuffle"
    a fixed random permutation; "none" the halves alone (the former vectors). `dropout`
    (vector default 0.2) regularises the conditioners: without it, tables of tens of
    thousands of rows overfit within a few thousand steps. `standardize=True` (vectors
    only) puts a `StandardizeLayer` first, so the flow sees standardised data while
    `log_prob` stays a density in the data's own units. `permutation` and `dropout` apply
    to vectors only (the image path has its checkerboard and channel masks and ResNets).

    `coupling="spline"` (images and vectors) replaces every affine coupling by a
    `SplineCoupling` (`spline_bins` bins on `[-spline_bound, spline_bound]`, identity
    outside; the ResNets then have a plain linear head). `dequantization="variational"`
    (images) learns the dequantization noise (see `DequantizationMixin`).

    Conditioning (see `FlowModel`): `num_classes=K` (class-conditional images or vectors)
    or `context_dim=C` (vectors: `log_prob(x, context=c)`, `sample(n, context=c)`; the MLPs
    see the context concatenated to their input, and the prior's mean and scale depend on it).

    Args:
      event_shape: images `(H, W, C)` (H and W divisible by `2**(num_scales - 1)`) or vectors `(D,)`.
      num_scales: the number of scales of the image model.
      res_blocks, filters: the residual blocks and feature maps of each coupling's ResNet (vectors: the MLP
        width is `filters`).
      num_bins: the number of levels of discrete data, or None for continuous vectors.
      alpha: the logit preprocessing's `alpha` (images).

    Shapes: `log_prob(y)` takes `[..., *event_shape]` and returns `[...]`; `sample(n)` returns
    `[n, *event_shape]`.

    Raises:
      ValueError: an unknown coupling, `alpha` outside `(0, 0.5)`, `num_scales < 1`, an image too small for
        its scales, fewer than 2 dimensions, or (from `FlowModel`) a bad `num_bins`, prior or dtype; the
        methods raise it for data of the wrong shape, or `y` outside `[0, 1]` (images).

    >>> import numpy as np
    >>> from tfp_flows import models
    >>> v = models.RealNVP(event_shape=(3,), num_bins=None, num_couplings=2, filters=8)
    >>> v.log_prob(np.zeros((4, 3), "float32")).shape
    TensorShape([4])
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (32, 32, 3),
        num_scales: int = 3,
        res_blocks: int = 8,
        filters: int = 64,
        num_bins: int | None = 256,
        alpha: float = 0.05,
        num_couplings: int = 8,
        hidden_layers: int = 2,
        standardize: bool = False,
        coupling: str = "affine",
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        permutation: str | None = None,
        dropout: float | None = None,
        **kwargs,
    ):
        super().__init__(event_shape, num_bins=num_bins, **kwargs)
        self.permutation, self.dropout = _vector_knobs(self.event_shape, permutation, dropout, self.recompute)
        self.standardizer = _standardizer(standardize, self.event_shape, type(self).__name__)
        if coupling not in COUPLINGS:
            raise ValueError(f"RealNVP: unknown coupling {coupling!r}; expected one of {COUPLINGS}.")
        check_spline_knobs(spline_bins, spline_bound, "RealNVP")
        self.coupling, self.spline_bins, self.spline_bound = coupling, spline_bins, float(spline_bound)
        self._params_per_entry = 2 if coupling == "affine" else SplineCoupling.params_per_entry(spline_bins)
        # alpha = 0 puts y = 0 and y = 1 at logit = -inf, +inf
        _checks.number("RealNVP", "alpha", alpha, 0.0, 0.5, low_open=True, high_open=True)
        for name, value, minimum in (("res_blocks", res_blocks, 0), ("filters", filters, 1), ("num_couplings", num_couplings, 1),
                                     ("hidden_layers", hidden_layers, 0)):
            _checks.integer("RealNVP", name, value, minimum)
        self.num_scales, self.res_blocks, self.filters = num_scales, res_blocks, filters
        self.alpha, self.num_couplings, self.hidden_layers = alpha, num_couplings, hidden_layers
        if len(self.event_shape) == 3:
            self._build_image_layers()
        else:
            self._build_vector_layers()
        self._build_all()

    # self.plan: per scale, the data-direction steps: ("squeeze",) or ("coupling", mask, parity, shape)
    def _build_image_layers(self):
        if not isinstance(self.num_scales, int) or self.num_scales < 1:
            raise ValueError(f"RealNVP: expected num_scales >= 1, got {self.num_scales!r}.")
        height, width, _ = self.event_shape
        divisor = 2 ** (self.num_scales - 1)
        if height % divisor or width % divisor:
            raise ValueError(
                f"RealNVP: {self.num_scales} scales squeeze {self.num_scales - 1} times, so height and width must be "
                f"divisible by {divisor}; got event shape {self.event_shape}."
            )
        self.plan, self.nets, self.norms = [], [], []
        shape = self.event_shape
        for scale in range(self.num_scales):
            last = scale == self.num_scales - 1
            stage = [("coupling", "checkerboard", p % 2, shape) for p in range(4 if last else 3)]
            if not last:
                shape = (shape[0] // 2, shape[1] // 2, shape[2] * 4)
                stage += [("squeeze",)] + [("coupling", "channel", p % 2, shape) for p in range(3)]
            self.plan.append(stage)
            couplings = [step for step in stage if step[0] == "coupling"]
            for i, (_, mask, parity, s) in enumerate(couplings):
                b_channels = s[2] if mask == "checkerboard" else (s[2] // 2 if parity == 0 else s[2] - s[2] // 2)
                self.nets.append(RealNVPResNet(
                    self._params_per_entry * b_channels, self.res_blocks, self.filters,
                    affine_head=self.coupling == "affine", context_dim=self.network_context_dim, name=f"s{scale}_coupling{i}",
                ))
                self.norms.append(ActNormLayer(s[2], name=f"s{scale}_actnorm{i}"))
            shape = (shape[0], shape[1], shape[2] - shape[2] // 2)  # after factoring out half

    def _build_vector_layers(self):
        dims = self.num_dims
        if dims < 2:
            raise ValueError(f"RealNVP: needs at least 2 dimensions, got event shape {self.event_shape}.")
        self.plan = [[("coupling", "halves", i % 2, (dims,)) for i in range(self.num_couplings)]]
        self.nets, self.norms = [], []
        for i, (_, _, parity, _) in enumerate(self.plan[0]):
            transformed = dims - dims // 2 if parity == 0 else dims // 2
            self.nets.append(MLP(
                self._params_per_entry * transformed, self.filters, self.hidden_layers, zero_init=True,
                context_dim=self.network_context_dim, dropout=self.dropout, name=f"coupling{i}",
            ))
            self.norms.append(ActNormLayer(dims, event_ndims=1, name=f"actnorm{i}"))
        # Seeded by position, as Glow's 1x1 convolutions: the same model from the same arguments.
        self.linears = [
            Invertible1x1ConvLayer(dims, seed=i, event_ndims=1, init="permutation", name=f"linear{i}")
            for i in range(self.num_couplings)
        ] if self.permutation == "linear" else []

    def _flow(self):
        image = len(self.event_shape) == 3
        scale_fn = "exp" if image else "soft_clamp"
        layers = iter(enumerate(zip(self.nets, self.norms)))
        stages = []
        for stage in self.plan:
            steps = []
            for step in stage:
                if step[0] == "squeeze":
                    steps.append(Squeeze())
                    continue
                _, mask, parity, shape = step
                i, (net, norm) = next(layers)
                if not image:
                    steps += self._permutation(i)
                steps += [self._coupling(self._conditioner(net), mask, shape, parity, scale_fn), norm.bijector()]
            stages.append(steps)
        flow = self._join_scales(stages) if image else tfb.Chain(stages[0][::-1])
        if self.standardizer is not None:
            flow = tfb.Chain([flow, self.standardizer.bijector()])
        if self.num_bins is None:
            return flow
        return tfb.Chain([flow, logit_preprocessing(self.alpha, self.flow_dtype)])

    def _permutation(self, i: int) -> list:
        """The vector permutation before coupling `i` (data to latent), none or one bijector."""
        if self.permutation == "linear":
            return [self.linears[i].bijector()]
        if self.permutation == "shuffle":
            return [shuffle_channels(self.num_dims, seed=i, name=f"shuffle{i}")]
        return []

    def _coupling(self, net, mask, shape, parity, scale_fn):
        if self.coupling == "spline":
            return SplineCoupling(
                net, mask, shape, parity=parity, spline_bins=self.spline_bins, spline_bound=self.spline_bound,
                conditional=self.condition_couplings,
            )
        return AffineCoupling(net, mask, shape, parity=parity, scale_fn=scale_fn, conditional=self.condition_couplings)

    def _join_scales(self, stages):
        """Nests the scales through FactorOut, deepest first: one bijector, image -> flat latent."""
        shape = self.plan[-1][0][3]
        flat = tfb.Reshape(event_shape_out=(shape[0] * shape[1] * shape[2],), event_shape_in=shape)
        flow = tfb.Chain([flat] + stages[-1][::-1])
        for scale in range(self.num_scales - 2, -1, -1):
            squeezed = self.plan[scale][-1][3]
            flow = tfb.Chain([tfb.Invert(FactorOut(tfb.Invert(flow), squeezed))] + stages[scale][::-1])
        return flow

    def _support(self):
        # The logit preprocessing is finite on [0, 1] (alpha > 0), the data space of discrete images.
        return dict(low=0.0, high=1.0) if self.num_bins is not None else {}

    def get_config(self):
        config = super().get_config()
        config.update(
            num_scales=self.num_scales, res_blocks=self.res_blocks, filters=self.filters, alpha=self.alpha,
            num_couplings=self.num_couplings, hidden_layers=self.hidden_layers, standardize=self.standardizer is not None,
            coupling=self.coupling, spline_bins=self.spline_bins, spline_bound=self.spline_bound,
            permutation=self.permutation, dropout=self.dropout,
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Vector models saved before `permutation` and `dropout` existed had neither.
        if len(config.get("event_shape", ())) == 1:
            config = {"permutation": "none", "dropout": 0.0, **config}
        return cls(**config)

    def initialize(self, x, discrete: bool = True, labels=None, context=None) -> None:
        if self.standardizer is not None and not self.standardizer.is_adapted:
            self.standardizer.adapt(self.dequantize(x) if discrete else x)
        super().initialize(x, discrete, labels=labels, context=context)


def _vector_knobs(event_shape, permutation, dropout, recompute: bool, owner: str = "RealNVP"):
    """Checked `(permutation, dropout)` of a vector model (None: the vector defaults); `(None, None)` for images."""
    if len(event_shape) != 1:
        if permutation is not None or dropout not in (None, 0, 0.0):
            raise ValueError(f"{owner}: permutation and dropout apply to vectors (D,), got event shape {tuple(event_shape)}.")
        return None, None
    permutation = VECTOR_PERMUTATION if permutation is None else permutation
    dropout = VECTOR_DROPOUT if dropout is None else dropout
    if permutation not in PERMUTATIONS:
        raise ValueError(f"{owner}: unknown permutation {permutation!r}; expected one of {PERMUTATIONS}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
        raise ValueError(f"{owner}: expected 0 <= dropout < 1, got {dropout!r}.")
    if dropout and recompute:
        raise ValueError(f"{owner}: recompute=True draws new dropout masks when it recomputes the networks; use dropout=0 with it.")
    return permutation, float(dropout)


def _standardizer(standardize: bool, event_shape, owner: str):
    """A `StandardizeLayer` for vector flows that asked for one (shared by RealNVP and NICE)."""
    if not _checks.boolean(owner, "standardize", standardize):
        return None
    if len(event_shape) != 1:
        raise ValueError(f"{owner}: standardize=True applies to vectors (D,), got event shape {event_shape}.")
    return StandardizeLayer(event_shape[0], name="standardize")

