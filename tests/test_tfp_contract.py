"""Full TFP citizens: live parameters, any batch and sample shape, TFP compositions, float64, the whole support."""
from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from cases import CASES, build
from conftest import autodiff_log_det
from tfp_flows import bijectors as fb
from tfp_flows import models

tfb, tfd = tfp.bijectors, tfp.distributions
BATCH_SHAPES = [(), (3,), (2, 3)]
SAMPLE_SHAPES = [(), 5, (2, 3)]


class StrictConv(keras.layers.Layer):
    """A Conv2D that, like every Keras conv layer, only takes `[N, H, W, C]`: proves the folding."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, 3, padding="same", kernel_initializer=keras.initializers.RandomNormal(0, 0.3, seed=1))

    def call(self, x):
        if x.shape.rank != 4:
            raise ValueError(f"StrictConv takes [N, H, W, C], got shape {x.shape}")
        return self.conv(x)


def keras_cases():
    return {
        "affine_conv2d": (fb.AffineCoupling(StrictConv(4), "channel", (4, 4, 4)), (4, 4, 4)),
        "additive_checkerboard_conv2d": (fb.AdditiveCoupling(StrictConv(2), "checkerboard", (4, 4, 2)), (4, 4, 2)),
        "factor_out_conv2d_prior": (
            fb.FactorOut(tfb.Reshape(event_shape_out=(4, 4, 1), event_shape_in=(16,)), (4, 4, 2), prior=StrictConv(2)),
            (32,),
        ),
    }


ALL_CASES = sorted(CASES) + sorted(keras_cases())


def _build(name, dtype):
    if name in CASES:
        return build(name, dtype)
    bijector, shape = keras_cases()[name]
    return bijector, shape


def _input(shape, dtype, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(0, 1, shape).astype(dtype))


# ---------------------------------------------------------------------------------------------- bijectors
@pytest.mark.parametrize("name", ALL_CASES)
def test_bijector_takes_any_batch_shape_and_agrees_with_the_flat_batch(name):
    bijector, event_shape = _build(name, np.float32)
    flat = _input((6,) + tuple(event_shape), np.float32)
    y_flat = bijector.forward(flat)
    fldj_flat = bijector.forward_log_det_jacobian(flat, len(event_shape))
    y_event = tuple(bijector.forward_event_shape(event_shape).as_list())
    for batch in BATCH_SHAPES:
        n = int(np.prod(batch))
        x = tf.reshape(flat[:n], batch + tuple(event_shape))
        y = bijector.forward(x)
        assert tuple(y.shape) == batch + y_event
        np.testing.assert_allclose(tf.reshape(y, (n,) + y_event), y_flat[:n], rtol=1e-5, atol=1e-5)
        fldj = bijector.forward_log_det_jacobian(x, len(event_shape))
        np.testing.assert_allclose(np.broadcast_to(fldj, batch), np.reshape(np.broadcast_to(fldj_flat, [6])[:n], batch), rtol=1e-5, atol=1e-4)
        x_back = bijector.inverse(tf.identity(y))
        assert tuple(x_back.shape) == batch + tuple(event_shape)
        np.testing.assert_allclose(x_back, x, rtol=1e-4, atol=1e-4)
        ildj = bijector.inverse_log_det_jacobian(tf.identity(y), len(y_event))
        np.testing.assert_allclose(np.broadcast_to(ildj, batch), -np.broadcast_to(fldj, batch), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ALL_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bijector_properties_tfp_checks(name, dtype):
    """What TFP's bijector_test_util asserts: bijective and finite with batch dims, consistent log-dets, event shapes."""
    bijector, event_shape = _build(name, dtype)
    if name not in CASES and dtype == np.float64:
        pytest.skip("the Keras conditioners of these cases are float32 layers")
    x = _input((2, 3) + tuple(event_shape), dtype, seed=5)
    y = bijector.forward(x)
    assert y.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(bijector.inverse(tf.identity(y))))
    y_event = bijector.forward_event_shape(event_shape)
    assert bijector.inverse_event_shape(y_event).as_list() == list(event_shape)
    assert list(bijector.forward_event_shape_tensor(event_shape).numpy()) == y_event.as_list()
    assert list(bijector.inverse_event_shape_tensor(y_event.as_list()).numpy()) == list(event_shape)
    fldj = bijector.forward_log_det_jacobian(x, len(event_shape))
    fresh, _ = _build(name, dtype) if name in CASES else (bijector, None)
    ildj = fresh.inverse_log_det_jacobian(tf.identity(y), y_event.rank)
    assert np.all(np.isfinite(fldj))
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(np.broadcast_to(fldj, (2, 3)), -np.broadcast_to(ildj, (2, 3)), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_log_det_matches_autodiff_to_1e_10(name):
    bijector, event_shape = build(name, np.float64)
    x = _input((2,) + tuple(event_shape), np.float64, seed=6)
    expected = autodiff_log_det(bijector.forward, x)
    fldj = bijector.forward_log_det_jacobian(x, len(event_shape))
    np.testing.assert_allclose(np.broadcast_to(fldj, expected.shape), expected, rtol=1e-10, atol=1e-10)


def test_bijector_parameters_are_read_when_used():
    """Like `tfb.Scale(tf.Variable(...))`: variables are listed, get gradients, and assignments take effect."""
    shift, log_scale = tf.Variable([0.5, -1.0]), tf.Variable([0.1, 0.2])
    bijectors = {
        "actnorm": (fb.ActNorm(shift, log_scale, event_ndims=1), [shift, log_scale]),
        "scaling": (fb.Scaling(log_scale), [log_scale]),
    }
    lu = {k: tf.Variable(v) if k in ("lower", "upper", "log_scale") else v for k, v in fb.Invertible1x1Conv.initial_lu(2, seed=0).items()}
    bijectors["conv1x1_lu"] = (fb.Invertible1x1Conv(**lu, event_ndims=1), [lu["lower"], lu["upper"], lu["log_scale"]])
    matrix = tf.Variable(fb.Invertible1x1Conv.initial_matrix(2, seed=0))
    bijectors["conv1x1_plain"] = (fb.Invertible1x1Conv(matrix, event_ndims=1), [matrix])
    x = tf.constant([[1.0, 2.0], [-0.5, 0.3]])
    for name, (bijector, variables) in bijectors.items():
        assert {id(v) for v in bijector.trainable_variables} == {id(v) for v in variables}, name
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(bijector.forward(x) ** 2) + tf.reduce_sum(bijector.forward_log_det_jacobian(x, 1))
        assert all(g is not None for g in tape.gradient(loss, variables)), name
        before = bijector.forward(x).numpy()
        for v in variables:
            v.assign_add(0.25 * tf.ones_like(v))
        assert not np.allclose(bijector.forward(x).numpy(), before), f"{name} ignored an assign()"


def test_deferred_tensors_are_read_when_used():
    raw = tf.Variable([1.0, 2.0])
    scale = tfp.util.DeferredTensor(raw, tf.math.log)  # log_scale = log(raw), recomputed at every use
    bijector = fb.Scaling(scale)
    assert len(bijector.trainable_variables) == 1
    np.testing.assert_allclose(bijector.forward(tf.ones([1, 2])), [[1.0, 2.0]], rtol=1e-6)
    raw.assign([3.0, 4.0])
    np.testing.assert_allclose(bijector.forward(tf.ones([1, 2])), [[3.0, 4.0]], rtol=1e-6)


def test_keras_variables_are_accepted_and_live():
    shift = keras.Variable(np.zeros(2, np.float32))
    log_scale = keras.Variable(np.zeros(2, np.float32))
    bijector = fb.ActNorm(shift, log_scale, event_ndims=1)
    assert len(bijector.trainable_variables) == 2
    log_scale.assign([np.log(2.0), 0.0])
    np.testing.assert_allclose(bijector.forward(tf.ones([1, 2])), [[2.0, 1.0]], rtol=1e-6)


def test_masks_keep_infinities_in_place():
    mask = fb.make_mask("checkerboard", (2, 2, 1))
    x = tf.constant([[[[np.inf], [1.0]], [[2.0], [3.0]]]])
    x_a, x_b = mask.split(x)
    assert not np.any(np.isnan(x_a)) and not np.any(np.isnan(mask.merge(x_a, x_b)))
    coupling = fb.AdditiveCoupling(lambda x_a: tf.zeros_like(x_a), "checkerboard", (2, 2, 1))
    y = coupling.forward(x).numpy()
    assert np.isinf(y[0, 0, 0, 0]) and np.isfinite(y[0, 0, 1, 0]) and np.isfinite(y[0, 1, 1, 0])


# ---------------------------------------------------------------------------------------------- models
@pytest.fixture(scope="module")
def tiny_models():
    return {
        "glow": models.Glow(event_shape=(4, 4, 1), levels=1, steps=2, hidden_channels=8, num_bins=17, seed=0),
        "realnvp": models.RealNVP(event_shape=(4, 4, 1), num_scales=2, res_blocks=1, filters=8, num_bins=17, seed=0),
        "nice": models.NICE(event_shape=(4, 4, 1), num_couplings=2, hidden_units=16, hidden_layers=1, num_bins=17, seed=0),
        "realnvp_vector": models.RealNVP(event_shape=(5,), num_couplings=2, filters=8, num_bins=None, seed=0),
        "jet": models.Jet.from_preset("tiny", event_shape=(4, 4, 1), num_bins=17, seed=0),
        "glow_spline": models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=8, num_bins=17, seed=0, coupling="spline"),
    }


