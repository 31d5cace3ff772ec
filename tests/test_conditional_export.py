"""SavedModels of conditional models: labels / context inputs, classify, core TensorFlow ops only."""
from __future__ import annotations


import numpy as np
import pytest
import tensorflow as tf

from conftest import non_core_ops
from tfp_flows import export, models
from tfp_flows.layers.conditional_prior import ConditionalPriorLayer
from tfp_flows.training.sample_quality import real_train_digits


def _trained_priors(model, seed):
    """Random conditional-prior weights (they start at zero, where every label gives the same density)."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, ConditionalPriorLayer):
            for weight in (layer.kernel, layer.bias):
                weight.assign(rng.normal(0, 0.2, weight.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    # NICE: the cheapest model to trace; 3 classes keep classify's one log_prob per class small.
    images, labels = real_train_digits()
    by_class = _trained_priors(models.NICE.from_preset("tiny", num_classes=3, seed=0), 0)
    by_class.initialize(images[:128].astype(np.float32), labels=labels[:128] % 3)
    by_context = _trained_priors(models.RealNVP.from_preset("tabular_tiny", event_shape=(3,), context_dim=2, seed=0), 1)
    root = tmp_path_factory.mktemp("conditional_export")
    return dict(
        by_class=by_class, by_context=by_context,
        class_path=export.save(by_class, str(root / "by_class")),
        context_path=export.save(by_context, str(root / "by_context")),
    )


@pytest.fixture(scope="module")
def loaded(exported):
    """Both SavedModels loaded once in this process (loading costs about a second each)."""
    return {name: tf.saved_model.load(exported[f"{name}_path"]) for name in ("class", "context")}


def test_signatures_take_labels_or_context(loaded):
    by_class = loaded["class"].signatures
    assert set(by_class) == {"serving_default", "log_prob", "bits_per_dim", "sample", "encode", "decode", "classify"}
    for name in ("log_prob", "bits_per_dim", "sample", "encode", "decode"):
        spec = by_class[name].structured_input_signature[1]["labels"]
        assert spec.dtype == tf.int32 and spec.shape.as_list() == [None], name
    assert set(by_class["classify"].structured_outputs) == {"labels", "probabilities"}
    by_context = loaded["context"].signatures
    assert "classify" not in by_context
    for name in ("log_prob", "bits_per_dim", "sample", "encode", "decode"):
        spec = by_context[name].structured_input_signature[1]["context"]
        assert spec.dtype == tf.float32 and spec.shape.as_list() == [None, 2], name


def test_signatures_match_the_models_with_core_ops_only(exported, loaded):
    """The signatures against the models, in this process; the ops are TensorFlow's core ops, so a
    TensorFlow-only process (TF Serving) loads them: test_export reloads the image models that way."""
    for name in ("class", "context"):
        assert not non_core_ops(exported[f"{name}_path"]), name
    by_class, by_context = exported["by_class"], exported["by_context"]
    images, _ = real_train_digits()
    x = images[200:204].astype(np.float32)
    labels = np.array([2, 1, 0, 1], np.int32)
    y = by_class.dequantize(x, noise=False).numpy()
    z = by_class.encode(y, labels=labels).numpy()
    v = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    context = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    class_sig, context_sig = loaded["class"].signatures, loaded["context"].signatures
    t_labels, t_context = tf.constant(labels), tf.constant(context)
    got = {
        "class_log_prob": class_sig["log_prob"](x=tf.constant(y), labels=t_labels)["log_prob"],
        "class_bits_per_dim": class_sig["bits_per_dim"](x=tf.constant(x), labels=t_labels)["bits_per_dim"],
        "class_encode": class_sig["encode"](x=tf.constant(y), labels=t_labels)["z"],
        "class_decode": class_sig["decode"](z=tf.constant(z), labels=t_labels)["x"],
        "class_sample": class_sig["sample"](num_samples=tf.constant(4), temperature=tf.constant(0.7), labels=t_labels)["x"],
        "classify_labels": class_sig["classify"](x=tf.constant(x))["labels"],
        "classify_probabilities": class_sig["classify"](x=tf.constant(x))["probabilities"],
        "context_log_prob": context_sig["log_prob"](x=tf.constant(v), context=t_context)["log_prob"],
        "context_sample": context_sig["sample"](num_samples=tf.constant(4), temperature=tf.constant(1.0), context=t_context)["x"],
        "context_sample_one_row": context_sig["sample"](num_samples=tf.constant(3), temperature=tf.constant(1.0),
                                                        context=t_context[:1])["x"],
    }
    got = {key: value.numpy() for key, value in got.items()}
    tol = dict(rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got["class_log_prob"], by_class.log_prob(y, labels=labels).numpy(), **tol)
    np.testing.assert_allclose(got["class_bits_per_dim"], by_class.bits_per_dim(x, labels=labels).numpy(), **tol)
    np.testing.assert_allclose(got["class_encode"], z, **tol)
    np.testing.assert_allclose(got["class_decode"], by_class.decode(z, labels=labels).numpy(), **tol)
    assert got["class_sample"].shape == (4, 8, 8, 1) and np.isfinite(got["class_sample"]).all()
    np.testing.assert_allclose(got["classify_probabilities"], by_class.predict_proba(x).numpy(), **tol)
    np.testing.assert_array_equal(got["classify_labels"], np.asarray(by_class.classify(x)))
    np.testing.assert_allclose(got["classify_probabilities"].sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(got["context_log_prob"], by_context.log_prob(v, context=context).numpy(), **tol)
    assert got["context_sample"].shape == (4, 3) and got["context_sample_one_row"].shape == (3, 3)
    # the conditioning reaches the signature: other labels, other densities
    other = by_class.log_prob(y, labels=(labels + 1) % 3).numpy()
    assert np.abs(other - got["class_log_prob"]).max() > 1e-3


def test_bad_labels_and_context_name_the_input(loaded):
    by_class = loaded["class"].signatures
    x = tf.fill([2, 8, 8, 1], 3.0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels: expected class ids in \[0, 3\)"):
        by_class["bits_per_dim"](x=x, labels=tf.constant([1, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels: expected int32 \\[None\\], one per row of the input"):
        by_class["log_prob"](x=x / 17.0, labels=tf.constant([1, 2, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"labels: expected int32 \[None\], one per sample"):
        by_class["sample"](num_samples=tf.constant(3), temperature=tf.constant(1.0), labels=tf.constant([1, 2]))
    by_context = loaded["context"].signatures
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"context: expected finite float32 \[None, 2\]"):
        by_context["log_prob"](x=tf.zeros([2, 3]), context=tf.zeros([3, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"context: expected \[num_samples, 2\] or \[1, 2\] rows"):
        by_context["sample"](num_samples=tf.constant(3), temperature=tf.constant(1.0), context=tf.zeros([2, 2]))
