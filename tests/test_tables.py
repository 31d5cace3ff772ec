"""RealNVP on tables: the vector permutations, dropout in the training steps only, old saved models, init rows."""
from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import autodiff_log_det
from tfp_flows import models
from tfp_flows.bijectors import Invertible1x1Conv
from tfp_flows.layers import Invertible1x1ConvLayer
from tfp_flows.models._model_support import _first_batch
from tfp_flows.networks import MLP

D = 5


def _rows(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, D)) * [1.0, 2.0, 0.5, 3.0, 1.0] + [0.0, 5.0, -1.0, 2.0, 0.5]).astype(np.float32)


def _vector_model(**kwargs):
    keras.utils.set_random_seed(0)
    kwargs = dict(event_shape=(D,), num_couplings=3, filters=8, hidden_layers=1, num_bins=None, standardize=True, seed=0, **kwargs)
    model = models.RealNVP(**kwargs)
    model.initialize(_rows(), discrete=False)
    rng = np.random.default_rng(1)  # away from the identity start (zero heads, a bare permutation)
    for variable in model.trainable_variables:
        variable.assign(variable.numpy() + rng.normal(0, 0.2, variable.shape).astype(np.float32))
    return model


@pytest.fixture(scope="module")
def fitted():
    """The default vector model (linear mixing, dropout 0.2) after a short `fit` on an array."""
    keras.utils.set_random_seed(0)
    model = models.RealNVP.from_preset("tabular_tiny", event_shape=(D,))
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _rows(256)
    history = model.fit(x, batch_size=64, epochs=3, verbose=0)
    return model, x, history.history["loss"]


def test_vector_defaults():
    plain = models.RealNVP(event_shape=(D,), num_couplings=2, filters=8, hidden_layers=1, num_bins=None)
    assert (plain.permutation, plain.dropout) == ("linear", 0.2)
    assert len(plain.linears) == 2 and all(net.dropout == 0.2 for net in plain.nets)
    assert {k: models.RealNVP.presets()["tabular"][k] for k in ("permutation", "dropout")} == dict(permutation="linear", dropout=0.2)


@pytest.mark.parametrize("permutation", ["shuffle", "linear"])  # "none": the former vector flow, tested elsewhere
def test_vector_flow_round_trips_and_log_prob_is_change_of_variables(permutation):
    """Eagerly through the model's bijector (latent -> data): no graph is traced."""
    model = _vector_model(permutation=permutation, dropout=0.2)
    y = tf.constant(_rows(4, seed=2))
    bijector = model.bijector
    z = bijector.inverse(y)
    np.testing.assert_allclose(bijector.forward(z).numpy(), y.numpy(), rtol=1e-4, atol=1e-4)
    log_det = autodiff_log_det(bijector.inverse, y)
    np.testing.assert_allclose(bijector.inverse_log_det_jacobian(y, event_ndims=1).numpy(), log_det, rtol=1e-4, atol=1e-3)
    base = model.base_distribution.log_prob(z).numpy()
    np.testing.assert_allclose(model._log_prob_folded(y).numpy(), base + log_det, rtol=1e-4, atol=1e-3)


def test_linear_mixing_starts_as_a_random_permutation():
    layer = Invertible1x1ConvLayer(D, seed=3, event_ndims=1, init="permutation")
    x = tf.constant(_rows(3))
    bijector = layer.bijector()
    y = bijector.forward(x).numpy()
    assert not np.array_equal(y, x.numpy())
    np.testing.assert_array_equal(np.sort(y, axis=-1), np.sort(x.numpy(), axis=-1))  # the same entries, reordered
    np.testing.assert_allclose(bijector.forward_log_det_jacobian(x, event_ndims=1).numpy(), 0.0)
    assert Invertible1x1ConvLayer.from_config(layer.get_config()).init == "permutation"


