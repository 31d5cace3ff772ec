"""Every public entry x every kind of bad input: an error naming what was expected and what came.

Entries: a bijector, the model methods (log_prob, bits_per_dim, encode, decode, sample, fit),
data.load, the CLI and the exported signatures. Where a bad input is meaningless for an
entry (num_samples for log_prob), the row is absent; the one deliberate acceptance is an
empty batch given to a bijector, which returns an empty result like every TFP bijector.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from sklearn.datasets import load_digits

from conftest import run_cli
from tfp_flows import bijectors, data, export, models

GOOD_Y = np.full((2, 8, 8, 1), 0.5, np.float32)
GOOD_X = np.full((2, 8, 8, 1), 3.0, np.float32)
NAN_Y = GOOD_Y.copy()
NAN_Y[0, 1, 1, 0] = np.nan
INF_Y = GOOD_Y.copy()
INF_Y[1, 0, 0, 0] = np.inf

BAD = {
    "wrong rank": (np.zeros((2, 8, 8), np.float32), r"expected \w+ with event shape \(8, 8, 1\), got shape \(2, 8, 8\)"),
    "rank too low": (np.zeros((8, 8), np.float32), r"expected \w+ with event shape \(8, 8, 1\) \(rank >= 3\), got shape \(8, 8\)"),
    "wrong spatial size": (np.zeros((2, 4, 4, 1), np.float32), r"expected \w+ with event shape \(8, 8, 1\), got shape \(2, 4, 4, 1\)"),
    "wrong channels": (np.zeros((2, 8, 8, 3), np.float32), r"expected \w+ with event shape \(8, 8, 1\), got shape \(2, 8, 8, 3\)"),
    "wrong dtype": (np.full((2, 8, 8, 1), "a"), r"expected \w+ of a real \(float or integer\) dtype, got dtype string"),
    "NaN": (NAN_Y, r"must be finite, got NaN or Inf, got shape \(2, 8, 8, 1\), min 0.5, max 0.5, 1 non-finite values"),
    "Inf": (INF_Y, r"must be finite, got NaN or Inf"),
    "empty batch": (np.zeros((0, 8, 8, 1), np.float32), r"expected at least one example in \w+, got an empty batch of shape \(0, 8, 8, 1\)"),
}


@pytest.fixture(scope="module")
def model():
    m = models.Glow.from_preset("tiny", seed=0)
    m.initialize(load_digits().images[:64, :, :, None].astype(np.float32))
    return m


@pytest.mark.parametrize("entry", ["log_prob", "encode", "bits_per_dim"])
@pytest.mark.parametrize("bad", sorted(BAD))
def test_model_entries_on_images(model, entry, bad):
    value, message = BAD[bad]
    with pytest.raises(ValueError, match=message):
        getattr(model, entry)(value)


@pytest.mark.parametrize(
    "entry, value, message",
    [
        ("bits_per_dim", np.full((2, 8, 8, 1), 17.0, np.float32), r"x must lie in \[0, 16\], got shape \(2, 8, 8, 1\), min 17, max 17"),
        ("bits_per_dim", np.full((2, 8, 8, 1), -1.0, np.float32), r"x must lie in \[0, 16\]"),
        ("bits_per_dim", np.full((2, 8, 8, 1), 2.5, np.float32), r"x must be integer-valued \(discrete levels\)"),
        ("decode", np.zeros((2, 63), np.float32), r"expected z with event shape \(64,\), got shape \(2, 63\)"),
        ("decode", np.zeros((2, 8, 8, 1), np.float32), r"expected z with event shape \(64,\), got shape \(2, 8, 8, 1\)"),
        ("decode", np.full((2, 64), np.nan, np.float32), r"z must be finite"),
        ("decode", np.zeros((0, 64), np.float32), r"empty batch of shape \(0, 64\)"),
        ("decode", np.zeros((2, 64), np.bool_), r"got dtype bool"),
    ],
)
def test_model_values_out_of_domain(model, entry, value, message):
    with pytest.raises(ValueError, match=message):
        getattr(model, entry)(value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n=0), r"expected num_samples >= 1, got 0"),
        (dict(n=-2), r"expected num_samples >= 1, got -2"),
        (dict(n=2.5), r"expected num_samples as an integer scalar, got float32"),
        (dict(n=True), r"expected num_samples as an integer >= 1, got True"),
        (dict(n=2, temperature=-0.5), r"temperature must be >= 0.0, got shape \(\), min -0.5"),
        (dict(n=2, temperature=float("nan")), r"temperature must be finite"),
        (dict(n=2, temperature=[1.0, 2.0]), r"expected temperature as a scalar, got shape \(2,\)"),
    ],
)
def test_sample_arguments(model, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.sample(**kwargs)


@pytest.mark.parametrize(
    "data_, message",
    [
        (np.full((4, 8, 8, 1), 99.0, np.float32), r"the first batch of training data must lie in \[0, 16\]"),
        (np.zeros((4, 4, 4, 1), np.float32), r"expected the first batch of training data with event shape \(8, 8, 1\)"),
        (NAN_Y, r"the first batch of training data must be finite"),
        (np.zeros((0, 8, 8, 1), np.float32), r"empty batch"),
        ("not data", r"expected the first batch of training data of a real \(float or integer\) dtype, got dtype string"),
        (iter([GOOD_X]), r"cannot take a first batch from data of type list_iterator"),
    ],
)
def test_fit_rejects_bad_data_before_training(model, data_, message):
    model.compile()
    with pytest.raises(ValueError, match=message):
        model.fit(data_, epochs=1, verbose=0)


def test_graph_mode_checks_become_runtime_assertions(model):
    log_prob = tf.function(model.log_prob, input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="y must be finite"):
        log_prob(NAN_Y)
    bits_per_dim = tf.function(model.bits_per_dim, input_signature=[tf.TensorSpec([None, 8, 8, 1], tf.float32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must lie in \[0, 16\]"):
        bits_per_dim(GOOD_X + 20.0)
    assert log_prob(GOOD_Y).shape == (2,)
    assert np.isfinite(log_prob(GOOD_Y + 2.0)).all()  # Glow's density covers all of R^D


@pytest.mark.parametrize("entry", ["log_prob", "encode"])
def test_realnvp_logit_takes_y_in_the_unit_interval_and_says_so(entry):
    realnvp = models.RealNVP.from_preset("tiny", seed=0)
    for value, message in [(1.5, r"y must lie in \[0.0, 1.0\], got shape \(2, 8, 8, 1\), min 1.5, max 1.5"), (-0.1, r"y must lie in \[0.0, 1.0\]")]:
        with pytest.raises(ValueError, match=message):
            getattr(realnvp, entry)(np.full((2, 8, 8, 1), value, np.float32))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda b: b.forward(tf.zeros([4, 4])), ValueError, r"event shape \(4, 4, 2\) \(rank >= 3\), got shape \(4, 4\)"),
        (lambda b: b.forward(tf.zeros([2, 4, 4])), ValueError, r"event shape \(4, 4, 2\), got shape \(2, 4, 4\)"),
        (lambda b: b.forward(tf.zeros([2, 2, 4, 2])), ValueError, r"event shape \(4, 4, 2\), got shape \(2, 2, 4, 2\)"),
        (lambda b: b.forward(tf.zeros([2, 4, 4, 3])), ValueError, r"event shape \(4, 4, 2\), got shape \(2, 4, 4, 3\)"),
        (lambda b: b.forward(tf.zeros([2, 4, 4, 2], tf.int32)), ValueError, r"expected a floating-point x, got dtype int32"),
        (lambda b: b.forward(tf.fill([2, 4, 4, 2], np.nan)), tf.errors.InvalidArgumentError, r"x must be finite"),
        (lambda b: b.inverse(tf.fill([2, 4, 4, 2], np.inf)), tf.errors.InvalidArgumentError, r"y must be finite"),
    ],
)
def test_bijector_entry(call, error, message):
    coupling = bijectors.AffineCoupling(lambda x_a: tf.concat([x_a, x_a], -1), "channel", (4, 4, 2), validate_args=True)
    with pytest.raises(error, match=message):
        call(coupling)


def test_bijector_accepts_an_empty_batch():
    coupling = bijectors.AffineCoupling(lambda x_a: tf.concat([x_a, x_a], -1), "channel", (4, 4, 2))
    assert coupling.forward(tf.zeros([0, 4, 4, 2])).shape == (0, 4, 4, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="digits", batch_size=2.5), r"batch_size >= 1, got 2.5"),
        (dict(name="digits", batch_size=-1), r"batch_size >= 1, got -1"),
        (dict(name=7), r"unknown dataset 7"),
        (dict(name="digits", split="holdout"), r"unknown split 'holdout'"),
        (dict(name="cifar10", n_bits=0), r"n_bits in 1..8, got 0"),
    ],
)
def test_data_load_entry(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--batch-size", "0"], "expected a number >= 1, got 0"),
        (["train", "--batch-size", "many"], "expected an int, got 'many'"),
        (["train", "--n-bits", "9", "--dataset", "cifar10"], "expected n_bits in 1..8, got 9"),
        (["train", "--temperature", "-1"], "expected a number >= 0.0, got -1"),
        (["sample", "--run", "x", "--num", "0"], "expected a number >= 1, got 0"),
        (["export", "--run", "x", "--export-dir", "y", "--version", "0"], "expected a number >= 1, got 0"),
    ],
)
def test_cli_entry(argv, message, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 0


@pytest.fixture(scope="module")
def served(exported_tiny_glow):
    return export.load(exported_tiny_glow["path"])  # a tiny Glow exported once per session


@pytest.mark.parametrize(
    "signature, inputs, message",
    [
        ("log_prob", dict(x=np.zeros((2, 8, 8), np.float32)), r"x: expected float32 \[None, 8, 8, 1\], got shape\] \[2 8 8\]"),
        ("log_prob", dict(x=np.zeros((2, 4, 4, 1), np.float32)), r"got shape\] \[2 4 4 1\]"),
        ("log_prob", dict(x=np.zeros((2, 8, 8, 3), np.float32)), r"got shape\] \[2 8 8 3\]"),
        ("log_prob", dict(x=NAN_Y), r"y must be finite"),
        ("log_prob", dict(x=np.zeros((0, 8, 8, 1), np.float32)), r"got an empty batch of shape\] \[0 8 8 1\]"),
        ("bits_per_dim", dict(x=GOOD_X + 20.0), r"x must lie in \[0, 16\]"),
        ("bits_per_dim", dict(x=GOOD_X + 0.5), r"x must be integer-valued"),
        ("encode", dict(x=INF_Y), r"y must be finite"),
        ("decode", dict(z=np.zeros((2, 10), np.float32)), r"z: expected float32 \[None, 64\], got shape\] \[2 10\]"),
        ("sample", dict(num_samples=np.int32(0), temperature=np.float32(1)), r"num_samples: expected an int32 > 0"),
        ("sample", dict(num_samples=np.int32(2), temperature=np.float32(-1)), r"temperature: expected a float32 >= 0"),
    ],
)
def test_exported_signatures(served, signature, inputs, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        served.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})


def test_exported_signature_rejects_wrong_dtype(served):
    # TensorFlow's own signature check: "expected to be a float tensor but is a int32 tensor".
    with pytest.raises((TypeError, tf.errors.InvalidArgumentError), match="expected to be a float tensor but is a int32 tensor"):
        served.signatures["log_prob"](x=tf.zeros([2, 8, 8, 1], tf.int32))
