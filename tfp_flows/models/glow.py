"""Glow (Kingma & Dhariwal 2018): ActNorm, invertible 1x1 convolutions and affine couplings, multi-scale."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors import (
    AdditiveCoupling, AffineCoupling, FactorOut, SplineCoupling, Squeeze, fold_steps, reverse_channels, shuffle_channels,
)
from tfp_flows.bijectors.spline_coupling import check_spline_knobs
from tfp_flows.layers import ActNormLayer, GaussianPriorLayer, Invertible1x1ConvLayer
from tfp_flows.models.base import FlowModel
from tfp_flows.models.dequantization import DequantizationMixin
from tfp_flows.models.presets import PresetMixin
from tfp_flows.models.realnvp import logit_preprocessing
from tfp_flows.networks import GlowConvNet, SplitPrior, glow_initial_scale

tfb = tfp.bijectors
COUPLINGS = ("affine", "additive", "spline")
PERMUTATIONS = ("conv1x1", "shuffle", "reverse")
PREPROCESSINGS = ("center", "logit")


@keras.saving.register_keras_serializable(package="tfp_flows")
class Glow(PresetMixin, DequantizationMixin, FlowModel):
    """`levels` x `steps` Glow over `(H, W, C)` images.

    Data-to-latent: `y - 1/2` (or RealNVP's `logit(alpha + (1 - 2 alpha) y)` with
    `preprocessing="logit"`) -> per level: squeeze -> `steps` x [ActNorm -> permutation ->
    coupling] -> split (all levels but the last), where the factored-out half has the
    learned prior `N(mu(h), sigma(h))` of a zero-initialised conv of the kept half `h`
    (openai/glow's `split2d_prior`; `log sigma` soft-clamped to `(-split_prior_clamp,
    split_prior_clamp)`, see `SplitPrior`; `None` leaves it unbounded as openai/glow);
    the top latent has a learned prior `N(mean, std)`. The coupling network is
    conv3x3 -> ActNorm -> ReLU -> conv1x1 -> ActNorm -> ReLU -> zero conv3x3 of
    `hidden_channels` (`GlowConvNet`). Its zero conv starts its output multiplier below
    openai/glow's 1 (which trains with a learning-rate warmup): at `coupling_initial_scale`,
    by default `glow_initial_scale(hidden_channels, levels * steps)`, 0.6 for small models and
    less the wider and deeper the flow (0.29 at 32x32x3 with 3 levels x 8 steps of width 128),
    so that `Adam(1e-3)`'s first step, which moves every weight by the full learning rate,
    cannot overshoot. The split priors' zero convs start at 0.3.

    `coupling` ("affine" | "additive") and `permutation` ("conv1x1" | "shuffle" |
    "reverse") reproduce the paper's ablation; `lu` picks the 1x1 conv parametrisation.
    `coupling="spline"` uses `SplineCoupling` (`spline_bins` bins on `[-spline_bound,
    spline_bound]`, identity outside) in place of the affine coupling.
    `dequantization="variational"` learns the dequantization noise (see `DequantizationMixin`).

    `fold_actnorm` (default True, with `permutation="conv1x1"`): the model's own passes
    (`log_prob`, `fit`, `sample`, `encode`, `decode`) run each step's ActNorm and 1x1
    convolution as one `FoldedActNormConv1x1` (one matmul and one add over the image
    instead of two elementwise passes and a matmul); results and gradients are equal up to
    float rounding. `model.bijector` and `model.distribution` keep the separate parts, and
    the data-dependent initialisation always runs unfolded.

    `num_classes=K` makes it class-conditional (openai/glow's `ycond`; see `FlowModel`):
    `log_prob(y, labels=...)`, `sample(n, labels=...)`, `classify(x)`;
    `condition_couplings=True` adds a learned per-class bias to every coupling network.
    Each split prior also gets a per-class bias per channel, as in openai/glow.

    Args:
      event_shape: the image shape `(H, W, C)`; H and W divisible by `2**levels`.
      levels: `L`, the number of scales (a squeeze, `steps` steps and a split each).
      steps: `K`, the flow steps per level.
      hidden_channels: width of the coupling networks (512 in the paper).
      coupling: "affine", "additive" or "spline".
      permutation: "conv1x1", "shuffle" or "reverse".
      lu: the LU parametrisation of the 1x1 convolutions.
      num_bins: the number of levels of the discrete data (256 for 8-bit images).
      preprocessing: "center" (openai/glow's `y - 0.5`) or "logit" (RealNVP's, with `alpha`).
      split_prior_clamp: bound of the split priors' log-scales (`SplitPrior`); None: unbounded, as openai/glow.
      coupling_initial_scale: the coupling networks' starting output multiplier (`ZeroConv2D`); None: the
        size rule `glow_initial_scale`.

    Shapes: `log_prob(y)` takes `[..., H, W, C]` and returns `[...]`; `sample(n)` returns `[n, H, W, C]`;
    `encode(y)` returns every latent as `[..., H * W * C]`.

    Raises:
      ValueError: a non-image event shape, a non-positive size, an unknown coupling, permutation or
        preprocessing, an `alpha` outside `(0, 0.5)`, a `split_prior_clamp <= 0` or `coupling_initial_scale <= 0`, or (from `FlowModel`) a bad `num_bins`, prior or dtype;
        the methods raise it for data of the wrong shape or outside `[0, num_bins)`.

    >>> import numpy as np
    >>> from tfp_flows import models
    >>> model = models.Glow(event_shape=(8, 8, 1), levels=2, steps=2, hidden_channels=8, num_bins=17)
    >>> x = np.random.default_rng(0).integers(0, 17, (3, 8, 8, 1))
    >>> model.bits_per_dim(x).shape  # model.sample(2) gives [2, 8, 8, 1]
    TensorShape([3])
    """

    def __init__(
        self,
        event_shape: Sequence[int] = (32, 32, 3),
        levels: int = 3,
        steps: int = 32,
        hidden_channels: int = 512,
        coupling: str = "affine",
        permutation: str = "conv1x1",
        lu: bool = True,
        num_bins: int | None = 256,
        preprocessing: str = "center",
        alpha: float = 0.05,
        spline_bins: int = 8,
        spline_bound: float = 3.0,
        fold_actnorm: bool = True,
        split_prior_clamp: float | None = 2.0,
        coupling_initial_scale: float | None = None,
        **kwargs,
    ):
        super().__init__(event_shape, num_bins=num_bins, **kwargs)
        if len(self.event_shape) != 3:
            raise ValueError(f"Glow: expected an image event shape (H, W, C), got {self.event_shape}.")
        for key, value in dict(levels=levels, steps=steps, hidden_channels=hidden_channels).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Glow: expected {key} >= 1, got {value!r}.")
        if coupling not in COUPLINGS:
            raise ValueError(f"Glow: unknown coupling {coupling!r}; expected one of {COUPLINGS}.")
        if permutation not in PERMUTATIONS:
            raise ValueError(f"Glow: unknown permutation {permutation!r}; expected one of {PERMUTATIONS}.")
        if preprocessing not in PREPROCESSINGS:
            raise ValueError(f"Glow: unknown preprocessing {preprocessing!r}; expected one of {PREPROCESSINGS}.")
        _checks.number("Glow", "alpha", alpha, 0.0, 0.5, low_open=True, high_open=True)  # used by the logit only
        _checks.boolean("Glow", "lu", lu)
        _checks.boolean("Glow", "fold_actnorm", fold_actnorm)
        self.preprocessing, self.alpha = preprocessing, float(alpha)
        height, width, _ = self.event_shape
        if height % 2**levels or width % 2**levels:
            raise ValueError(
                f"Glow: {levels} levels squeeze {levels} times, so height and width must be divisible by "
                f"{2 ** levels}; got event shape {self.event_shape}."
            )
        self.levels, self.steps, self.hidden_channels = levels, steps, hidden_channels
        self.coupling, self.permutation, self.lu = coupling, permutation, lu
        check_spline_knobs(spline_bins, spline_bound, "Glow")
        self.spline_bins, self.spline_bound = spline_bins, float(spline_bound)
        self.fold_actnorm = bool(fold_actnorm)
        if split_prior_clamp is not None and (
            isinstance(split_prior_clamp, bool) or not isinstance(split_prior_clamp, (int, float)) or not split_prior_clamp > 0
        ):
            raise ValueError(f"Glow: expected split_prior_clamp > 0 or None, got {split_prior_clamp!r}.")
        self.split_prior_clamp = None if split_prior_clamp is None else float(split_prior_clamp)
        if coupling_initial_scale is not None:
            coupling_initial_scale = _checks.number("Glow", "coupling_initial_scale", coupling_initial_scale, 0.0, low_open=True)
        self.coupling_initial_scale = coupling_initial_scale
        initial_scale = coupling_initial_scale or glow_initial_scale(hidden_channels, levels * steps)

        self.level_shapes = []  # the squeezed (h, w, c) each level's steps work on
        self.actnorms, self.permutes, self.nets, self.split_priors = [], [], [], []
        shape = self.event_shape
        for level in range(levels):
            shape = (shape[0] // 2, shape[1] // 2, shape[2] * 4)
            self.level_shapes.append(shape)
            channels = shape[2]
            transformed = channels - channels // 2
            for step in range(steps):
                tag = f"l{level}_s{step}"
                self.actnorms.append(ActNormLayer(channels, name=f"{tag}_actnorm"))
                if permutation == "conv1x1":
                    self.permutes.append(Invertible1x1ConvLayer(channels, lu=lu, seed=level * 1000 + step, name=f"{tag}_conv1x1"))
                out = {"affine": 2, "additive": 1, "spline": SplineCoupling.params_per_entry(spline_bins)}[coupling] * transformed
                self.nets.append(GlowConvNet(
                    out, hidden_channels, context_dim=self.network_context_dim, initial_scale=initial_scale, name=f"{tag}_coupling",
                ))
            if level < levels - 1:
                factored = channels // 2
                # class-conditional models: openai/glow's split2d_prior with ycond (a per-class bias per channel)
                self.split_priors.append(SplitPrior(
                    2 * factored, context_dim=self.condition_dim, clamp=split_prior_clamp, name=f"l{level}_split_prior",
                ))
                shape = (shape[0], shape[1], channels - factored)
        self.top_prior = GaussianPriorLayer(self.level_shapes[-1], name="top_prior")
        self._build_all()

    def _step_bijectors(self, level, fold: bool = False):
        shape = self.level_shapes[level]
        channels = shape[2]
        actnorms, permutes, couplings = [], [], []
        for step in range(self.steps):
            i = level * self.steps + step
            if self.permutation == "conv1x1":
                permute = self.permutes[i].bijector()
            elif self.permutation == "shuffle":
                permute = shuffle_channels(channels, seed=i)
            else:
                permute = reverse_channels(channels)
            net = self._conditioner(self.nets[i])
            if self.coupling == "spline":
                coupling = SplineCoupling(
                    net, "channel", shape, spline_bins=self.spline_bins, spline_bound=self.spline_bound,
                    conditional=self.condition_couplings,
                )
            else:
                coupling = (AffineCoupling if self.coupling == "affine" else AdditiveCoupling)(
                    net, "channel", shape, conditional=self.condition_couplings
                )
            actnorms.append(self.actnorms[i].bijector())
            permutes.append(permute)
            couplings.append(coupling)
        if fold:  # x -> W((x + b) exp(log_s)) as one matmul + add (only when `_folds_actnorm`), the level's matrices together
            heads = [[folded] for folded in fold_steps(actnorms, permutes)]
        else:
            heads = [[actnorm, permute] for actnorm, permute in zip(actnorms, permutes)]
        return [part for head, coupling in zip(heads, couplings) for part in head + [coupling]]  # data direction, first applied first

    def _folds_actnorm(self) -> bool:
        # While initialising, each ActNorm must see its own input (a `DataInitBijector`), so no fold.
        return (
            self.fold_actnorm and self.permutation == "conv1x1" and not any(a.initializing for a in self.actnorms)
        )

    def _fast_flow(self):
        return self._flow(fold=self._folds_actnorm())

    def _flow(self, fold: bool = False):
        top_shape = self.level_shapes[-1]
        flat = tfb.Reshape(event_shape_out=(top_shape[0] * top_shape[1] * top_shape[2],), event_shape_in=top_shape)
        flow = None
        for level in range(self.levels - 1, -1, -1):
            steps = [Squeeze()] + self._step_bijectors(level, fold)
            if flow is None:
                head = [flat, tfb.Invert(self.top_prior.bijector())]
            else:
                split = FactorOut(
                    tfb.Invert(flow), self.level_shapes[level], prior=self.split_priors[level], conditional=bool(self.condition_dim)
                )
                head = [tfb.Invert(split)]
            flow = tfb.Chain(head + steps[::-1])
        if self.num_bins is None:
            return flow
        if self.preprocessing == "logit":
            return tfb.Chain([flow, logit_preprocessing(self.alpha, self.flow_dtype)])
        return tfb.Chain([flow, tfb.Shift(tf.constant(-0.5, self.flow_dtype))])

    def _support(self):
        # The logit is finite on [0, 1] (alpha > 0); the centring defines a density on all of R^D.
        return dict(low=0.0, high=1.0) if self.num_bins is not None and self.preprocessing == "logit" else {}

    def get_config(self):
        config = super().get_config()
        config.update(
            levels=self.levels, steps=self.steps, hidden_channels=self.hidden_channels,
            coupling=self.coupling, permutation=self.permutation, lu=self.lu,
            preprocessing=self.preprocessing, alpha=self.alpha,
            spline_bins=self.spline_bins, spline_bound=self.spline_bound, fold_actnorm=self.fold_actnorm,
            split_prior_clamp=self.split_prior_clamp, coupling_initial_scale=self.coupling_initial_scale,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # Saved before the clamp existed: those models were trained (and keep working) with the unbounded prior.
        return super().from_config({"split_prior_clamp": None, **config}, custom_objects=custom_objects)
