"""Writes (and checks) a trained `FlowModel` as a SavedModel TF Serving can load, atomically.

Each signature is traced once (`_endpoints.SignatureArchive`: the variables the traced
functions capture are what the SavedModel holds). Every signature takes and returns plain tensors, so the
SavedModel runs with nothing but TensorFlow: no tfp_flows, TFP or Keras at load time.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import tensorflow as tf

from tfp_flows import _messages
from tfp_flows.export._endpoints import SignatureArchive

# name -> (input names, output names); the first is also `serving_default`.
SIGNATURES = {
    "log_prob": (("x",), ("log_prob",)),
    "bits_per_dim": (("x",), ("bits_per_dim",)),
    "sample": (("num_samples", "temperature"), ("x", "levels")),  # levels: models with num_bins
    "encode": (("x",), ("z",)),
    "decode": (("z",), ("x",)),
}
# Conditional models: every signature above also takes `labels` (int32 [None]; sample: [num_samples]) or
# `context` (float32 [None, C]; sample: [num_samples, C] or [1, C] for all); class-conditional ones add:
CLASSIFY_SIGNATURE = {"classify": (("x",), ("labels", "probabilities"))}


def save(model, export_dir: str, version: int = 1, overwrite: bool = False) -> str:
    """Writes `model` to `export_dir/<version>/` (the layout TF Serving watches); returns that path.

    Signatures (float32 unless said otherwise; the batch dimension is dynamic):
      * `serving_default` and `log_prob`: `x [None, *event_shape]` continuous -> `log_prob [None]`
      * `bits_per_dim`: `x [None, *event_shape]` discrete in `[0, num_bins)` -> `bits_per_dim [None]`
        (deterministic: bin centres)
      * `sample`: `num_samples` int32 scalar, `temperature` scalar -> `x [num_samples, *event_shape]`
        (continuous; may leave [0, 1)) and, for discrete data, `levels` (int32 in `[0, num_bins)`,
        clipped and quantised as openai/glow's postprocessing: displayable pixels)
      * `encode`: `x [None, *event_shape]` -> `z [None, D]`;  `decode`: `z [None, D]` -> `x`

    Class-conditional models (`num_classes=K`) take `labels` (int32 `[None]`, one per row
    of `x`/`z`; `sample`: `[num_samples]`) in every signature, and add `classify`:
    `x [None, *event_shape]` discrete -> `labels` int32 `[None]` (Bayes' rule) and
    `probabilities` float32 `[None, K]`. Context-conditioned models (`context_dim=C`) take
    `context` (float32 `[None, C]`, one row per row of `x`/`z`; `sample`: `num_samples`
    rows, or one row for all samples). Labels out of `[0, K)` and contexts of the wrong
    shape fail with a message naming the input.

    The SavedModel is written to a temporary directory beside the target and renamed into
    place, so TF Serving never sees a half-written version and a failed export leaves
    nothing behind. An existing version is replaced only with `overwrite=True`.

    Raises:
      ValueError: a model that is not a `FlowModel`, `version < 1`, or an existing version without
        `overwrite=True`.

    >>> import tempfile
    >>> from tfp_flows import export
    >>> try:  # export.save(model, "serving/flow", version=1) -> "serving/flow/1" (docs: Export and TF Serving)
    ...     export.save("flow.keras", tempfile.mkdtemp())
    ... except ValueError as error:
    ...     print(error)
    export.save: expected a tfp_flows FlowModel, got str.
    """
    from tfp_flows.models import FlowModel

    if not isinstance(model, FlowModel):
        raise ValueError(f"export.save: expected a tfp_flows FlowModel, got {type(model).__name__}.")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"export.save: expected an integer version >= 1, got {version!r}.")
    export_dir = os.path.abspath(export_dir)
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise FileExistsError(f"export.save: {target} already exists; pass overwrite=True (CLI: --overwrite) to replace it.")
    os.makedirs(export_dir, exist_ok=True)

    tmp = tempfile.mkdtemp(dir=export_dir, prefix=f".tmp-{version}-")
    try:
        _archive(model).write_out(tmp)
        if os.path.exists(target):
            old = tempfile.mkdtemp(dir=export_dir, prefix=f".old-{version}-")
            os.replace(target, os.path.join(old, "model"))
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load(path: str):
    """Loads an exported version directory with TensorFlow, or says clearly why it cannot.

    Returns the loaded object; its `.signatures` are the endpoints of `SIGNATURES`.

    Args:
      path: an exported version directory, `export_dir/<version>`.

    Raises:
      FileNotFoundError: no `saved_model.pb` there.
      ValueError: a truncated or corrupt SavedModel, or one lacking the signatures (not written by
        tfp_flows).

    >>> import tempfile
    >>> from tfp_flows import export
    >>> try:
    ...     export.load(tempfile.mkdtemp())
    ... except FileNotFoundError as error:
    ...     print("no saved_model.pb" in str(error))
    True
    """
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise FileNotFoundError(f"export.load: no saved_model.pb in {path}: not an exported version directory.")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as error:
        detail = _messages.reason(error)
        raise ValueError(f"export.load: the SavedModel in {path} is truncated or corrupt ({type(error).__name__}: {detail}).") from None
    from tfp_flows.export import waveglow

    expected = waveglow.SIGNATURES if "infer" in loaded.signatures else SIGNATURES  # a vocoder or a density model
    missing = sorted(set(expected) - set(loaded.signatures))
    if missing:
        raise ValueError(f"export.load: the SavedModel in {path} lacks the signatures {missing}; was it written by tfp_flows?")
    return loaded


def _archive(model) -> SignatureArchive:
    if hasattr(model, "infer"):  # WaveGlow: waveforms given mels
        from tfp_flows.export import waveglow

        return waveglow.archive(model)
    event = tuple(model.event_shape)
    image = tf.TensorSpec((None,) + event, tf.float32, name="x")
    latent = tf.TensorSpec((None, model.num_dims), tf.float32, name="z")
    archive = SignatureArchive()
    event_text = ", ".join(str(d) for d in event)
    condition = _Condition(model)

    def checked_image(x):
        return _checked(x, event, f"x: expected float32 [None, {event_text}]")

    def checked_latent(z):
        return _checked(z, (model.num_dims,), f"z: expected float32 [None, {model.num_dims}]")

    def sample(num_samples, temperature, *given):
        asserts = [
            tf.debugging.assert_positive(num_samples, message="num_samples: expected an int32 > 0"),
            tf.debugging.assert_non_negative(temperature, message="temperature: expected a float32 >= 0"),
        ]
        with tf.control_dependencies(asserts):
            if given:
                # The conditional prior lives in `decode(z, labels/context)`: standard base noise at the temperature,
                # decoded given the condition, is `model.sample` (whose sample shape must be static with a condition).
                kwargs = condition.for_samples(num_samples, *given)
                noise = model.base_distribution.sample(tf.identity(num_samples)) * tf.cast(temperature, model.flow_dtype)
                y = model.decode(noise, **kwargs)
            else:
                y = model.sample(tf.identity(num_samples), temperature=tf.identity(temperature))
        out = {"x": _float32(y)}
        if model.num_bins is not None:
            out["levels"] = model.to_levels(y)
        return out

    def log_prob(x, *given):
        x = checked_image(x)
        return {"log_prob": _float32(model.log_prob(x, **condition.for_rows(x, *given)))}

    def bits_per_dim(x, *given):
        x = checked_image(x)
        return {"bits_per_dim": _float32(model.bits_per_dim(x, **condition.for_rows(x, *given)))}

    def encode(x, *given):
        x = checked_image(x)
        return {"z": _float32(model.encode(x, **condition.for_rows(x, *given)))}

    def decode(z, *given):
        z = checked_latent(z)
        return {"x": _float32(model.decode(z, **condition.for_rows(z, *given)))}

    def classify(x):
        probabilities = model.predict_proba(checked_image(x))
        return {"labels": tf.cast(tf.argmax(probabilities, axis=-1), tf.int32), "probabilities": _float32(probabilities)}

    given = condition.specs()
    endpoints = {
        "log_prob": (log_prob, [image, *given]),
        "bits_per_dim": (bits_per_dim, [image, *given]),
        "sample": (sample, [tf.TensorSpec((), tf.int32, name="num_samples"), tf.TensorSpec((), tf.float32, name="temperature"), *given]),
        "encode": (encode, [image, *given]),
        "decode": (decode, [latent, *given]),
        "classify": (classify, [image]),
    }
    names = list(SIGNATURES) + (list(CLASSIFY_SIGNATURE) if condition.num_classes else [])
    for name in names:  # log_prob first: it also becomes serving_default
        fn, signature = endpoints[name]
        archive.add_endpoint(name, fn, signature)
    return archive


class _Condition:
    """The `labels` or `context` input of a conditional model's signatures (none for unconditional models)."""

    def __init__(self, model):
        self.model = model
        self.num_classes = int(getattr(model, "num_classes", None) or 0)
        self.context_dim = int(getattr(model, "context_dim", None) or 0)

    def specs(self) -> list:
        if self.num_classes:
            return [tf.TensorSpec((None,), tf.int32, name="labels")]
        if self.context_dim:
            return [tf.TensorSpec((None, self.context_dim), tf.float32, name="context")]
        return []

    def for_rows(self, x, *given) -> dict:
        """The model's keyword for a batch `x`: one label or context row per row of `x`, checked."""
        if not given:
            return {}
        rows = tf.shape(x)[0]
        if self.num_classes:
            return {"labels": self._labels(given[0], rows, "one per row of the input")}
        return {"context": self._context(given[0], rows, "one row per row of the input")}

    def for_samples(self, num_samples, *given) -> dict:
        if not given:
            return {}
        if self.num_classes:
            return {"labels": self._labels(given[0], num_samples, "one per sample (num_samples)")}
        context = given[0]
        rows = tf.shape(context)[0]
        check = tf.debugging.Assert(
            tf.logical_or(tf.equal(rows, num_samples), tf.equal(rows, 1)),
            [f"context: expected [num_samples, {self.context_dim}] or [1, {self.context_dim}] rows; got", rows,
             "rows for num_samples =", num_samples], summarize=4)
        with tf.control_dependencies([check]):
            context = tf.broadcast_to(context, tf.stack([num_samples, self.context_dim]))
        return {"context": self._context(context, num_samples, "one row per sample")}

    def _labels(self, labels, rows, what):
        k = self.num_classes
        checks = [
            tf.debugging.Assert(tf.equal(tf.size(labels), rows), [f"labels: expected int32 [None], {what}; got", tf.size(labels),
                                                                  "labels for", rows, "rows"], summarize=4),
            tf.debugging.Assert(tf.reduce_all((labels >= 0) & (labels < k)),
                                [f"labels: expected class ids in [0, {k}), got", labels], summarize=16),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(labels)

    def _context(self, context, rows, what):
        check = tf.debugging.Assert(
            tf.logical_and(tf.equal(tf.shape(context)[0], rows), tf.reduce_all(tf.math.is_finite(context))),
            [f"context: expected finite float32 [None, {self.context_dim}], {what}; got shape", tf.shape(context), "for", rows, "rows"],
            summarize=8)
        with tf.control_dependencies([check]):
            return tf.cast(context, self.model.flow_dtype)


def _float32(x):
    """Signatures speak float32 whatever the model computes in (float64 models included)."""
    return tf.cast(x, tf.float32)


def _checked(x, event_shape, message):
    """`x`, after a run-time check of its rank and event shape (TF Serving does not check shapes)."""
    shape = tf.shape(x)
    expected = tf.constant(event_shape, tf.int32)
    rank_ok = tf.equal(tf.size(shape), len(event_shape) + 1)
    # Pad with -1 so the slice exists whatever the rank; it is the event shape when the rank is right.
    event = tf.slice(tf.concat([shape, -tf.ones_like(expected)], 0), [1], [len(event_shape)])
    shape_ok = tf.logical_and(rank_ok, tf.reduce_all(tf.equal(event, expected)))
    check = tf.debugging.Assert(shape_ok, [f"{message}, got shape", shape], summarize=8)
    with tf.control_dependencies([check]):
        check = tf.debugging.Assert(shape[0] > 0, [f"{message}, got an empty batch of shape", shape], summarize=8)
    with tf.control_dependencies([check]):
        return tf.identity(x)
