"""NICE, RealNVP and Glow as Keras models: training, likelihood bookkeeping, latents, samples, saving."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from conftest import autodiff_log_det
from tfp_flows import models

MODELS = {"NICE": models.NICE, "RealNVP": models.RealNVP, "Glow": models.Glow}


def _digits(n=192):
    images = load_digits().images[:n].astype(np.float32)  # values 0..16, num_bins = 17
    return images[..., None]


@pytest.fixture(scope="module", params=sorted(MODELS))
def trained(request):
    """A tiny-preset model, its NLL on digits before and after a short fit (traced once per module)."""
    keras.utils.set_random_seed(1)
    model = MODELS[request.param].from_preset("tiny")
    x = _digits()
    assert not model.is_initialized
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    history = model.fit(x, batch_size=32, epochs=4, verbose=0, shuffle=True)
    return dict(name=request.param, model=model, x=x, history=history.history)


def test_fit_lowers_nll_and_logs_bits_per_dim(trained):
    history = trained["history"]
    assert set(history) == {"loss", "bits_per_dim"}
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0] - 1.0, history
    assert history["bits_per_dim"][-1] < history["bits_per_dim"][0], history
    # the logged metric is the bits/dim of the logged loss (D = 64, 17 bins)
    d = 64
    expected = (np.array(history["loss"]) + d * math.log(17)) / (d * math.log(2))
    np.testing.assert_allclose(history["bits_per_dim"], expected, rtol=1e-4)


def test_first_fit_ran_data_dependent_init(trained):
    model = trained["model"]
    assert model.is_initialized
    actnorms = [layer for layer in model._flatten_layers() if type(layer).__name__ == "ActNormLayer"]
    if trained["name"] == "NICE":
        assert not actnorms
    else:
        assert actnorms and all(float(layer.initialized.numpy()) == 1.0 for layer in actnorms)
        assert any(float(tf.reduce_max(tf.abs(layer.log_scale))) > 0 for layer in actnorms)


def test_evaluate_reports_bits_per_dim(trained):
    result = trained["model"].evaluate(trained["x"][:64], batch_size=32, verbose=0, return_dict=True)
    assert set(result) == {"loss", "bits_per_dim"}
    assert 0.0 < result["bits_per_dim"] < 8.0


def test_log_prob_matches_distribution_and_bits_per_dim_matches_hand_computation(trained):
    model, x = trained["model"], trained["x"][:8]
    y = model.dequantize(x, noise=False)
    np.testing.assert_allclose(model.log_prob(y).numpy(), model.distribution.log_prob(y).numpy(), rtol=1e-5, atol=1e-4)  # graph (model) vs eager (distribution) float order
    np.testing.assert_allclose(y.numpy(), (x + 0.5) / 17.0, rtol=1e-6)
    log_prob = model.log_prob(y).numpy()
    by_hand = -(log_prob - 64 * np.log(17)) / (64 * np.log(2))
    np.testing.assert_allclose(model.bits_per_dim(x).numpy(), by_hand, rtol=1e-5)


def test_encode_decode_reconstructs(trained):
    model = trained["model"]
    y = model.dequantize(trained["x"][:16])
    z = model.encode(y)
    assert z.shape == (16, 64)
    assert float(tf.reduce_max(tf.abs(model.decode(z) - y))) < 1e-4
    # extra batch dimensions fold and unfold
    assert model.encode(tf.reshape(y, (2, 8, 8, 8, 1))).shape == (2, 8, 64)


def test_log_prob_equals_change_of_variables_with_autodiff(trained):
    """log p(y) = log base(encode(y)) + log|det d encode / dy|, Jacobian of the whole model by autodiff."""
    model = trained["model"]
    y = model.dequantize(trained["x"][:3])
    log_det = autodiff_log_det(model.encode, y)
    base = model.base_distribution.log_prob(model.encode(y)).numpy()
    np.testing.assert_allclose(model.log_prob(y).numpy(), base + log_det, rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_samples(trained, temperature):
    model = trained["model"]
    samples = model.sample(5, temperature=temperature, seed=3)
    assert samples.shape == (5, 8, 8, 1)
    assert bool(tf.reduce_all(tf.math.is_finite(samples)))
    if temperature == 0.0:  # the mode path: every sample is the decoded zero latent
        np.testing.assert_allclose(samples.numpy(), np.broadcast_to(model.decode(tf.zeros([1, 64])).numpy(), samples.shape), atol=1e-5)


def test_unknown_batch_dimension_in_tf_function(trained, monkeypatch):
    from tensorflow.python.autograph.impl import api as autograph_api

    converted = []  # what AutoGraph transpiles while the user's tf.functions trace
    convert = autograph_api._convert_actual
    monkeypatch.setattr(autograph_api, "_convert_actual", lambda f, *a: converted.append(f.__module__) or convert(f, *a))
    model = trained["model"]
    spec = tf.TensorSpec([None, 8, 8, 1], tf.float32)
    log_prob = tf.function(model.log_prob, input_signature=[spec])
    encode = tf.function(model.encode, input_signature=[spec])
    decode = tf.function(model.decode, input_signature=[tf.TensorSpec([None, 64], tf.float32)])
    y = model.dequantize(trained["x"][:5])
    np.testing.assert_allclose(log_prob(y).numpy(), model.log_prob(y).numpy(), rtol=1e-5, atol=1e-4)
    assert log_prob(y[:1]).shape == (1,)
    assert float(tf.reduce_max(tf.abs(decode(encode(y)) - y))) < 1e-4
    # The model's Python is static: AutoGraph calls it as written (transpiling it cost seconds per trace).
    assert not [m for m in converted if m.startswith("tfp_flows")], converted


def test_keras_save_and_load_round_trip(trained, tmp_path):
    model = trained["model"]
    path = tmp_path / "flow.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is type(model) and restored.is_initialized
    y = model.dequantize(trained["x"][:4], noise=False)
    np.testing.assert_array_equal(restored.log_prob(y).numpy(), model.log_prob(y).numpy())
    assert restored.count_params() == model.count_params()


def test_log_prob_is_finite_at_the_edges_of_the_unit_cube(trained):
    model = trained["model"]
    just_below_one = np.nextafter(np.float32(1.0), np.float32(0.0))
    edges = np.stack([np.zeros((8, 8, 1)), np.full((8, 8, 1), just_below_one), np.ones((8, 8, 1)),
                      np.indices((8, 8))[0][..., None] % 2 * just_below_one]).astype(np.float32)
    log_prob = model.log_prob(edges).numpy()
    assert np.isfinite(log_prob).all(), log_prob
    y = tf.constant(edges)
    assert float(tf.reduce_max(tf.abs(model.decode(model.encode(y)) - y))) < 1e-4


def test_trained_1x1_convolutions_stay_invertible(trained):
    convs = [layer for layer in trained["model"]._flatten_layers() if type(layer).__name__ == "Invertible1x1ConvLayer"]
    if trained["name"] != "Glow":
        assert not convs
        return
    assert convs
    for layer in convs:
        weight = layer.bijector().weight().numpy()
        assert np.isfinite(weight).all() and np.linalg.cond(weight) < 1e4
        np.testing.assert_allclose(np.linalg.slogdet(weight)[1], float(tf.reduce_sum(layer.log_scale)), atol=1e-4)


def test_an_int_seed_makes_samples_reproducible(trained):
    model = trained["model"]
    first, again = model.sample(3, seed=5).numpy(), model.sample(3, seed=5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, model.sample(3, seed=6).numpy())


def test_glow_coupling_networks_start_at_the_size_rules_scale():
    from tfp_flows.networks import glow_initial_scale
    from tfp_flows.networks.glow_conv import FIRST_STEP_BUDGET, MAX_INITIAL_SCALE

    assert glow_initial_scale(64, 8) == MAX_INITIAL_SCALE  # small models: the cap
    for hidden, couplings in [(128, 24), (512, 96), (64, 64)]:  # larger: the first-step budget binds
        scale = glow_initial_scale(hidden, couplings)
        assert scale < MAX_INITIAL_SCALE and scale * hidden * couplings == pytest.approx(FIRST_STEP_BUDGET)
    assert glow_initial_scale(512, 96) < glow_initial_scale(128, 24) < glow_initial_scale(64, 8)

    def starting_scales(model):
        nets = np.concatenate([np.exp(3.0 * net.conv_out.logs.numpy()) for net in model.nets])
        priors = np.concatenate([np.exp(3.0 * prior.logs.numpy()) for prior in model.split_priors])
        return nets, priors

    model = models.Glow.from_preset("tiny")
    nets, priors = starting_scales(model)
    expected = glow_initial_scale(model.hidden_channels, model.levels * model.steps)
    np.testing.assert_allclose(nets, expected, rtol=1e-5)
    np.testing.assert_allclose(priors, 0.3, rtol=1e-5)
    assert model.get_config()["coupling_initial_scale"] is None
    chosen = models.Glow.from_preset("tiny", coupling_initial_scale=1.0)
    np.testing.assert_allclose(starting_scales(chosen)[0], 1.0, rtol=1e-5)
    assert models.Glow.from_config(chosen.get_config()).coupling_initial_scale == 1.0
    for bad in (0.0, -1.0, "1", True):
        with pytest.raises(ValueError, match="Glow: expected coupling_initial_scale"):
            models.Glow.from_preset("tiny", coupling_initial_scale=bad)


def test_glow_split_prior_clamp_is_saved_and_older_configs_load_unbounded():
    config = models.Glow.from_preset("tiny").get_config()
    assert config["split_prior_clamp"] == 2.0
    assert models.Glow.from_config(config).split_priors[0].clamp == 2.0
    saved_before_the_clamp = {key: value for key, value in config.items() if key != "split_prior_clamp"}
    assert models.Glow.from_config(saved_before_the_clamp).split_priors[0].clamp is None
    for bad in (0.0, -1.0, "2", True):
        with pytest.raises(ValueError, match="split_prior_clamp > 0 or None"):
            models.Glow.from_preset("tiny", split_prior_clamp=bad)
