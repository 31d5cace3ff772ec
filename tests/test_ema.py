"""The weight average (EMA): evaluated, checkpointed and resumed as the trained weights' running average."""
from __future__ import annotations

import keras
import numpy as np
import pytest

from tfp_flows import data, models
from tfp_flows.training.ema import EMAWeights, uses_ema

MOMENTUM = 0.6


class RecordWeights(keras.callbacks.Callback):
    """The trained weights after every step (what the optimizer updates)."""

    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([np.array(v) for v in self.model.trainable_variables])


def expected_average(steps):
    """Keras' EMA: the first step copies the weights, then `a = m a + (1 - m) w` per step."""
    average = [w.copy() for w in steps[0]]
    for weights in steps[1:]:
        average = [MOMENTUM * a + (1 - MOMENTUM) * w for a, w in zip(average, weights)]
    return average


def assert_weights_close(actual, expected, what):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(np.array(a), e, rtol=1e-5, atol=1e-6, err_msg=what)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = models.NICE.from_preset("tiny", seed=0)
    optimizer = models.default_optimizer(model.num_dims, 1e-2, warmup_steps=0, ema_momentum=MOMENTUM)
    model.compile(optimizer=optimizer)
    images = data.digits.load_split("train")[:96]
    record, ema = RecordWeights(), EMAWeights()
    history = model.fit(images, batch_size=32, epochs=2, validation_data=images[:64], callbacks=[ema, record], verbose=0)
    path = str(tmp_path_factory.mktemp("ema") / "last.keras")
    model.save(path)
    return model, record.steps, ema, history, path


def test_default_optimizer_keeps_an_average():
    assert uses_ema(models.default_optimizer(64))
    assert not uses_ema(models.default_optimizer(64, ema_momentum=None))
    with pytest.raises(ValueError, match="ema_momentum"):
        models.default_optimizer(64, ema_momentum=1.0)


def test_model_after_fit_holds_the_average_of_the_trained_weights(trained):
    model, steps, ema, _, _ = trained
    assert len(steps) == 6  # 2 epochs x 3 steps
    assert ema.ema_in_model
    assert_weights_close(model.trainable_variables, expected_average(steps), "model weights != EMA of trained weights")
    # ... and the optimizer's average slots hold the last trained weights, for resuming.
    assert_weights_close(model.optimizer._model_variables_moving_average, steps[-1], "slots != trained weights")
    assert not np.allclose(expected_average(steps)[0], steps[-1][0])  # the two differ: the test can fail


def test_validation_uses_the_average(trained):
    model, _, _, history, _ = trained
    validation = model.evaluate(data.digits.load_split("train")[:64], verbose=0, return_dict=True)
    # Validation dequantizes with fresh noise: equal up to that noise, far from the trained weights' value.
    assert abs(history.history["val_bits_per_dim"][-1] - validation["bits_per_dim"]) < 0.05


def test_checkpoint_resumes_from_the_trained_weights_and_keeps_the_average(trained):
    model, steps, _, _, path = trained
    loaded = keras.saving.load_model(path)
    assert_weights_close(loaded.trainable_variables, expected_average(steps), "a checkpoint's weights are the EMA")
    callback = EMAWeights(ema_in_model=True)
    callback.set_model(loaded)
    callback.on_train_begin()
    assert_weights_close(loaded.trainable_variables, steps[-1], "resume starts from the trained weights")
    assert_weights_close(loaded.optimizer._model_variables_moving_average, expected_average(steps), "EMA kept")
    assert int(loaded.optimizer.iterations.numpy()) == len(steps)


def test_no_average_no_swap():
    model = models.NICE.from_preset("tiny", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.optimizer.build(model.trainable_variables)
    before = [np.array(v) for v in model.trainable_variables]
    callback = EMAWeights(ema_in_model=True)
    callback.set_model(model)
    for hook in (callback.on_train_begin, callback.on_test_begin, callback.on_train_end):
        hook()
    callback.on_epoch_begin(0)
    callback.on_epoch_end(0)
    assert_weights_close(model.trainable_variables, before, "without use_ema the weights stay as trained")
