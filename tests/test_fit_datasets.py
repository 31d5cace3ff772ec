"""`fit` and `evaluate` read a user's `tf.data.Dataset` without tf.data's autotune thread (whose
wake-up interval the deletion of an iterator waits for), unless the user chose autotuning themselves."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfp_flows import models
from tfp_flows.models._training import without_autotune_thread


def _rows(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32)


def test_a_dataset_with_default_options_is_read_without_the_autotune_thread():
    ds = tf.data.Dataset.from_tensor_slices(_rows()).map(lambda r: r * 2.0, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(16).prefetch(tf.data.AUTOTUNE)
    assert ds.options().autotune.enabled is None
    read = without_autotune_thread(ds)
    assert read.options().autotune.enabled is False
    np.testing.assert_array_equal(np.concatenate(list(read.as_numpy_iterator())), _rows() * 2.0)  # the same rows


@pytest.mark.parametrize("choice", [True, False])
def test_the_users_own_autotune_choice_is_kept(choice):
    options = tf.data.Options()
    options.autotune.enabled = choice
    ds = tf.data.Dataset.from_tensor_slices(_rows()).batch(16).with_options(options)
    assert without_autotune_thread(ds) is ds


def test_arrays_and_none_pass_through():
    rows = _rows()
    assert without_autotune_thread(rows) is rows
    assert without_autotune_thread(None) is None


def test_fit_and_evaluate_hand_keras_the_dataset_without_the_thread(monkeypatch):
    seen = []
    for name in ("fit", "evaluate"):
        original = getattr(keras.Model, name)

        def spy(self, x=None, *args, _original=original, _name=name, **kwargs):
            seen.append((_name, x.options().autotune.enabled, getattr(kwargs.get("validation_data"), "options", None)))
            return _original(self, x, *args, **kwargs)

        monkeypatch.setattr(keras.Model, name, spy)
    model = models.RealNVP(event_shape=(2,), num_couplings=2, num_bins=None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds = tf.data.Dataset.from_tensor_slices(_rows()).batch(16)
    history = model.fit(ds, validation_data=ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    model.evaluate(ds, verbose=0)
    fit_call = next(call for call in seen if call[0] == "fit")
    assert fit_call[1] is False and fit_call[2]().autotune.enabled is False
    assert any(name == "evaluate" and enabled is False for name, enabled, _ in seen)
