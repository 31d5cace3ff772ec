"""Conditioning inputs of `FlowModel`s: class labels (`num_classes=K`) and context vectors (`context_dim=C`).

Both become one conditioning tensor `c` of shape `[..., K]` (the one-hot label) or
`[..., C]` (the context) that the conditional prior and, when asked, the coupling
networks read through TFP's `conditional_input` keyword (see `tfp_flows.bijectors.coupling`).
Every check here says what was expected and what came.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors._base import batch_shape_of
from tfp_flows.models import validation
from tfp_flows.models._model_support import entry_point

LABEL_KEYS = ("label", "labels")
CONTEXT_KEYS = ("context",)
IMAGE_KEYS = ("image", "x")


def check_settings(num_classes, context_dim, weight_y, owner: str) -> None:
    """Raises `ValueError` for an impossible combination of conditioning settings."""
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2):
        raise ValueError(f"{owner}: expected num_classes as an integer >= 2 or None, got {num_classes!r}.")
    if context_dim is not None and (isinstance(context_dim, bool) or not isinstance(context_dim, (int, np.integer)) or context_dim < 1):
        raise ValueError(f"{owner}: expected context_dim as an integer >= 1 or None, got {context_dim!r}.")
    if num_classes is not None and context_dim is not None:
        raise ValueError(
            f"{owner}: a model conditions on labels (num_classes) or on a context (context_dim), not both; "
            "for both, pass the one-hot label inside the context."
        )
    if not isinstance(weight_y, (int, float)) or weight_y < 0:
        raise ValueError(f"{owner}: expected weight_y >= 0, got {weight_y!r}.")
    if weight_y and num_classes is None:
        raise ValueError(f"{owner}: weight_y (the auxiliary classification loss) needs num_classes.")


def one_hot_labels(labels, num_classes: int, owner: str, dtype) -> tf.Tensor:
    """Checked integer labels in `[0, num_classes)` (any shape) as one-hot `[..., num_classes]` of `dtype`."""
    try:
        labels = tf.convert_to_tensor(labels)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{owner}: expected integer labels, got {type(labels).__name__} ({error}).") from None
    if labels.dtype.is_floating:
        labels = validation.check_values(labels, owner, "labels", integer=True)
    elif not labels.dtype.is_integer or labels.dtype.is_bool:
        raise ValueError(f"{owner}: expected integer labels, got dtype {labels.dtype.name}.")
    labels = tf.cast(labels, tf.int32)
    if tf.executing_eagerly():
        values = labels.numpy()
        bad = values[(values < 0) | (values >= num_classes)]
        if bad.size:
            raise ValueError(
                f"{owner}: labels must lie in [0, {num_classes}) (num_classes={num_classes}), got {int(bad.flat[0])} "
                f"({bad.size} of {values.size} out of range)."
            )
    else:
        in_range = tf.reduce_all((labels >= 0) & (labels < num_classes))
        message = f"{owner}: labels must lie in [0, {num_classes}) (num_classes={num_classes}); min, max:"
        with tf.control_dependencies([tf.debugging.Assert(in_range, [message, tf.reduce_min(labels), tf.reduce_max(labels)])]):
            labels = tf.identity(labels)
    return tf.one_hot(labels, num_classes, dtype=dtype)


def checked_context(context, context_dim: int, owner: str, dtype) -> tf.Tensor:
    """A finite `[..., context_dim]` context of `dtype`."""
    context = validation.as_real_tensor(context, owner, "context", dtype)
    if context.shape.rank == 0 or (context.shape.rank is not None and context.shape[-1] is not None and context.shape[-1] != context_dim):
        raise ValueError(
            f"{owner}: expected context of shape [..., {context_dim}] (context_dim={context_dim}), "
            f"got shape {tuple(context.shape.as_list()) if context.shape.rank is not None else 'unknown'}."
        )
    return validation.check_values(context, owner, "context")


def condition(model, labels, context, owner: str, required: bool = True):
    """The conditioning tensor `c` of `model` (`[..., K]` one-hot or `[..., C]` context), or None.

    Refuses labels for a context model, a context for a class model, either for an
    unconditional model, and (with `required`) a conditional model called without one.
    """
    if model.num_classes is None and model.context_dim is None:
        if labels is not None or context is not None:
            given = "labels" if labels is not None else "context"
            raise ValueError(
                f"{owner}: got {given}=, but this model is unconditional (built without num_classes or context_dim); "
                f"build it with {'num_classes=K' if given == 'labels' else 'context_dim=C'} to condition on {given}."
            )
        return None
    if model.num_classes is not None:
        if context is not None:
            raise ValueError(f"{owner}: this model is class-conditional (num_classes={model.num_classes}); pass labels=, not context=.")
        if labels is None:
            if required:
                raise ValueError(
                    f"{owner}: this model is class-conditional (num_classes={model.num_classes}); pass labels= "
                    f"(integers in [0, {model.num_classes}))."
                )
            return None
        return one_hot_labels(labels, model.num_classes, owner, model.flow_dtype)
    if labels is not None:
        raise ValueError(f"{owner}: this model is conditioned on a context (context_dim={model.context_dim}); pass context=, not labels=.")
    if context is None:
        if required:
            raise ValueError(f"{owner}: this model is context-conditional; pass context= of shape [..., {model.context_dim}].")
        return None
    return checked_context(context, model.context_dim, owner, model.flow_dtype)


def fold_pair(x: tf.Tensor, event_shape, c: tf.Tensor | None, owner: str):
    """`(x [N, *event], c [N, D] or None, batch_shape)` with the batches of `x` and `c` broadcast together."""
    event_ndims = len(event_shape)
    batch_shape = batch_shape_of(x, event_ndims)
    if c is not None:
        x_batch, c_batch = x.shape[: x.shape.rank - event_ndims], c.shape[:-1]
        try:
            tf.broadcast_static_shape(x_batch, c_batch)
        except ValueError:
            raise ValueError(
                f"{owner}: the batch shape {c_batch.as_list()} of the labels/context does not broadcast against the "
                f"batch shape {x_batch.as_list()} of the data."
            ) from None
        if not (x_batch.is_fully_defined() and c_batch.is_fully_defined() and x_batch == c_batch):
            batch_shape = tf.broadcast_dynamic_shape(batch_shape, tf.shape(c)[:-1])
            x = tf.broadcast_to(x, tf.concat([batch_shape, event_shape], 0))
            c = tf.broadcast_to(c, tf.concat([batch_shape, tf.shape(c)[-1:]], 0))
        c = tf.reshape(c, [-1, c.shape[-1]])
    if x.shape.rank != event_ndims + 1:  # else already [N, *event]
        x = tf.reshape(x, (-1,) + tuple(event_shape))
    return x, c, batch_shape


def split_batch(model, data, owner: str):
    """`(images, labels, context)` of one training batch: `x`, `(x, y)` or a dict.

    The second element of a pair is the labels of a class-conditional model or the context
    of a context-conditional one; a dict gives them under "label"/"labels" or "context".
    An unconditional model refuses pairs with a second element: Keras would drop it silently.
    """
    if isinstance(data, tuple):
        x, y = (data + (None, None))[:2]
    else:
        x, y = data, None
    extra = {}
    if isinstance(x, dict):
        extra = x
        key = next((k for k in IMAGE_KEYS if k in x), None)
        if key is None:
            raise ValueError(f"{owner}: expected a dict with an 'image' entry, got keys {sorted(x)}.")
        x = x[key]
    conditional = model.num_classes is not None or model.context_dim is not None
    if not conditional:
        if y is not None:
            raise ValueError(
                f"{owner}: got (data, labels) pairs, but this model is unconditional (Keras would silently drop the labels); "
                "pass the data alone, or build the model with num_classes=K (labels) or context_dim=C (context)."
            )
        return x, None, None
    keys = LABEL_KEYS if model.num_classes is not None else CONTEXT_KEYS
    if y is None:
        y = next((extra[k] for k in keys if k in extra), None)
    if isinstance(y, dict):
        y = next((y[k] for k in keys if k in y), None)
    if y is None:
        what = f"labels (num_classes={model.num_classes})" if model.num_classes is not None else f"a context (context_dim={model.context_dim})"
        raise ValueError(
            f"{owner}: this model is conditional and needs {what} with every batch: give (data, {keys[0]}) pairs "
            f"or dicts with a {keys[0]!r} entry."
        )
    if model.num_classes is not None:
        return x, y, None
    return x, None, y


def broadcast_to_sample_shape(c: tf.Tensor, sample_shape, owner: str) -> tf.Tensor:
    """`c` (`[*L, D]`) broadcast to `[*sample_shape, D]` and folded to `[count, D]`; `L` must broadcast to it.

    The check is static when the sample shape is made of ints; a sample size given as a
    tensor (inside a `tf.function` or a SavedModel signature) broadcasts at run time.
    """
    if all(isinstance(d, (int, np.integer)) for d in sample_shape):
        shape = tuple(int(d) for d in sample_shape)
        batch = tuple(c.shape[:-1].as_list())
        try:
            joint = np.broadcast_shapes(tuple(1 if d is None else d for d in batch), shape)
        except ValueError:
            joint = None
        if joint != shape:
            raise ValueError(
                f"{owner}: the labels/context batch shape {batch} does not broadcast to the sample shape {shape}; "
                "omit n for one sample per label/context row, or give n a shape they broadcast to "
                "(e.g. n=(rows, m) with context[:, None] for m samples per row)."
            )
    shape = tf.cast(tf.stack([tf.cast(d, tf.int32) for d in sample_shape]), tf.int32) if sample_shape else tf.zeros([0], tf.int32)
    c = tf.broadcast_to(c, tf.concat([shape, [c.shape[-1]]], 0))
    return tf.reshape(c, [-1, c.shape[-1]])


def default_sample_shape(c: tf.Tensor, owner: str):
    """The sample shape of `sample(labels=...)` / `sample(context=...)` without `n`: the condition's batch shape."""
    batch = c.shape[:-1]
    if batch.is_fully_defined():
        return tuple(batch.as_list())
    if batch.rank == 1:
        return tf.shape(c)[0]  # one unknown batch dimension (a SavedModel signature's labels [None])
    raise ValueError(f"{owner}: cannot take the sample shape from labels/context of unknown shape {c.shape}; pass n.")