def _y(model, batch, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(0.05, 0.95, tuple(batch) + model.event_shape).astype(np.float32))


@pytest.mark.parametrize("name", ["glow", "realnvp", "nice", "realnvp_vector", "jet", "glow_spline"])
def test_model_entries_take_any_batch_and_sample_shape(tiny_models, name):
    model = tiny_models[name]
    flat = _y(model, (6,))
    reference = model.log_prob(flat).numpy()
    for batch in BATCH_SHAPES:
        n = int(np.prod(batch))
        y = tf.reshape(flat[:n], batch + model.event_shape)
        np.testing.assert_allclose(model.distribution.log_prob(y), np.reshape(reference[:n], batch), rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(model.log_prob(y), np.reshape(reference[:n], batch), rtol=1e-5, atol=1e-3)
        z = model.encode(y)
        assert tuple(z.shape) == batch + (model.num_dims,)
        np.testing.assert_allclose(model.decode(z), y, atol=1e-4)
        if model.num_bins is not None:
            assert tuple(model.bits_per_dim(tf.floor(y * 17)).shape) == batch
    for sample_shape in SAMPLE_SHAPES:
        expected = (sample_shape,) if isinstance(sample_shape, int) else sample_shape
        assert tuple(model.sample(sample_shape, seed=1).shape) == expected + model.event_shape
        samples = model.distribution.sample(sample_shape, seed=(1, 2))
        assert tuple(samples.shape) == expected + model.event_shape
        assert tuple(model.distribution.log_prob(samples).shape) == expected


def test_model_entries_under_tf_function_with_unknown_batch(tiny_models):
    model = tiny_models["glow"]
    log_prob = tf.function(model.distribution.log_prob, input_signature=[tf.TensorSpec([None, None, 4, 4, 1])])
    y = tf.reshape(_y(model, (6,)), (2, 3, 4, 4, 1))
    np.testing.assert_allclose(log_prob(y), model.log_prob(y), rtol=1e-5, atol=1e-3)


def test_flows_compose_with_tfp_distributions(tiny_models):
    glow = tiny_models["glow"]
    dist = glow.distribution
    y = _y(glow, (3,))
    expected = glow.log_prob(y).numpy()

    joint = tfd.JointDistributionSequential([dist, lambda image: tfd.Normal(tf.reduce_mean(image, [-3, -2, -1]), 1.0)])
    sample = joint.sample(4, seed=(3, 4))
    assert tuple(sample[0].shape) == (4, 4, 4, 1) and tuple(joint.log_prob(sample).shape) == (4,)
    np.testing.assert_allclose(joint.log_prob([y, tf.zeros([3])]), expected + tfd.Normal(tf.reduce_mean(y, [1, 2, 3]), 1.0).log_prob(0.0), rtol=1e-5)

    independent = tfd.Independent(tfd.TransformedDistribution(dist.distribution, dist.bijector), reinterpreted_batch_ndims=0)
    np.testing.assert_allclose(independent.log_prob(y), expected, rtol=1e-5)

    inverted = tfd.TransformedDistribution(dist, tfb.Invert(glow.bijector))  # y -> z: back to the base
    z = glow.encode(y)
    np.testing.assert_allclose(inverted.log_prob(z), glow.base_distribution.log_prob(z), rtol=1e-4, atol=1e-3)

    mixture = tfd.Mixture(tfd.Categorical(logits=[0.0, 0.0]), [dist, tiny_models["nice"].distribution])
    both = np.stack([expected, tiny_models["nice"].log_prob(y).numpy()])
    np.testing.assert_allclose(mixture.log_prob(y), np.log(0.5) + np.logaddexp(both[0], both[1]), rtol=1e-5)
    assert tuple(mixture.sample(2, seed=(5, 6)).shape) == (2, 4, 4, 1)


def test_whole_support_for_glow_and_nice_and_bounded_realnvp(tiny_models):
    for name in ("glow", "nice"):
        model = tiny_models[name]
        z = model.encode(_y(model, (4,))) * 25.0  # far in the tails: decodes well outside [0, 1]
        y = model.decode(z)
        assert np.any((y.numpy() < 0) | (y.numpy() > 1)), name
        assert np.all(np.isfinite(model.log_prob(y))), name
        np.testing.assert_allclose(model.encode(y), z, rtol=1e-3, atol=1e-2)
        levels = model.to_levels(y).numpy()
        assert levels.dtype == np.int32 and levels.min() >= 0 and levels.max() <= 16
    realnvp = tiny_models["realnvp"]
    with pytest.raises(ValueError, match=r"must lie in \[0.0, 1.0\]"):
        realnvp.log_prob(tf.fill((1, 4, 4, 1), 1.5))
    with pytest.raises(ValueError, match="alpha as a finite number in \\(0, 0.5\\)"):
        models.RealNVP(event_shape=(4, 4, 1), num_scales=1, res_blocks=1, filters=4, num_bins=17, alpha=0.0)


FLOAT64_MODELS = {
    "glow": lambda: models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, num_bins=17, seed=0, dtype="float64"),
    "realnvp": lambda: models.RealNVP(event_shape=(4, 4, 1), num_scales=1, res_blocks=1, filters=4, num_bins=17, seed=0, dtype="float64"),
    "nice": lambda: models.NICE(event_shape=(4, 4, 1), num_couplings=2, hidden_units=8, hidden_layers=1, num_bins=17, seed=0, dtype="float64"),
}