def test_dropout_acts_only_inside_training_conditioners(fitted):
    model, x, _ = fitted
    y = x[:8]
    first = model.log_prob(y).numpy()
    np.testing.assert_array_equal(model.log_prob(y).numpy(), first)  # log_prob is deterministic
    with model.training_conditioners():
        noisy = [model.log_prob(y).numpy() for _ in range(2)]
    assert not np.allclose(noisy[0], first) and not np.allclose(noisy[0], noisy[1])
    np.testing.assert_array_equal(model.log_prob(y).numpy(), first)


def test_fit_trains_the_default_and_scores_deterministically(fitted, tmp_path):
    model, x, losses = fitted
    assert losses[-1] < losses[0]
    np.testing.assert_array_equal(model.log_prob(x[:8]).numpy(), model.log_prob(x[:8]).numpy())
    path = tmp_path / "table.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert (restored.permutation, restored.dropout) == ("linear", 0.2)
    rows = tf.constant(x[:8])
    np.testing.assert_allclose(restored._log_prob_folded(rows).numpy(), model.log_prob(rows).numpy(), rtol=1e-5, atol=1e-5)


def test_models_saved_before_the_knobs_load_as_they_were(tmp_path):
    """A vector RealNVP saved without `permutation`/`dropout` in its config is the former flow: halves, no dropout."""
    old = _vector_model(permutation="none", dropout=0.0)
    path, stripped = tmp_path / "new.keras", tmp_path / "old.keras"
    old.save(path)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(stripped, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                for key in ("permutation", "dropout"):
                    del config["config"][key]
                data = json.dumps(config).encode()
            target.writestr(item, data)
    restored = keras.saving.load_model(stripped)
    assert (restored.permutation, restored.dropout) == ("none", 0.0) and restored.linears == []
    y = tf.constant(_rows(6, seed=5))
    np.testing.assert_array_equal(restored._log_prob_folded(y).numpy(), old._log_prob_folded(y).numpy())


@pytest.mark.parametrize("build, match", [
    (lambda: models.RealNVP(event_shape=(D,), num_bins=None, permutation="reverse"), "RealNVP: unknown permutation 'reverse'"),
    (lambda: models.RealNVP(event_shape=(D,), num_bins=None, dropout=1.0), "RealNVP: expected 0 <= dropout < 1, got 1.0"),
    (lambda: models.RealNVP(event_shape=(D,), num_bins=None, dropout=True), "RealNVP: expected 0 <= dropout < 1, got True"),
    (lambda: models.RealNVP(event_shape=(D,), num_bins=None, recompute=True), "recompute=True draws new dropout masks"),
    (lambda: models.RealNVP(event_shape=(4, 4, 1), num_scales=1, permutation="linear"), "permutation and dropout apply to vectors"),
    (lambda: models.RealNVP(event_shape=(4, 4, 1), num_scales=1, dropout=0.1), "permutation and dropout apply to vectors"),
    (lambda: MLP(4, 8, 1, dropout=-0.1), "MLP: expected 0 <= dropout < 1, got -0.1"),
    (lambda: Invertible1x1ConvLayer(4, init="identity"), "expected init in .* got 'identity'"),
    (lambda: Invertible1x1ConvLayer(4, lu=False, init="permutation"), "'permutation' with lu=True"),
    (lambda: Invertible1x1Conv.initial_permutation_lu(0), "initial_permutation_lu: expected channels >= 1, got 0"),
])
def test_bad_knobs_are_refused_by_name(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_recompute_works_without_dropout():
    model = models.RealNVP(event_shape=(D,), num_couplings=2, filters=8, num_bins=None, recompute=True, dropout=0.0)
    assert model.dropout == 0.0


def test_initialisation_rows_are_spread_over_an_array():
    """A table stored in order (by class, time, region) initialises from all of it, not from its first rows."""
    column = np.arange(1000, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(_first_batch(column, 10)[:, 0], np.arange(0, 1000, 100))
    np.testing.assert_array_equal(_first_batch(column[:5], 32)[:, 0], np.arange(5))  # fewer rows than a batch: all
    spread = _first_batch({"image": column, "label": -column}, 4, keep_targets=True)
    np.testing.assert_array_equal(spread["label"][:, 0], [0, -250, -500, -750])
