"""`FlowModel`'s Keras training hooks: `fit`, `compile`, train/test steps and metrics (a mixin of `FlowModel`)."""
from __future__ import annotations

import keras
import tensorflow as tf

from tfp_flows.models import conditioning
from tfp_flows.models._model_support import _first_batch, _init_rows, with_lean_graph_optimization


class KerasTraining:
    """`fit`/`evaluate` on discrete data with the negative log-likelihood as the loss.

    The model provides `loss_tracker`, `bpd_tracker`, `_directed_metrics`, `log_prob`,
    `dequantize`, `_discrete`, `_fold`, `_latent_and_log_prob`, `_bits_per_dim`,
    `training_conditioners` and `initialize`; this class must come before `keras.Model` in the bases.
    """

    @property
    def metrics(self):
        # The list is read by callbacks for the metric directions; it holds no state of its own.
        return [self.loss_tracker, self.bpd_tracker, self._directed_metrics]

    def _nll(self, data, training):
        x, labels, context = conditioning.split_batch(self, data, f"{type(self).__name__}.fit")
        # `dequantize` checks the levels `x`, so `y` needs no second check: it is finite and in [0, 1).
        if not self.condition_dim:
            y, _, _ = self._fold(self.dequantize(x, noise=True), "y", check_values=False)
            log_prob = self._fast("log_prob", y)
            return -tf.reduce_mean(log_prob), tf.reduce_mean(self._bits_per_dim(log_prob))
        c = conditioning.condition(self, labels, context, f"{type(self).__name__}.fit")
        y, c, _ = self._fold(self.dequantize(x, noise=True), "y", c, check_values=False)
        h, log_prob = self._latent_and_log_prob(y, c)
        nll = -tf.reduce_mean(log_prob)
        if self.label_classifier is not None:  # openai/glow's weight_y: a classifier of the latent before the class prior
            logits = tf.cast(self.label_classifier(h), self.flow_dtype)
            nll = nll + self.weight_y * tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(c, logits))
        return nll, tf.reduce_mean(self._bits_per_dim(log_prob))

    def train_step(self, data):
        # Under tf.distribute the optimizer sums the replicas' gradients: scale as Keras losses do.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape, self.training_conditioners():  # dropout in the training steps only
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

    def make_train_function(self, force=False):
        """Keras' training function, its graph optimised in one round (`lean_graph_optimization`)."""
        super().make_train_function(force)
        self.train_function = with_lean_graph_optimization(self.train_function)
        return self.train_function

    def make_test_function(self, force=False):
        """Keras' evaluation function, its graph optimised in one round (`lean_graph_optimization`)."""
        super().make_test_function(force)
        self.test_function = with_lean_graph_optimization(self.test_function)
        return self.test_function

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """Builds the optimizer eagerly, before `fit` traces its first step.

        Keras defers building an optimizer without a `tf.distribute` strategy into the traced
        train step, where every slot variable (Adam's two moments, the weight average) is
        created behind a `tf.cond` per variable: for a Glow that is hundreds of extra graph
        functions, a slower first step, and ~10-30 MB that TensorFlow never frees per `fit`.
        A flow's weights all exist after its constructor and it has no compiled losses or
        metrics, so the optimizer is all that is left to build. (Keras' own distributed
        build would also fail here: it reduces the first batch as one tensor, which dict
        batches such as TFDS images or speech `{"audio", "mel"}` are not.)
        """
        if self.optimizer is None or self.optimizer.built:
            return
        if self._distribute_strategy is None:
            self.optimizer.build(self.trainable_variables)
            return
        with self.distribute_strategy.scope():
            self.optimizer.build(self.trainable_variables)

    def compile(self, optimizer=None, fused_optimizer: bool = True, **kwargs):
        """Keras `compile`; without an optimizer, Adam(1e-3) with warmup and gradient clipping (`default_optimizer`).

        A `keras.optimizers.Adam` (or `"adam"`) is run as `FusedAdam`: the same object, arguments
        and arithmetic, with each variable's update one fused kernel, which halves the time to
        trace the first step of a small flow. `fused_optimizer=False` keeps Keras' own update.
        """
        from tfp_flows.models.optimizers import FusedAdam
        from tfp_flows.models.schedules import default_optimizer

        if optimizer is None:
            optimizer = default_optimizer(self.num_dims)
        elif fused_optimizer and isinstance(optimizer, str) and optimizer.lower() == "adam":
            optimizer = FusedAdam()
        elif fused_optimizer and type(optimizer) is keras.optimizers.Adam:
            optimizer.__class__ = FusedAdam  # in place: whoever holds the optimizer keeps seeing its state
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
        raw = _first_batch(x, batch_size, keep_targets=True)
        if y is not None and not isinstance(x, tf.data.Dataset):
            raw = (raw, y[_init_rows(len(y), batch_size)])  # the rows `_first_batch` took
        owner = f"{type(self).__name__}.fit"
        images, labels, context = conditioning.split_batch(self, raw, owner)  # fail early, eagerly
        first = self._discrete(images, "the first batch of training data")
        c = conditioning.condition(self, labels, context, owner)
        if c is not None:
            conditioning.fold_pair(first, self.event_shape, c, owner)  # the batches of data and labels/context agree
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a Dataset shuffles itself; Keras would only warn
        if not self.is_initialized:
            self.initialize(first, labels=labels, context=context)
        if "validation_data" in kwargs:
            kwargs["validation_data"] = without_autotune_thread(kwargs["validation_data"])
        return super().fit(without_autotune_thread(x), y, batch_size=batch_size, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """Keras' `evaluate`; a `tf.data.Dataset` is read as `fit` reads it (`without_autotune_thread`)."""
        return super().evaluate(without_autotune_thread(x), y, **kwargs)


def without_autotune_thread(data):
    """`data`, if a `tf.data.Dataset` whose autotuning the user left unset, read without tf.data's autotune thread.

    tf.data runs a thread per iterator that re-tunes the pipeline, at intervals that double up to
    a minute or more. Deleting the iterator (Keras does at the end of every `fit` and `evaluate`)
    waits for that thread to wake up, with both cores idle: `fit` calls on a Glow spent 0-129 s after
    their last step (5 of 21 calls of 1,000 steps on a busy machine; the waiting thread seen in
    `tf.data`'s `Model::OptimizeLoop`), and none of 6 without the thread. Without it, `AUTOTUNE`
    map parallelism runs at the number of cores and prefetch buffers size themselves as before,
    which is as fast for these pipelines. A dataset whose `options().autotune.enabled` the user set
    is left as it is, and so is anything that is not a `tf.data.Dataset`.
    """
    if not isinstance(data, tf.data.Dataset) or data.options().autotune.enabled is not None:
        return data
    options = tf.data.Options()
    options.autotune.enabled = False
    return data.with_options(options)