@pytest.mark.parametrize("name", sorted(FLOAT64_MODELS))
def test_float64_end_to_end(name):
    model = FLOAT64_MODELS[name]()
    assert {w.dtype for w in model.trainable_weights} == {"float64"}
    y = tf.constant(np.random.default_rng(0).uniform(0.1, 0.9, (2, 4, 4, 1)))
    assert model.log_prob(y).dtype == tf.float64 and model.sample(2, seed=0).dtype == tf.float64
    assert model.distribution.dtype == tf.float64 and model.bits_per_dim(tf.zeros((1, 4, 4, 1))).dtype == tf.float64
    # The model's log-det against autodiff, in float64, to 1e-10.
    flow = model.bijector
    expected = autodiff_log_det(flow.inverse, y)
    np.testing.assert_allclose(flow.inverse_log_det_jacobian(y, 3), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        lambda: models.Jet.from_preset("tiny", event_shape=(4, 4, 1), num_bins=17, dtype="float64"),
        lambda: models.WaveGlow.from_preset("tiny", dtype="float64"),
        lambda: models.Glow(event_shape=(4, 4, 1), levels=1, steps=1, hidden_channels=4, num_bins=17,
                            dequantization="variational", dtype="float64"),
    ],
    ids=["jet", "waveglow", "variational"],
)
def test_float32_only_models_refuse_float64_clearly(make):
    with pytest.raises(ValueError, match="computes in float32 only, got dtype 'float64'"):
        make()