class ConditionalMethods:
    """Entries of conditional `FlowModel`s: TFP kwargs for the distribution and Bayes-rule classification."""

    def bijector_kwargs(self, labels=None, context=None) -> dict:
        """`bijector_kwargs` for `model.distribution.log_prob(y, bijector_kwargs=...)` and `.sample(n, bijector_kwargs=...)`.

        TFP's nested routing by bijector name (see `tfp_flows.bijectors.conditional_kwargs`),
        with the one-hot label or the context as every conditional bijector's `conditional_input`.
        """
        from tfp_flows.bijectors._walk import conditional_kwargs

        c = condition(self, labels, context, f"{type(self).__name__}.bijector_kwargs")
        return {} if c is None else conditional_kwargs(self.bijector, c)

    @entry_point
    def class_log_likelihoods(self, x, discrete: bool = True) -> tf.Tensor:
        """`log p(x | k)` for every class `k`, shape `[..., num_classes]` (class-conditional models).

        `x` is discrete data in `[0, num_bins)` (dequantized to its bin centres, the
        continuous density of `y`), or continuous `y` with `discrete=False`.
        """
        owner = f"{type(self).__name__}.classify"
        if self.num_classes is None:
            raise ValueError(f"{owner}: needs a class-conditional model (built with num_classes=K); this one has none.")
        y = self.dequantize(x, noise=False) if discrete else x
        y, _, batch_shape = self._fold(y, "y")
        count = tf.shape(y)[0]
        per_class = []
        for k in range(self.num_classes):  # one cached graph, called once per class
            c = tf.one_hot(tf.fill([count], k), self.num_classes, dtype=self.flow_dtype)
            per_class.append(self._fast("log_prob", y, c))
        out = tf.stack(per_class, axis=-1)
        return tf.reshape(out, tf.concat([batch_shape, [self.num_classes]], 0))

    @entry_point
    def predict_proba(self, x, discrete: bool = True) -> tf.Tensor:
        """`p(k | x)` by Bayes' rule with a uniform class prior: `softmax_k log p(x | k)`, shape `[..., num_classes]`."""
        return tf.nn.softmax(self.class_log_likelihoods(x, discrete), axis=-1)

    @entry_point
    def classify(self, x, discrete: bool = True) -> tf.Tensor:
        """The most likely class of each `x` (`argmax_k p(x | k)`, a uniform class prior), int32 `[...]`."""
        return tf.argmax(self.class_log_likelihoods(x, discrete), axis=-1, output_type=tf.int32)
