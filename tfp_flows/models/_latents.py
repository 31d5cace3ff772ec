"""`FlowModel`'s latents and samples: `encode`, `decode`, `sample`, `to_levels` (a mixin of `FlowModel`)."""
from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors._walk import walk
from tfp_flows.models import conditioning, validation
from tfp_flows.models._model_support import _GRAPH_FUNCTIONS, entry_point, with_lean_graph_optimization


class LatentsAndSamples:
    """Encoding, decoding and sampling of a `FlowModel` (which provides `_full_flow`, `_fold`, `_fast`, `_base`)."""

    @entry_point
    def encode(self, y, labels=None, context=None) -> tf.Tensor:
        """Every latent of `y`, as one flat tensor `[..., D]` (factored-out parts included).

        Conditional models take `labels`/`context`: the latent is standard under the conditional prior.
        """
        c = conditioning.condition(self, labels, context, f"{type(self).__name__}.encode")
        y, c, batch_shape = self._fold(y, "y", c)
        z = self._fast("encode", y, c)
        return tf.reshape(z, tf.concat([batch_shape, [self.num_dims]], 0))

    def _encode_folded(self, y, c=None):
        flow = self._full_flow(fast=True)
        return walk(flow, y, len(self.event_shape), True, **self._routing(flow, c))[0]

    @entry_point
    def decode(self, z, jit_compile: bool | None = None, labels=None, context=None) -> tf.Tensor:
        """The `y` of flat latents `z` (`[..., D]`); `decode(encode(y)) == y` up to float error."""
        owner = f"{type(self).__name__}.decode"
        c = conditioning.condition(self, labels, context, owner)
        z = validation.as_real_tensor(z, owner, "z", self.flow_dtype)
        validation.check_batch(z, (self.num_dims,), owner, "z")
        z = validation.check_values(z, owner, "z")
        z, c, batch_shape = conditioning.fold_pair(z, (self.num_dims,), c, owner)
        y = self._fast("decode", z, c, jit_compile=jit_compile)
        return tf.reshape(y, tf.concat([batch_shape, self.event_shape], 0))

    def _decode_folded(self, z, c=None):
        flow = self._full_flow(fast=True)
        return walk(flow, z, 1, False, **self._routing(flow, c))[0]

    @entry_point
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

    @entry_point
    def sample(
        self, n=None, temperature: float = 1.0, seed=None, jit_compile: bool | None = None, labels=None, context=None,
    ) -> tf.Tensor:
        """Samples of `y`, shape `[*sample_shape, *event_shape]`; `n` is an int or a sample shape (default 1).

        `temperature` scales the base standard deviation (Glow's T). An int `seed` makes
        the samples reproducible. `jit_compile` runs the decoder under XLA (default: as the
        model was compiled). Samples are continuous and may leave `[0, 1)`:
        `to_levels(sample)` gives displayable levels.

        Conditional models take `labels` (shape `L`) or `context` (shape `[*L, C]`), whose
        batch shape `L` broadcasts to the sample shape as numpy broadcasts: `n` omitted
        means `sample_shape = L` (one sample per label / context row); `sample(16, labels=3)`
        gives 16 samples of class 3; `sample(16, labels=ls)` with `ls` of shape `[16]` one
        per label; `sample((K, m), labels=np.arange(K)[:, None])` a `[K, m, ...]` grid of
        `m` samples per class, and `sample((rows, n), context=c[:, None])` `n` per context row.
        """
        owner = f"{type(self).__name__}.sample"
        c = conditioning.condition(self, labels, context, owner)
        if n is None:
            n = 1 if c is None else conditioning.default_sample_shape(c, owner)
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
        if c is not None:
            c = conditioning.broadcast_to_sample_shape(c, shape, owner)
        args = (count, temperature, seed) + (() if c is None else (c,))
        if not tf.executing_eagerly():
            y = self._decode_folded(self._noise_flat(count, temperature, seed), c)
        else:  # one graph for the noise and the decoder; no eager checks of our own noise
            if jit_compile is None:
                jit_compile = bool(getattr(self, "compiled", False) and self.jit_compile is True)
            if jit_compile:  # the noise outside XLA: its random kernels differ from TensorFlow's own
                noise = self._graph("noise", self._noise_specs()[:3])(count, temperature, seed)
                y = self._fast("decode", noise, c, jit_compile=True)
            else:
                y = self._graph("sample", self._noise_specs())(*args)
        return tf.reshape(y, tf.concat([tf.cast(shape, tf.int32), self.event_shape], 0))

    def _noise_flat(self, count, temperature, seed):
        return self._base(1.0).sample(count, seed=seed) * temperature

    def _sample_flat(self, count, temperature, seed, c=None):
        return self._decode_folded(self._noise_flat(count, temperature, seed), c)

    def _noise_specs(self):
        specs = [tf.TensorSpec([], tf.int32), tf.TensorSpec([], self.flow_dtype), tf.TensorSpec([2], tf.int32)]
        if self.condition_dim:
            specs.append(tf.TensorSpec([None, self.condition_dim], self.flow_dtype))
        return specs

    def _graph(self, name: str, specs, jit_compile: bool = False):
        """`self._<name>_flat` as a `tf.function` cached per model (no retrace for new sizes)."""
        functions = _GRAPH_FUNCTIONS.setdefault(self, {})
        key = (name, bool(jit_compile))
        if key not in functions:
            model = weakref.ref(self)  # the cache must not keep the model alive
            method = f"_{name}_flat"
            functions[key] = with_lean_graph_optimization(tf.function(
                lambda *args: getattr(model(), method)(*args), input_signature=specs, jit_compile=bool(jit_compile),
                autograph=False,
            ))
        return functions[key]