def test_16_bit_dtypes_are_refused():
    with pytest.raises(ValueError, match="16 bits"):
        models.NICE(event_shape=(4,), num_couplings=1, hidden_units=4, hidden_layers=1, num_bins=None, dtype="bfloat16")


# ---------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    return load_digits().images[:128, ::2, ::2, None].astype(np.float32)  # 4x4 digits, values 0..16


def test_held_distribution_stays_live_through_fit_and_reaches_every_weight(digits):
    model = models.Glow(event_shape=(4, 4, 1), levels=1, steps=2, hidden_channels=8, num_bins=17, seed=1)
    dist = model.distribution
    y = model.dequantize(digits[:16], noise=False)
    before = dist.log_prob(y).numpy()
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(digits, batch_size=32, epochs=2, verbose=0)
    after = dist.log_prob(y).numpy()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, model.log_prob(y), rtol=1e-6, atol=1e-5)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(dist.log_prob(y))
    grads = tape.gradient(loss, model.trainable_weights)
    assert [w.path for w, g in zip(model.trainable_weights, grads) if g is None] == []
    held = {id(v) for v in dist.trainable_variables}
    assert held == {id(w.value) for w in model.trainable_weights}


def test_tfp_style_custom_loop_on_a_held_distribution_trains_the_whole_model(digits):
    model = models.Glow(event_shape=(4, 4, 1), levels=1, steps=2, hidden_channels=8, num_bins=17, seed=2)
    model.initialize(digits[:64])
    dist = model.distribution  # taken once, as a TFP user would
    optimizer = keras.optimizers.Adam(1e-2)
    start = [w.numpy().copy() for w in model.trainable_weights]
    y = model.dequantize(digits[:64], noise=False)
    first = float(-tf.reduce_mean(dist.log_prob(y)))
    for _ in range(5):  # 5 eager steps of Adam(1e-2) lower the NLL by ~3 nats
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(dist.log_prob(y))
        grads = tape.gradient(loss, dist.trainable_variables)
        optimizer.apply_gradients(zip(grads, dist.trainable_variables))
    assert float(-tf.reduce_mean(dist.log_prob(y))) < first - 1.0
    unchanged = [w.path for w, s in zip(model.trainable_weights, start) if np.array_equal(w.numpy(), s)]
    assert unchanged == []


def test_early_stopping_knows_bits_per_dim_is_minimised(digits):
    model = models.NICE(event_shape=(4, 4, 1), num_couplings=2, hidden_units=8, hidden_layers=1, num_bins=17, seed=0)
    model.compile()
    stop = keras.callbacks.EarlyStopping(monitor="val_bits_per_dim", patience=1)
    model.fit(digits[:64], validation_data=(digits[64:96],), epochs=1, batch_size=32, verbose=0, callbacks=[stop])
    assert stop.monitor_op is not None
    assert stop._is_improvement(1.0, 2.0) and not stop._is_improvement(2.0, 1.0)
