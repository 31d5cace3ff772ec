"""`FlowModel`: a keras.Model around one `tfd.TransformedDistribution` over continuous data y."""
from __future__ import annotations

import abc
import contextlib
import math
import weakref
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows import _checks
from tfp_flows.bijectors._walk import conditional_kwargs, sum_log_dets, walk_log_dets
from tfp_flows.layers.conditional_prior import ConditionalPriorLayer
from tfp_flows.models import conditioning, validation
from tfp_flows.models._latents import LatentsAndSamples
from tfp_flows.models._training import KerasTraining
from tfp_flows.models._model_support import (
    _GRAPH_FUNCTIONS, _event_shape, _MetricDirections, _Recomputed, _take_images, _Training, _with_layer_dtype, entry_point,
    with_lean_graph_optimization,
)

tfb, tfd = tfp.bijectors, tfp.distributions
PRIORS = ("normal", "logistic")
_LOW_PRECISION = ("float16", "bfloat16")


class FlowModel(LatentsAndSamples, conditioning.ConditionalMethods, KerasTraining, keras.Model, abc.ABC):
    """Exact-likelihood flow over data of shape `event_shape`, trained with `fit`.

    Subclasses build their layers in `__init__` and implement `_flow()`: the bijector
    from continuous data `y` to the flat latent (the normalising direction, preprocessing
    included), rebuilt from the current weights on every call.

    Data. With `num_bins` set, `fit`/`evaluate` take discrete data `x` in
    `[0, num_bins)` (uint8 or integer-valued floats) and model `y = (x + u) / num_bins`,
    `u ~ U[0, 1)` (uniform dequantization). With `num_bins=None` the data is continuous
    and used as is.

    dtype. float32 by default; `dtype="float64"` builds every layer, the base
    distribution, the bijectors and the input checks in float64. Under a mixed policy
    (`keras.mixed_precision.set_global_policy("mixed_bfloat16")`) the conditioner
    networks compute in 16 bits while data, log-dets and the base stay float32.

    Shapes. `log_prob`, `bits_per_dim`, `encode` and `decode` take any number of leading
    batch dimensions (none included); `sample` takes an int or a sample shape.

    Support. Glow and NICE define a density on all of R^D, so `log_prob`, `encode` and
    `decode` accept any finite `y`; a model with a bounded preprocessing step (RealNVP's
    logit) says which values it takes. Only the discrete entries (`fit`,
    `bits_per_dim`) check `x` in `[0, num_bins)`. `to_levels(y)` turns samples into
    displayable levels.

    Metrics. The logged `loss` is the mean negative log-likelihood in nats per example
    (of `y`), and `bits_per_dim` is `-(log p(y) - D log(num_bins)) / (D log 2)`, the number
    papers report (every preprocessing Jacobian is inside `log p`).

    Conditioning (see `ConditionalMethods`). `num_classes=K` makes a class-conditional
    model `p(y | label)`, `context_dim=C` a context-conditional one `p(y | context)`. Both
    add a conditional diagonal Gaussian (logistic for NICE's prior) over every latent
    dimension, the top and every factored-out part: mean and log-scale linear in the
    one-hot label or the context, zero-initialised (openai/glow's `ycond` prior).
    `condition_couplings=True` (the default for context models) also feeds the label/context
    to every coupling network. `weight_y > 0` (class models) adds openai/glow's auxiliary
    classification loss: `weight_y` times the cross-entropy of a linear classifier of the
    latent before the class prior. Entries take `labels=` (integers in `[0, K)`) or
    `context=` (`[..., C]`) whose batch shape broadcasts against the data's; `fit` takes
    `(data, labels)` / `(data, context)` pairs or dicts with a "label" / "context" entry.

    Args:
      seed: seed of the random initialisations (1x1 convolutions, permutations).
      recompute: recompute coupling-network activations in the backward pass (`tf.recompute_grad`).

    Raises:
      ValueError: `condition_couplings=True` without `num_classes`/`context_dim`, a 16-bit dtype, `num_bins`
        below 2, an unknown prior; the methods raise it for data of the wrong shape, dtype or range,
        `num_samples <= 0`, `temperature < 0`, and missing or unexpected labels/contexts.

    >>> from tfp_flows import models
    >>> model = models.Glow.from_preset("tiny")
    >>> isinstance(model, models.FlowModel), model.event_shape, model.num_bins
    (True, (8, 8, 1), 17)
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        num_bins: int | None = 256,
        prior: str = "normal",
        seed: int | None = None,
        recompute: bool = False,
        num_classes: int | None = None,
        context_dim: int | None = None,
        condition_couplings: bool | None = None,
        weight_y: float = 0.0,
        **kwargs,
    ):
        # Data stays float32 under mixed precision: only the conditioner networks compute in low precision.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        owner = type(self).__name__
        if seed is not None:
            _checks.integer(owner, "seed", seed, minimum=0)
        _checks.boolean(owner, "recompute", recompute)
        if condition_couplings is not None:
            _checks.boolean(owner, "condition_couplings", condition_couplings)
        _checks.number(owner, "weight_y", weight_y, low=0.0)
        conditioning.check_settings(num_classes, context_dim, weight_y, type(self).__name__)
        self.num_classes = None if num_classes is None else int(num_classes)
        self.context_dim = None if context_dim is None else int(context_dim)
        self.condition_dim = self.num_classes or self.context_dim or 0
        if condition_couplings is None:
            condition_couplings = self.context_dim is not None  # context models: the couplings see the context
        if condition_couplings and not self.condition_dim:
            raise ValueError(f"{type(self).__name__}: condition_couplings=True needs num_classes or context_dim.")
        self.condition_couplings = bool(condition_couplings)
        self.weight_y = float(weight_y)
        if self.dtype_policy.variable_dtype in _LOW_PRECISION:
            raise ValueError(
                f"{type(self).__name__}: dtype {self.dtype_policy.name!r} would compute log-densities in 16 bits; "
                "use 'float32' or 'float64', or a mixed policy ('mixed_bfloat16', 'mixed_float16') for "
                "16-bit networks with a float32 flow."
            )
        self.event_shape = _event_shape(event_shape, type(self).__name__)
        if num_bins is not None and (not isinstance(num_bins, (int, np.integer)) or num_bins < 2):
            raise ValueError(f"{type(self).__name__}: expected num_bins >= 2 or None, got {num_bins!r}.")
        if prior not in PRIORS:
            raise ValueError(f"{type(self).__name__}: unknown prior {prior!r}; expected one of {PRIORS}.")
        self.num_bins = None if num_bins is None else int(num_bins)
        self.prior = prior
        self.recompute = bool(recompute)
        self._conditioners_training = False  # see `training_conditioners`
        self.seed = seed
        self.num_dims = int(np.prod(self.event_shape))
        self.conditional_prior = (
            ConditionalPriorLayer((self.num_dims,), self.condition_dim, name="conditional_prior") if self.condition_dim else None
        )
        self.label_classifier = (
            keras.layers.Dense(self.num_classes, kernel_initializer="zeros", name="label_classifier") if self.weight_y else None
        )
        if self.label_classifier is not None:
            self.label_classifier.build((None, self.num_dims))
        self._noise = keras.random.SeedGenerator(seed)
        self._initialized = self.add_weight(shape=(), initializer="zeros", trainable=False, name="initialized")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bpd_tracker = keras.metrics.Mean(name="bits_per_dim")
        for tracker in (self.loss_tracker, self.bpd_tracker):
            tracker._direction = "down"  # lower is better: EarlyStopping/ModelCheckpoint need no `mode=`
        # Keras callbacks look metric directions up only inside metric lists.
        self._directed_metrics = _MetricDirections([self.loss_tracker, self.bpd_tracker], name="flow_metrics")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in vars(cls):
            cls.__init__ = _with_layer_dtype(vars(cls)["__init__"])

    def _require_float32(self, what: str) -> None:
        """A clear error instead of a float32/float64 mix deep inside TensorFlow."""
        if self.flow_dtype != tf.float32:
            raise ValueError(
                f"{type(self).__name__}: {what} computes in float32 only, got dtype {self.dtype_policy.name!r}; "
                "use dtype='float32' (or a mixed policy)."
            )

    @property
    def flow_dtype(self) -> tf.DType:
        """The dtype of data, bijectors, log-dets and the base: the variables' dtype (float32 under mixed precision)."""
        return tf.as_dtype(self.dtype_policy.variable_dtype)

    # ------------------------------------------------------------------ structure
    @abc.abstractmethod
    def _flow(self) -> tfb.Bijector:
        """Bijector from data `y` (event `event_shape`) to the flat latent `(num_dims,)`."""

    def _conditioner(self, network):
        """`network`, or with `recompute=True` a version whose activations are recomputed in the
        backward pass (`tf.recompute_grad`): less memory for deep flows, one more forward pass.

        Inside `fit`'s training steps (`training_conditioners`), a network with dropout is called
        with `training=True`; everywhere else the flow is deterministic.
        """
        if self._conditioners_training and getattr(network, "dropout", 0.0):
            network = _Training(network)
        if not (self.recompute and self.built):  # weights are created outside recompute_grad
            return network
        return _Recomputed(network)

    @contextlib.contextmanager
    def training_conditioners(self, training: bool = True):
        """Within the block, flows built by the model run their networks in training mode (dropout on).

        `fit` uses it for its training steps; a custom training loop computing
        `-model.log_prob(x)` under a `tf.GradientTape` can too. The flow is built on every
        call, so what counts is where `log_prob` is called (or a `tf.function` traced).
        """
        previous, self._conditioners_training = self._conditioners_training, bool(training)
        try:
            yield
        finally:
            self._conditioners_training = previous

    @property
    def network_context_dim(self) -> int:
        """The conditioning width the coupling networks take (0: they are unconditional)."""
        return self.condition_dim if self.condition_couplings else 0

    def _build_all(self):
        """Creates every weight with one pass of a dummy batch (conditioners build lazily)."""
        self._log_prob_folded(tf.fill((1,) + self.event_shape, tf.constant(0.5, self.flow_dtype)), self._dummy_condition(1))
        self.built = True

    def _dummy_condition(self, count):
        # All conditioning weights start at zero, so any `c` gives the same initial flow.
        return tf.zeros(tf.stack([count, self.condition_dim]), self.flow_dtype) if self.condition_dim else None

    def _fast_flow(self) -> tfb.Bijector:
        """The flow the model's own computations run: `log_prob`, `fit`, `encode`, `decode`, `sample`.

        `_flow()` unless a subclass has an equal composition with fused steps (Glow folds each
        ActNorm into its 1x1 convolution). `model.bijector` and `model.distribution` keep
        `_flow()`'s structure, part by part, for users to inspect and route kwargs by name.
        """
        return self._flow()

    def _full_flow(self, fast: bool = False) -> tfb.Bijector:
        """`_flow()` (`_fast_flow()` if `fast`) followed, for conditional models, by the inverse of the conditional prior (data -> standard latent)."""
        flow = self._fast_flow() if fast else self._flow()
        if self.conditional_prior is None:
            return flow
        return tfb.Chain([tfb.Invert(self.conditional_prior.bijector()), flow], name="conditional_flow")

    def build(self, input_shape=None):
        if not self.built:
            self._build_all()

    @property
    def bijector(self) -> tfb.Bijector:
        """z -> y, the TFP direction: `forward` generates, `inverse` encodes."""
        return tfb.Invert(self._full_flow())

    @property
    def base_distribution(self) -> tfd.Distribution:
        return self._base(1.0)

    def _base(self, temperature):
        dims = [self.num_dims]
        loc, scale = tf.zeros([], self.flow_dtype), tf.cast(temperature, self.flow_dtype)
        if self.prior == "logistic":
            return tfd.Sample(tfd.Logistic(loc, scale), dims)
        return tfd.Sample(tfd.Normal(loc, scale), dims)

    @property
    def distribution(self) -> tfd.TransformedDistribution:
        """`tfd.TransformedDistribution` over `y` in `event_shape`; its `log_prob` is `model.log_prob`.

        It reads the model's weights whenever it is used, so one taken before `fit` stays
        equal to the model after it, and gradients taken through it reach every trainable
        weight. Its `trainable_variables` are the `tf.Variable`s behind
        `model.trainable_variables` (the same objects Keras updates; Keras' own optimizers
        take either list). A conditional model's distribution takes the label/context as
        `bijector_kwargs=model.bijector_kwargs(labels=...)` in `log_prob` and `sample`.
        """
        return tfd.TransformedDistribution(self.base_distribution, self.bijector)

    # ------------------------------------------------------------------ densities
    @entry_point
    def log_prob(self, y, labels=None, context=None) -> tf.Tensor:
        """Continuous log-density of `y` (shape `[..., *event_shape]`), shape `[...]`.

        Conditional models take `labels` (`[...]`) or `context` (`[..., C]`), broadcast against `y`'s batch.
        """
        c = conditioning.condition(self, labels, context, f"{type(self).__name__}.log_prob")
        y, c, batch_shape = self._fold(y, "y", c)
        return tf.reshape(self._fast("log_prob", y, c), batch_shape)

    def _log_prob_folded(self, y, c=None):
        return self._latent_and_log_prob(y, c)[1]

    def _latent_and_log_prob(self, y, c=None):
        """`(h, log p(y | c))`: `h` the flat latent before the conditional prior (the latent `z` without one).

        One pass through the flow without TFP's per-bijector machinery (see
        bijectors/_walk.py); equal to `self.distribution.log_prob(y)`.
        """
        flow = self._fast_flow()
        log_dets = []  # summed once, at the end (`sum_log_dets`)
        h, _ = walk_log_dets(flow, y, len(self.event_shape), True, log_dets, **self._routing(flow, c))
        z = h
        if self.conditional_prior is not None:
            z, prior_log_det = self.conditional_prior.bijector()._inverse_and_log_det(h, conditional_input=c)
            log_dets.append(prior_log_det)
        return h, sum_log_dets([self.base_distribution.log_prob(z)] + log_dets)

    @staticmethod
    def _routing(flow, c) -> dict:
        """`c` routed to every conditional bijector of `flow` (TFP's nested kwargs; see `conditional_kwargs`)."""
        return {} if c is None else conditional_kwargs(flow, c)

    @entry_point
    def dequantize(self, x, noise: bool = True) -> tf.Tensor:
        """`y = (x + u) / num_bins` with `u ~ U[0, 1)` (`noise=True`) or `u = 1/2` (the bin centre).

        `x` must hold integer levels in `[0, num_bins)`; continuous models return `x` as is.
        """
        x = self._discrete(x)
        if self.num_bins is None:
            return x
        u = keras.random.uniform(tf.shape(x), seed=self._noise, dtype=x.dtype) if noise else 0.5
        return (x + u) / self.num_bins

    @entry_point
    def bits_per_dim(self, x, noise: bool = False, labels=None, context=None) -> tf.Tensor:
        """Bits per dimension of data `x` (discrete in `[0, num_bins)`, or continuous if `num_bins` is None).

        Deterministic by default: `x` is dequantized to its bin centres. `noise=True`
        uses uniform dequantization as in training and the papers' test numbers.
        Conditional models take `labels` or `context` as `log_prob` does.
        """
        return self._bits_per_dim(self.log_prob(self.dequantize(x, noise), labels=labels, context=context))

    def _discrete(self, x, what: str = "x") -> tf.Tensor:
        """Checked data: integer levels in `[0, num_bins)` (or finite values for continuous models)."""
        owner = type(self).__name__
        x = validation.as_real_tensor(_take_images(x), owner, what, self.flow_dtype)
        validation.check_batch(x, self.event_shape, owner, what)
        if self.num_bins is None:
            return validation.check_values(x, owner, what)
        return validation.check_values(x, owner, what, low=0, high=self.num_bins - 1, integer=True)

    def _bits_per_dim(self, log_prob):
        discrete = 0.0 if self.num_bins is None else self.num_dims * math.log(self.num_bins)
        return -(log_prob - discrete) / (self.num_dims * math.log(2.0))

    @entry_point
    def call(self, inputs, training=False):
        """`log_prob` of `inputs`: `y`, or for conditional models `(y, labels/context)` or a dict."""
        if self.condition_dim and isinstance(inputs, (tuple, list, dict)):
            y, labels, context = conditioning.split_batch(self, tuple(inputs) if isinstance(inputs, list) else inputs, type(self).__name__)
            return self.log_prob(y, labels=labels, context=context)
        return self.log_prob(inputs)

    def _support(self) -> dict:
        """Bounds of `y` that `log_prob` and `encode` accept (`low`/`high`); none for a density on all of R^D."""
        return {}

    def _fold(self, y, what, c=None, check_values: bool = True):
        """`(y [N, *event], c [N, C] or None, batch_shape)`: checked, batches broadcast together and folded.

        `check_values=False` skips the values' check (finite, within `_support()`) for a `y` known
        to pass it, like one `dequantize` made from checked data.
        """
        owner = type(self).__name__
        y = validation.as_real_tensor(y, owner, what, self.flow_dtype)
        validation.check_batch(y, self.event_shape, owner, what)
        if check_values:
            y = validation.check_values(y, owner, what, **self._support())
        return conditioning.fold_pair(y, self.event_shape, c, owner)

    def _fast(self, name: str, folded: tf.Tensor, c: tf.Tensor | None = None, jit_compile: bool | None = None) -> tf.Tensor:
        """`self._<name>_folded(folded)`, as a graph function traced once per model when called eagerly.

        Eager calls (`model.log_prob(y)`, `model.sample(64)`) would otherwise run the flow
        op by op. The graph takes any batch size (`[None, *event]`), so a new batch size or
        temperature never retraces; inputs were checked eagerly before, with clear errors.
        Inside `fit`, `tf.function` or a SavedModel the plain ops run in the caller's graph.
        `jit_compile` (default: as the model was compiled) runs the graph under XLA.
        Conditional models pass the folded condition `c` (`[None, condition_dim]`) as a
        second argument of the same graph.
        """
        method = f"_{name}_folded"
        args = (folded,) if c is None else (folded, c)
        if not tf.executing_eagerly() or self._conditioners_training:  # the cached graphs are deterministic
            return getattr(self, method)(*args)
        if jit_compile is None:
            jit_compile = bool(getattr(self, "compiled", False) and self.jit_compile is True)
        functions = _GRAPH_FUNCTIONS.setdefault(self, {})
        key = (name, bool(jit_compile))
        key = key + (c is not None,)
        if key not in functions:
            specs = [tf.TensorSpec([None] + folded.shape.as_list()[1:], folded.dtype)]
            if c is not None:
                specs.append(tf.TensorSpec([None, c.shape[-1]], c.dtype))
            model = weakref.ref(self)  # the cache must not keep the model alive
            functions[key] = with_lean_graph_optimization(tf.function(
                lambda *a: getattr(model(), method)(*a), input_signature=specs, jit_compile=bool(jit_compile), autograph=False
            ))
        return functions[key](*args)

    # ------------------------------------------------------------------ initialisation
    @property
    def is_initialized(self) -> bool:
        return bool(self._initialized.numpy() > 0)

    def initialize(self, x, discrete: bool = True, labels=None, context=None) -> None:
        """Data-dependent initialisation (every ActNorm) from a batch; also run by the first `fit`.

        `x` is discrete data (dequantized here) or, with `discrete=False`, continuous `y`.
        One eager pass of the batch through the flow sets each ActNorm, in order, so that
        its output has zero mean and unit variance per channel. Under `tf.distribute` it
        runs before replication, on the whole first global batch, so every replica gets the
        same values; with several workers, each must see the same first batch (the same
        dataset and shuffle seed, as `data.load` gives). Conditional models may pass the
        batch's `labels`/`context`; without them the initialisation is the same, since all
        conditioning weights start at zero.
        """
        c = conditioning.condition(self, labels, context, f"{type(self).__name__}.initialize", required=False)
        y = self.dequantize(x) if discrete else x
        layers = [layer for layer in self._flatten_layers() if hasattr(layer, "initializing")]
        for layer in layers:
            layer.initializing = True
        try:
            y, c, _ = self._fold(y, "y", c)
            if c is None and self.condition_dim:
                c = self._dummy_condition(tf.shape(y)[0])
            log_prob = self._log_prob_folded(y, c)  # eagerly: the layers initialise from the data
        finally:
            for layer in layers:
                layer.initializing = False
        if not np.all(np.isfinite(log_prob.numpy())):
            raise ValueError(f"{type(self).__name__}.initialize: the log-density of the init batch is not finite.")
        self._initialized.assign(1.0)

    def get_config(self):
        return dict(
            event_shape=list(self.event_shape), num_bins=self.num_bins, prior=self.prior, seed=self.seed,
            recompute=self.recompute, name=self.name, dtype=self.dtype_policy.name,
            num_classes=self.num_classes, context_dim=self.context_dim, condition_couplings=self.condition_couplings,
            weight_y=self.weight_y,
        )
