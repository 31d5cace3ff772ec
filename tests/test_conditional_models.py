"""Class-conditional image models and context-conditioned vector models: densities, sampling, classify, save/load, bad input."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import models

H, K, BINS = 4, 2, 4


def _toy_images(count, seed=0):
    """Two trivially separable classes of 4x4 images: class 0 in levels {0, 1}, class 1 in {2, 3}."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % K
    images = rng.integers(0, 2, size=(count, H, H, 1)) + 2 * labels[:, None, None, None]
    return images.astype("float32"), labels.astype("int32")


@pytest.fixture(scope="module")
def glow():
    # Seeded: the fit's dequantization noise otherwise follows whatever ran before in the worker
    # (accuracy 0.875-1.0 over seeds 0-5 after this short fit; 1.0 with this one).
    keras.utils.set_random_seed(0)
    model = models.Glow(
        event_shape=(H, H, 1), levels=1, steps=2, hidden_channels=8, num_bins=BINS, num_classes=K,
        condition_couplings=True, weight_y=0.1, seed=0, preprocessing="logit",  # logit: fit checks discrete x, not y
    )
    images, labels = _toy_images(64)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(tf.data.Dataset.from_tensor_slices((images, labels)).batch(32), epochs=2, verbose=0)
    return model


@pytest.fixture(scope="module")
def glow_split():
    """Two levels (a factored-out split with openai/glow's class-conditional split prior), weights perturbed."""
    model = models.Glow(
        event_shape=(H, H, 1), levels=2, steps=1, hidden_channels=8, num_bins=BINS, num_classes=K, condition_couplings=True
    )
    rng = np.random.default_rng(6)
    for weight in model.trainable_weights:
        weight.assign(weight + 0.1 * rng.normal(size=weight.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def vector():
    model = models.RealNVP(event_shape=(3,), num_bins=None, num_couplings=2, filters=8, hidden_layers=1, context_dim=2, seed=0)
    rng = np.random.default_rng(1)
    for weight in model.trainable_weights:  # random weights: a non-trivial conditional density
        weight.assign(0.3 * rng.normal(size=weight.shape).astype("float32"))
    return model


def test_classify_a_separable_toy_set_after_a_short_fit(glow):
    images, labels = _toy_images(32, seed=1)
    assert np.mean(glow.classify(images).numpy() == labels) >= 0.9
    proba = glow.predict_proba(images).numpy()
    np.testing.assert_allclose(proba.sum(-1), 1.0, atol=1e-5)
    y = glow.dequantize(images, noise=False)
    by_hand = tf.nn.softmax(tf.stack([glow.log_prob(y, labels=k) for k in range(K)], -1)).numpy()
    np.testing.assert_allclose(proba, by_hand, atol=1e-5)


def test_same_image_gets_different_densities_under_different_labels(glow):
    images, _ = _toy_images(4, seed=2)
    assert np.all(np.abs(glow.bits_per_dim(images, labels=0) - glow.bits_per_dim(images, labels=1)) > 1e-3)


def test_class_model_agrees_with_its_distribution_and_round_trips(glow_split):
    images, labels = _toy_images(6, seed=3)
    y = glow_split.dequantize(images, noise=False)
    dist_lp = glow_split.distribution.log_prob(y, bijector_kwargs=glow_split.bijector_kwargs(labels=labels))
    lp = glow_split.log_prob(y, labels=labels)
    np.testing.assert_allclose(lp, dist_lp, atol=1e-4)
    assert not np.allclose(glow_split.log_prob(y, labels=1 - labels), lp)
    z = glow_split.encode(y, labels=labels)
    np.testing.assert_allclose(glow_split.decode(z, labels=labels), y, atol=1e-4)
    assert not np.allclose(glow_split.encode(y, labels=1 - labels), z)
    # the split prior alone depends on the label too (openai/glow's split2d_prior with ycond)
    assert glow_split.split_priors[0].context_dim == K


def test_class_sampling_shapes_and_class_means(glow):
    labels = np.arange(6) % K
    grid = glow.sample((K, 3), labels=np.arange(K)[:, None], temperature=0.7, seed=1)
    assert grid.shape == (K, 3, H, H, 1)
    assert glow.sample(labels=labels).shape == (6, H, H, 1)  # one sample per label
    assert glow.sample(5, labels=1).shape == (5, H, H, 1)
    # the samples of class 1 are brighter than those of class 0, as the data
    means = [float(tf.reduce_mean(glow.sample(32, labels=k, seed=2))) for k in range(K)]
    assert means[1] > means[0]


def test_context_model_density_sampling_and_unknown_batch(vector):
    x = tf.constant(np.random.default_rng(2).normal(size=(5, 3)), tf.float32)
    c = tf.constant(np.random.default_rng(3).normal(size=(5, 2)), tf.float32)
    lp = vector.log_prob(x, context=c)
    assert not np.allclose(lp, vector.log_prob(x, context=c + 1.0))
    np.testing.assert_allclose(
        vector.distribution.log_prob(x, bijector_kwargs=vector.bijector_kwargs(context=c)), lp, atol=1e-4
    )
    np.testing.assert_allclose(vector.log_prob(x, context=c[0])[1], vector.log_prob(x[1:2], context=c[:1])[0], atol=1e-5)
    assert vector.sample(context=c).shape == (5, 3)
    assert vector.sample((5, 4), context=c[:, None]).shape == (5, 4, 3)
    np.testing.assert_allclose(vector.decode(vector.encode(x, context=c), context=c), x, atol=1e-4)
    fn = tf.function(lambda v, ctx: vector.log_prob(v, context=ctx),
                     input_signature=[tf.TensorSpec([None, 3]), tf.TensorSpec([None, 2])], autograph=False)
    np.testing.assert_allclose(fn(x, c), lp, atol=1e-4)


def test_float64_context_model():
    model = models.NICE(event_shape=(4,), num_bins=None, num_couplings=2, hidden_units=8, hidden_layers=1, context_dim=2, dtype="float64")
    x = np.random.default_rng(4).normal(size=(3, 4))
    lp = model.log_prob(x, context=np.ones((3, 2)))
    assert lp.dtype == tf.float64 and lp.shape == (3,)
    assert model.sample(context=np.ones((3, 2))).dtype == tf.float64


@pytest.mark.parametrize("which", ["glow", "vector"])
def test_keras_save_and_load_round_trip(which, glow, vector, tmp_path):
    model = glow if which == "glow" else vector
    path = os.path.join(tmp_path, "flow.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    if which == "glow":
        assert loaded.num_classes == K and loaded.condition_couplings and loaded.weight_y == 0.1
        images, labels = _toy_images(4, seed=5)
        np.testing.assert_allclose(loaded.bits_per_dim(images, labels=labels), glow.bits_per_dim(images, labels=labels), atol=1e-5)
    else:
        assert loaded.context_dim == 2
        x, c = np.ones((2, 3), "float32"), np.array([[0.5, -1.0], [2.0, 0.0]], "float32")
        np.testing.assert_allclose(loaded.log_prob(x, context=c), vector.log_prob(x, context=c), atol=1e-5)


@pytest.fixture(scope="module")
def plain():
    return models.NICE(event_shape=(4,), num_bins=None, num_couplings=1, hidden_units=4, hidden_layers=1)


def test_bad_conditioning_input_is_refused(glow, vector, plain):
    images, labels = _toy_images(4)
    x3 = np.zeros((2, 3), "float32")
    cases = [
        (lambda: glow.bits_per_dim(images, labels=[0, 1, 2, 0]), r"labels must lie in \[0, 2\).*got 2"),
        (lambda: glow.bits_per_dim(images, labels=[0, -1, 1, 0]), r"labels must lie in \[0, 2\).*got -1"),
        (lambda: glow.bits_per_dim(images), "class-conditional.*pass labels="),
        (lambda: glow.sample(4), "class-conditional.*pass labels="),
        (lambda: glow.bits_per_dim(images, context=np.zeros((4, 2))), "pass labels=, not context="),
        (lambda: glow.sample(4, labels=[0, 1]), "does not broadcast to the sample shape"),
        (lambda: glow.fit(images, epochs=1, verbose=0), "needs labels"),
        (lambda: vector.log_prob(x3, context=np.zeros((2, 5))), r"context of shape \[..., 2\].*got shape \(2, 5\)"),
        (lambda: vector.log_prob(x3), "context-conditional"),
        (lambda: vector.log_prob(x3, labels=[0, 1]), "pass context=, not labels="),
        (lambda: plain.log_prob(np.zeros((2, 4)), labels=[0, 1]), "unconditional"),
        (lambda: plain.sample(2, context=np.zeros((2, 2))), "unconditional"),
        (lambda: plain.fit(np.zeros((8, 4)), np.zeros(8), epochs=1, verbose=0), "unconditional.*silently drop"),
        (lambda: plain.fit(tf.data.Dataset.from_tensor_slices((np.zeros((8, 4)), np.zeros(8))).batch(4), epochs=1, verbose=0),
         "unconditional.*silently drop"),
        (lambda: models.NICE(event_shape=(4,), num_bins=None, num_classes=1), "num_classes as an integer >= 2"),
        (lambda: models.NICE(event_shape=(4,), num_bins=None, num_classes=2, context_dim=2), "not both"),
        (lambda: models.NICE(event_shape=(4,), num_bins=None, weight_y=1.0), "weight_y.*needs num_classes"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_unconditional_models_keep_their_config(plain):
    config = plain.get_config()
    assert config["num_classes"] is None and config["context_dim"] is None and not config["condition_couplings"]
    assert plain.conditional_prior is None and plain.bijector_kwargs() == {}
