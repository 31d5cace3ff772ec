"""`FlowModel`: a keras.Model around one `tfd.TransformedDistribution` over continuous data y."""
from __future__ import annotations

import abc
import math
import weakref
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_flows.bijectors._walk import walk
from tfp_flows.models import validation
from tfp_flows.models._model_support import (
    _GRAPH_FUNCTIONS, _event_shape, _first_batch, _MetricDirections, _Recomputed, _take_images, _with_layer_dtype,
)

tfb, tfd = tfp.bijectors, tfp.distributions
PRIORS = ("normal", "logistic")
_LOW_PRECISION = ("float16", "bfloat16")


class FlowModel(keras.Model, abc.ABC):
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
    """

    def __init__(
        self,
        event_shape: Sequence[int],
        num_bins: int | None = 256,
        prior: str = "normal",
        seed: int | None = None,
        recompute: bool = False,
        **kwargs,
    ):
        # Data stays float32 under mixed precision: only the conditioner networks compute in low precision.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
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
        self.seed = seed
        self.num_dims = int(np.prod(self.event_shape))
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
        backward pass (`tf.recompute_grad`): less memory for deep flows, one more forward pass."""
        if not (self.recompute and self.built):  # weights are created outside recompute_grad
            return network
        return _Recomputed(network)

    def _build_all(self):
        """Creates every weight with one pass of a dummy batch (conditioners build lazily)."""
        self._log_prob_folded(tf.fill((1,) + self.event_shape, tf.constant(0.5, self.flow_dtype)))
        self.built = True

    def build(self, input_shape=None):
        if not self.built:
            self._build_all()

    @property
    def bijector(self) -> tfb.Bijector:
        """z -> y, the TFP direction: `forward` generates, `inverse` encodes."""
        return tfb.Invert(self._flow())

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
        take either list).
        """
        return tfd.TransformedDistribution(self.base_distribution, self.bijector)

    # ------------------------------------------------------------------ densities
    def log_prob(self, y) -> tf.Tensor:
        """Continuous log-density of `y` (shape `[..., *event_shape]`), shape `[...]`."""
        y, batch_shape = self._fold(y, "y")
        return tf.reshape(self._fast("log_prob", y), batch_shape)

    def _log_prob_folded(self, y):
        # One pass through the flow without TFP's per-bijector machinery (see bijectors/_walk.py);
        # equal to `self.distribution.log_prob(y)`.
        z, log_det, _ = walk(self._flow(), y, len(self.event_shape), forward=True)
        return self.base_distribution.log_prob(z) + log_det

    def dequantize(self, x, noise: bool = True) -> tf.Tensor:
        """`y = (x + u) / num_bins` with `u ~ U[0, 1)` (`noise=True`) or `u = 1/2` (the bin centre).

        `x` must hold integer levels in `[0, num_bins)`; continuous models return `x` as is.
        """
        x = self._discrete(x)
        if self.num_bins is None:
            return x
        u = keras.random.uniform(tf.shape(x), seed=self._noise, dtype=x.dtype) if noise else 0.5
        return (x + u) / self.num_bins

    def bits_per_dim(self, x, noise: bool = False) -> tf.Tensor:
        """Bits per dimension of data `x` (discrete in `[0, num_bins)`, or continuous if `num_bins` is None).

        Deterministic by default: `x` is dequantized to its bin centres. `noise=True`
        uses uniform dequantization as in training and the papers' test numbers.
        """
        return self._bits_per_dim(self.log_prob(self.dequantize(x, noise)))

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

    def call(self, inputs, training=False):
        return self.log_prob(inputs)

    # ------------------------------------------------------------------ latents and samples
    def encode(self, y) -> tf.Tensor:
        """Every latent of `y`, as one flat tensor `[..., D]` (factored-out parts included)."""
        y, batch_shape = self._fold(y, "y")
        z = self._fast("encode", y)
        return tf.reshape(z, tf.concat([batch_shape, [self.num_dims]], 0))

    def _encode_folded(self, y):
        return walk(self._flow(), y, len(self.event_shape), forward=True)[0]

    def decode(self, z, jit_compile: bool | None = None) -> tf.Tensor:
        """The `y` of flat latents `z` (`[..., D]`); `decode(encode(y)) == y` up to float error."""
        owner = f"{type(self).__name__}.decode"
        z = validation.as_real_tensor(z, owner, "z", self.flow_dtype)
        validation.check_batch(z, (self.num_dims,), owner, "z")
        z = validation.check_values(z, owner, "z")
        batch_shape = tf.shape(z)[:-1]
        y = self._fast("decode", tf.reshape(z, [-1, self.num_dims]), jit_compile=jit_compile)
        return tf.reshape(y, tf.concat([batch_shape, self.event_shape], 0))

    def _decode_folded(self, z):
        return walk(self._flow(), z, 1, forward=False)[0]

    def to_levels(self, y) -> tf.Tensor:
        """Displayable discrete levels of continuous `y`: `clip(floor(y * num_bins), 0, num_bins - 1)`, int32.

        openai/glow's postprocessing: a sample's density covers all of R^D, so some values
        fall outside `[0, 1)`; they are clipped to the nearest level. Needs `num_bins`.
        """
        if self.num_bins is None:
            raise ValueError(f"{type(self).__name__}.to_levels: the model is continuous (num_bins=None); it has no levels.")
        y = validation.as_real_tensor(y, f"{type(self).__name__}.to_levels", "y", self.flow_dtype)
        levels = tf.clip_by_value(tf.floor(y * self.num_bins), 0.0, self.num_bins - 1.0)
        return tf.cast(levels, tf.int32)

    def sample(self, n=1, temperature: float = 1.0, seed=None, jit_compile: bool | None = None) -> tf.Tensor:
        """Samples of `y`, shape `[*sample_shape, *event_shape]`; `n` is an int or a sample shape.

        `temperature` scales the base standard deviation (Glow's T). An int `seed` makes
        the samples reproducible. `jit_compile` runs the decoder under XLA (default: as the
        model was compiled). Samples are continuous and may leave `[0, 1)`:
        `to_levels(sample)` gives displayable levels.
        """
        owner = f"{type(self).__name__}.sample"
        sample_shape = validation.check_sample_shape(n, owner)
        temperature = validation.check_temperature(temperature, owner)
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seed = tf.constant([seed, 0], tf.int32)  # stateless: the same int seed gives the same samples
        elif seed is None:
            seed = self._noise.next()  # a fresh stateless seed per call, reproducible from the model's seed
        shape = (sample_shape,) if isinstance(sample_shape, (int, tf.Tensor)) else tuple(sample_shape)
        count = tf.reduce_prod(tf.cast(shape, tf.int32)) if shape else tf.constant(1)
        temperature = tf.cast(temperature, self.flow_dtype)
        seed = tf.cast(seed, tf.int32)
        if not tf.executing_eagerly():
            y = self._decode_folded(self._noise_flat(count, temperature, seed))
        else:  # one graph for the noise and the decoder; no eager checks of our own noise
            if jit_compile is None:
                jit_compile = bool(getattr(self, "compiled", False) and self.jit_compile is True)
            if jit_compile:  # the noise outside XLA: its random kernels differ from TensorFlow's own
                y = self._fast("decode", self._graph("noise", self._noise_specs())(count, temperature, seed), jit_compile=True)
            else:
                y = self._graph("sample", self._noise_specs())(count, temperature, seed)
        return tf.reshape(y, tf.concat([tf.cast(shape, tf.int32), self.event_shape], 0))

    def _noise_flat(self, count, temperature, seed):
        return self._base(1.0).sample(count, seed=seed) * temperature

    def _sample_flat(self, count, temperature, seed):
        return self._decode_folded(self._noise_flat(count, temperature, seed))

    def _noise_specs(self):
        return [tf.TensorSpec([], tf.int32), tf.TensorSpec([], self.flow_dtype), tf.TensorSpec([2], tf.int32)]

    def _graph(self, name: str, specs, jit_compile: bool = False):
        """`self._<name>_flat` as a `tf.function` cached per model (no retrace for new sizes)."""
        functions = _GRAPH_FUNCTIONS.setdefault(self, {})
        key = (name, bool(jit_compile))
        if key not in functions:
            model = weakref.ref(self)  # the cache must not keep the model alive
            method = f"_{name}_flat"
            functions[key] = tf.function(
                lambda *args: getattr(model(), method)(*args), input_signature=specs, jit_compile=bool(jit_compile),
                autograph=False,
            )
        return functions[key]

    def _support(self) -> dict:
        """Bounds of `y` that `log_prob` and `encode` accept (`low`/`high`); none for a density on all of R^D."""
        return {}

    def _fold(self, y, what):
        owner = type(self).__name__
        y = validation.as_real_tensor(y, owner, what, self.flow_dtype)
        validation.check_batch(y, self.event_shape, owner, what)
        y = validation.check_values(y, owner, what, **self._support())
        shape = tf.shape(y)
        batch_shape = shape[: tf.size(shape) - len(self.event_shape)]
        return tf.reshape(y, (-1,) + self.event_shape), batch_shape

    def _fast(self, name: str, folded: tf.Tensor, jit_compile: bool | None = None) -> tf.Tensor:
        """`self._<name>_folded(folded)`, as a graph function traced once per model when called eagerly.

        Eager calls (`model.log_prob(y)`, `model.sample(64)`) would otherwise run the flow
        op by op. The graph takes any batch size (`[None, *event]`), so a new batch size or
        temperature never retraces; inputs were checked eagerly before, with clear errors.
        Inside `fit`, `tf.function` or a SavedModel the plain ops run in the caller's graph.
        `jit_compile` (default: as the model was compiled) runs the graph under XLA.
        """
        method = f"_{name}_folded"
        if not tf.executing_eagerly():
            return getattr(self, method)(folded)
        if jit_compile is None:
            jit_compile = bool(getattr(self, "compiled", False) and self.jit_compile is True)
        functions = _GRAPH_FUNCTIONS.setdefault(self, {})
        key = (name, bool(jit_compile))
        if key not in functions:
            spec = tf.TensorSpec([None] + folded.shape.as_list()[1:], folded.dtype)
            model = weakref.ref(self)  # the cache must not keep the model alive
            functions[key] = tf.function(
                lambda x: getattr(model(), method)(x), input_signature=[spec], jit_compile=bool(jit_compile), autograph=False
            )
        return functions[key](folded)

    # ------------------------------------------------------------------ initialisation
    @property
    def is_initialized(self) -> bool:
        return bool(self._initialized.numpy() > 0)

    def initialize(self, x, discrete: bool = True) -> None:
        """Data-dependent initialisation (every ActNorm) from a batch; also run by the first `fit`.

        `x` is discrete data (dequantized here) or, with `discrete=False`, continuous `y`.
        One eager pass of the batch through the flow sets each ActNorm, in order, so that
        its output has zero mean and unit variance per channel. Under `tf.distribute` it
        runs before replication, on the whole first global batch, so every replica gets the
        same values; with several workers, each must see the same first batch (the same
        dataset and shuffle seed, as `data.load` gives).
        """
        y = self.dequantize(x) if discrete else x
        layers = [layer for layer in self._flatten_layers() if hasattr(layer, "initializing")]
        for layer in layers:
            layer.initializing = True
        try:
            log_prob = self._log_prob_folded(self._fold(y, "y")[0])  # eagerly: the layers initialise from the data
        finally:
            for layer in layers:
                layer.initializing = False
        if not np.all(np.isfinite(log_prob.numpy())):
            raise ValueError(f"{type(self).__name__}.initialize: the log-density of the init batch is not finite.")
        self._initialized.assign(1.0)

    # ------------------------------------------------------------------ training
    @property
    def metrics(self):
        # The list is read by callbacks for the metric directions; it holds no state of its own.
        return [self.loss_tracker, self.bpd_tracker, self._directed_metrics]

    def _nll(self, data, training):
        x = _take_images(keras.utils.unpack_x_y_sample_weight(data)[0])
        log_prob = self.log_prob(self.dequantize(x, noise=True))
        return -tf.reduce_mean(log_prob), tf.reduce_mean(self._bits_per_dim(log_prob))

    def train_step(self, data):
        # Under tf.distribute the optimizer sums the replicas' gradients: scale as Keras losses do.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            nll, bpd = self._nll(data, training=True)
            loss = (nll + (tf.add_n(self.losses) if self.losses else 0.0)) / replicas
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update_metrics(nll, bpd)

    def test_step(self, data):
        return self._update_metrics(*self._nll(data, training=False))

    def _update_metrics(self, nll, bpd):
        self.loss_tracker.update_state(nll)
        self.bpd_tracker.update_state(bpd)
        logs = {m.name: m.result() for m in (self.loss_tracker, self.bpd_tracker)}
        strategy = tf.distribute.get_strategy()
        if getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
            # Keras reduces step outputs across workers with reduce(MEAN, axis=0), which needs a
            # batch axis: give the (already aggregated) scalars one.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Keras builds a distributed model by reducing the first batch as one tensor, which fails for
        dict batches (TFDS images, speech `{"audio", "mel"}`). A flow's weights all exist after its
        constructor and it has no compiled losses or metrics: only the optimizer is left to build."""
        if self._distribute_strategy is None:
            return
        with self.distribute_strategy.scope():
            if self.optimizer is not None and not self.optimizer.built:
                self.optimizer.build(self.trainable_variables)

    def compile(self, optimizer=None, **kwargs):
        """Keras `compile`; without an optimizer, Adam(1e-3) with warmup and gradient clipping (`default_optimizer`)."""
        if optimizer is None:
            from tfp_flows.models.schedules import default_optimizer

            optimizer = default_optimizer(self.num_dims)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Restores the compiled state (optimizer included) when a saved model is loaded.

        Keras skips this for models that override `compile`, so it is spelled out here.
        """
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        first = self._discrete(_first_batch(x, batch_size), "the first batch of training data")  # fail early, eagerly
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a Dataset shuffles itself; Keras would only warn
        if not self.is_initialized:
            self.initialize(first)
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    def get_config(self):
        return dict(
            event_shape=list(self.event_shape), num_bins=self.num_bins, prior=self.prior, seed=self.seed,
            recompute=self.recompute, name=self.name, dtype=self.dtype_policy.name,
        )
