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
import tensorflow_probability as tfp

from sklearn.datasets import load_digits

from conftest import run_cli
from tfp_flows import bijectors, data, export, layers, models, networks, training

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


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict:
    """A file, a folder and a missing path for the path arguments; a .npy of digit levels 0..16 and a table."""
    root = tmp_path_factory.mktemp("bad_paths")
    (root / "notes.md").write_text("not a run")
    (root / "folder").mkdir()
    (root / "folder.wav").mkdir()
    (root / "folder.npy").mkdir()
    np.save(root / "levels.npy", load_digits().images[:40].astype(np.uint8))
    (root / "table.csv").write_text("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return dict(file=str(root / "notes.md"), folder=str(root / "folder"), missing=str(root / "missing"),
                folder_wav=str(root / "folder.wav"), npy=str(root / "levels.npy"), csv=str(root / "table.csv"),
                png=str(root / "image.png"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(name="digits", batch_size=2.5), r"batch_size >= 1, got 2.5"),
        (dict(name="digits", batch_size=-1), r"batch_size >= 1, got -1"),
        (dict(name=7), r"unknown dataset 7"),
        (dict(name="digits", split="holdout"), r"unknown split 'holdout'"),
        (dict(name="cifar10", n_bits=0), r"n_bits in 1..8, got 0"),
        (dict(name="digits", shuffle="yes"), r"load: expected shuffle as True or False, got 'yes'"),
        (dict(name="digits", flip=1), r"load: expected flip as True or False, got 1"),
        (dict(name="digits", repeat="no"), r"load: expected repeat as True or False, got 'no'"),
        (dict(name="digits", drop_remainder=None), r"load: expected drop_remainder as True or False, got None"),
        (dict(name="digits", download="yes"), r"load: expected download as True or False, got 'yes'"),
        (dict(name="digits", with_labels="yes"), r"load: expected with_labels as True or False, got 'yes'"),
        (dict(name="digits", seed=-1), r"load: expected seed as an integer >= 0, got -1"),
        (dict(name="digits", seed="x"), r"load: expected seed as an integer >= 0, got 'x'"),
        (dict(name="digits", data_dir=3), r"load: expected data_dir as a folder path, got 3"),
        (dict(name="digits", num_bins=17), r"num_bins applies to your own images .* 'digits' has fixed levels"),
        (dict(name="{npy}", split_seed=-1), r"load: expected split_seed as an integer >= 0, got -1"),
        (dict(name="{npy}", splits=3), r"load: expected splits as a dict .*, got 3"),
        (dict(name="{npy}", validation_fraction=-0.1), r"expected validation_fraction in \[0, 1\), got -0.1"),
        (dict(name="{npy}", test_fraction="x"), r"expected test_fraction in \[0, 1\), got 'x'"),
        (dict(name="{npy}", validation_fraction=0.5, test_fraction=0.6), r"must leave examples to train on"),
        (dict(name="{npy}", image_size=4), r"image_size applies to folders of images"),
        (dict(name="{npy}", num_bins=1), r"expected num_bins as an integer in 2..256 .*, got 1"),
        (dict(name="{npy}", num_bins=300), r"expected num_bins as an integer in 2..256 .*, got 300"),
        (dict(name="{npy}", num_bins=10), r"image values reach 16, but num_bins=10 means levels 0..9; pass num_bins of at least 17"),
        (dict(name="{npy}", num_bins=17, n_bits=4), r"pass n_bits .* or num_bins .*, not both; got n_bits=4, num_bins=17"),
        (dict(name="{csv}", num_bins=17), r"num_bins applies to images, not to the continuous table"),
        (dict(name="{csv}", columns="a"), r"expected columns as a non-empty list of column names, got 'a'"),
        (dict(name="{csv}", columns=["z"]), r"has no column 'z'"),
        (dict(name="{folder}"), r"folder \S+ holds no images"),
        (dict(name="{missing}.npy"), r"no such file or folder"),
    ],
)
def test_data_load_entry(kwargs, message, paths):
    kwargs = {k: v.format(**paths) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(ValueError, match=message):
        data.load(**kwargs)


CLI_ROWS = [
    # Numbers: negative, zero, non-numeric, out of range (argparse, before TensorFlow).
    (["train", "--epochs", "0"], "argument --epochs: expected a number >= 1, got 0"),
    (["train", "--epochs", "-3"], "argument --epochs: expected a number >= 1, got -3"),
    (["train", "--epochs", "ten"], "argument --epochs: expected an int, got 'ten'"),
    (["train", "--batch-size", "0"], "argument --batch-size: expected a number >= 1, got 0"),
    (["train", "--batch-size", "many"], "argument --batch-size: expected an int, got 'many'"),
    (["train", "--image-size", "0"], "argument --image-size: expected a number >= 1, got 0"),
    (["train", "--image-size", "1.5"], "argument --image-size: expected an int, got '1.5'"),
    (["train", "--learning-rate", "0"], "argument --learning-rate: expected a number > 0.0, got 0"),
    (["train", "--learning-rate", "-0.001"], "argument --learning-rate: expected a number > 0.0, got -0.001"),
    (["train", "--learning-rate", "fast"], "argument --learning-rate: expected a float, got 'fast'"),
    (["train", "--learning-rate", "nan"], "argument --learning-rate: expected a finite number, got nan"),
    (["train", "--warmup-steps", "-1"], "argument --warmup-steps: expected a number >= 0, got -1"),
    (["train", "--ema-momentum", "1"], "argument --ema-momentum: expected a number >= 0.0 and < 1.0, got 1"),
    (["train", "--ema-momentum", "-0.5"], "argument --ema-momentum: expected a number >= 0.0 and < 1.0, got -0.5"),
    (["train", "--validation-fraction", "1"], "argument --validation-fraction: expected a number >= 0.0 and < 1.0, got 1"),
    (["train", "--test-fraction", "-0.1"], "argument --test-fraction: expected a number >= 0.0 and < 1.0, got -0.1"),
    (["train", "--validation-fraction", "0.6", "--test-fraction", "0.5"],
     "--validation-fraction 0.6 and --test-fraction 0.5 add up to 1.1; they must leave examples to train on (sum < 1)"),
    (["train", "--weight-y", "-1"], "argument --weight-y: expected a number >= 0.0, got -1"),
    (["train", "--n-bits", "0"], "argument --n-bits: expected a number >= 1 and <= 8, got 0"),
    (["train", "--n-bits", "9", "--dataset", "cifar10"], "argument --n-bits: expected a number >= 1 and <= 8, got 9"),
    (["train", "--num-bins", "1"], "argument --num-bins: expected a number >= 2 and <= 256, got 1"),
    (["train", "--num-bins", "300"], "argument --num-bins: expected a number >= 2 and <= 256, got 300"),
    (["train", "--num-bins", "many"], "argument --num-bins: expected an int, got 'many'"),
    (["train", "--samples", "0"], "argument --samples: expected a number >= 1, got 0"),
    (["train", "--temperature", "-1"], "argument --temperature: expected a number >= 0.0, got -1"),
    (["train", "--temperature", "warm"], "argument --temperature: expected a float, got 'warm'"),
    (["train", "--seed", "-1"], "argument --seed: expected a number >= 0, got -1"),
    (["train", "--seed", "x"], "argument --seed: expected an int, got 'x'"),
    (["evaluate", "--run", "{folder}", "--batch-size", "0"], "argument --batch-size: expected a number >= 1, got 0"),
    (["sample", "--run", "x", "--num", "0"], "argument --num: expected a number >= 1, got 0"),
    (["sample", "--run", "x", "--num", "-5"], "argument --num: expected a number >= 1, got -5"),
    (["sample", "--run", "x", "--label", "-1"], "argument --label: expected a number >= 0, got -1"),
    (["sample", "--run", "x", "--context", "1,a"], "argument --context: expected comma-separated numbers, got '1,a'"),
    (["sample", "--run", "x", "--context", "1,nan"], "argument --context: expected finite numbers, got '1,nan'"),
    (["sample", "--run", "x", "--temperature", "-0.5"], "argument --temperature: expected a number >= 0.0, got -0.5"),
    (["sample", "--run", "x", "--seed", "-2"], "argument --seed: expected a number >= 0, got -2"),
    (["score", "--run", "x", "--data", "{folder}", "--batch-size", "0"], "argument --batch-size: expected a number >= 1, got 0"),
    (["export", "--run", "x", "--export-dir", "y", "--version", "0"], "argument --version: expected a number >= 1, got 0"),
    (["export", "--run", "x", "--export-dir", "y", "--version", "v2"], "argument --version: expected an int, got 'v2'"),
    (["vocode", "--run", "x", "--mel", "m.npy", "--out", "o.wav", "--sigma", "-1"], "argument --sigma: expected a number >= 0.0, got -1"),
    (["vocode", "--run", "x", "--mel", "m.npy", "--out", "o.wav", "--denoise", "-0.1"],
     "argument --denoise: expected a number >= 0.0, got -0.1"),
    (["vocode", "--run", "x", "--mel", "m.npy", "--out", "o.wav", "--seed", "-1"], "argument --seed: expected a number >= 0, got -1"),
    # Names and choices.
    (["train", "--model", "flowpp"], "argument --model: invalid choice: 'flowpp'"),
    (["train", "--coupling", "cubic"], "argument --coupling: invalid choice: 'cubic'"),
    (["train", "--schedule", "linear"], "argument --schedule: invalid choice: 'linear'"),
    (["train", "--preset", "huge"], "--preset huge: no model has this preset; glow: cifar10,"),
    (["train", "--model", "glow", "--preset", "tabular"], "--preset tabular: glow has no such preset; expected one of cifar10,"),
    (["train", "--columns", ","], "argument --columns: expected comma-separated column names, got ','"),
    (["train", "--num-bins", "17"], "--num-bins applies to your own images (--data PATH); the dataset digits has fixed levels"),
    (["train", "--num-bins", "17", "--data", "{csv}"], "--num-bins applies to images; {csv} is a table of continuous values"),
    (["train", "--num-bins", "17", "--n-bits", "4"], "argument --n-bits: not allowed with argument --num-bins"),
    (["evaluate", "--run", "{folder}", "--split", "holdout"], "argument --split: invalid choice: 'holdout'"),
    # Paths: missing, a file where a folder is expected, and the reverse.
    (["train", "--data", "{missing}"], "--data {missing}: no such file or folder"),
    (["train", "--data", "{file}"], "--data {file}: unsupported file type '.md'"),
    (["train", "--data-dir", "{file}"], "--data-dir {file} is a file; expected a folder"),
    (["train", "--output", "{file}"], "--output {file} is a file, not a run directory"),
    (["evaluate", "--run", "{file}"], "--run {file} is a file; expected a run directory written by tfp-flows train"),
    (["evaluate", "--run", "{missing}"], "run directory {missing} does not exist"),
    (["evaluate", "--run", "{folder}"], "no config.json in {folder}: is this a tfp-flows run directory?"),
    (["sample", "--run", "{folder}", "--out", "{folder}.png"], "no config.json in {folder}"),
    (["sample", "--run", "{folder}", "--out", "{folder}"], "--out {folder}: unsupported file type '(no suffix)'"),
    (["sample", "--run", "{folder}", "--context-file", "{folder}"], "--context-file {folder} is a folder; expected a file"),
    (["sample", "--run", "{folder}", "--context-file", "{missing}.csv"], "--context-file {missing}.csv: no such file"),
    (["sample", "--run", "{folder}", "--out", "grid.gif"], "--out grid.gif: unsupported file type '.gif'"),
    (["score", "--run", "{folder}", "--data", "{missing}"], "--data {missing}: no such file or folder"),
    (["score", "--run", "{folder}", "--data", "{folder}", "--out", "scores.png"], "--out scores.png: unsupported file type '.png'; expected .csv"),
    (["score", "--run", "{file}", "--data", "{folder}"], "--run {file} is a file"),
    (["export", "--run", "{folder}", "--export-dir", "{file}"], "--export-dir {file} is a file; expected a folder"),
    (["vocode", "--run", "{folder}", "--wav", "{folder_wav}", "--out", "o.wav"], "--wav {folder_wav} is a folder; expected a file"),
    (["vocode", "--run", "{folder}", "--wav", "{missing}.wav", "--out", "o.wav"], "--wav {missing}.wav: no such file"),
    (["vocode", "--run", "{folder}", "--mel", "{folder}", "--out", "o.wav"], "--mel {folder} is a folder; expected a file"),
    (["vocode", "--run", "{folder}", "--mel", "{file}", "--out", "o.mp3"], "--out o.mp3: unsupported file type '.mp3'; expected .wav"),
    (["vocode", "--run", "{folder}", "--mel", "{file}", "--out", "o.wav", "--png", "o.jpg"], "--png o.jpg: expected a .png file name"),
]


@pytest.mark.parametrize("argv, message", CLI_ROWS, ids=[" ".join(argv)[:60] for argv, _ in CLI_ROWS])
def test_cli_entry(argv, message, paths, capsys):
    """Each wrong flag value: one line naming the flag, what came and what it needs, before TensorFlow work."""
    code, err = run_cli([a.format(**paths) for a in argv], capsys)
    assert code == 2 and message.format(**paths) in err and err.count("\n") == 0, err


_IMAGE = dict(event_shape=(8, 8, 1), num_bins=17)
_GLOW = dict(_IMAGE, levels=1, steps=1, hidden_channels=4)
_REALNVP = dict(_IMAGE, num_scales=1, res_blocks=0, filters=4)
_NICE = dict(_IMAGE, num_couplings=2, hidden_units=4, hidden_layers=1)
_JET = dict(_IMAGE, patch_size=2, couplings=2, block_depth=1, emb_dim=8, num_heads=2, kinds=("channels", "spatial"))
_WAVEGLOW = dict(n_mels=8, n_flows=2, n_group=4, n_early_every=1, n_early_size=2, wn_layers=1, wn_channels=4, wn_kernel_size=3,
                 hop_length=16, upsample_kernel=64, segment_length=256, sample_rate=8000, n_fft=64, win_length=64, fmax=4000.0)
_CONDITIONER = lambda x: x  # noqa: E731
_COUPLING = dict(conditioner=_CONDITIONER, mask="halves", event_shape=(4,))


def _row(cls, base, **bad):
    name, value = next(iter(bad.items()))
    return pytest.param(cls, {**base, **bad}, id=f"{cls.__name__}-{name}={value!r}"[:60])


# One wrong value per public constructor argument: (class, keyword arguments, message). Every check runs before any
# weight or graph is built.
CONSTRUCTOR_ROWS = [
    # FlowModel's own arguments, through Glow.
    (_row(models.Glow, _GLOW, event_shape=(0, 8, 1)), r"Glow: expected event_shape .* of positive integers, got \(0, 8, 1\)"),
    (_row(models.Glow, _GLOW, event_shape="x"), r"Glow: expected event_shape as a tuple of positive integers, got 'x'"),
    (_row(models.Glow, _GLOW, num_bins=1), r"Glow: expected num_bins >= 2 or None, got 1"),
    (_row(models.Glow, _GLOW, num_bins="x"), r"Glow: expected num_bins >= 2 or None, got 'x'"),
    (_row(models.Glow, _GLOW, prior="cauchy"), r"Glow: unknown prior 'cauchy'; expected one of \('normal', 'logistic'\)"),
    (_row(models.Glow, _GLOW, seed=-1), r"Glow: expected seed as an integer >= 0, got -1"),
    (_row(models.Glow, _GLOW, seed=2.5), r"Glow: expected seed as an integer >= 0, got 2.5"),
    (_row(models.Glow, _GLOW, recompute="yes"), r"Glow: expected recompute as True or False, got 'yes'"),
    (_row(models.Glow, _GLOW, num_classes=1), r"Glow: expected num_classes as an integer >= 2 or None, got 1"),
    (_row(models.Glow, _GLOW, context_dim=0), r"Glow: expected context_dim as an integer >= 1 or None, got 0"),
    (_row(models.Glow, _GLOW, condition_couplings="yes"), r"Glow: expected condition_couplings as True or False, got 'yes'"),
    (_row(models.Glow, _GLOW, weight_y=-1.0), r"Glow: expected weight_y as a finite number >= 0, got -1.0"),
    (_row(models.Glow, _GLOW, weight_y=float("nan")), r"Glow: expected weight_y as a finite number >= 0, got nan"),
    (_row(models.Glow, _GLOW, dequantization="gaussian"), r"Glow: unknown dequantization 'gaussian'"),
    # Glow.
    (_row(models.Glow, _GLOW, levels=0), r"Glow: expected levels >= 1, got 0"),
    (_row(models.Glow, _GLOW, steps=-1), r"Glow: expected steps >= 1, got -1"),
    (_row(models.Glow, _GLOW, hidden_channels="x"), r"Glow: expected hidden_channels >= 1, got 'x'"),
    (_row(models.Glow, _GLOW, coupling="cubic"), r"Glow: unknown coupling 'cubic'"),
    (_row(models.Glow, _GLOW, permutation="random"), r"Glow: unknown permutation 'random'"),
    (_row(models.Glow, _GLOW, lu="yes"), r"Glow: expected lu as True or False, got 'yes'"),
    (_row(models.Glow, _GLOW, preprocessing="tanh"), r"Glow: unknown preprocessing 'tanh'"),
    (_row(models.Glow, _GLOW, alpha=-1.0), r"Glow: expected alpha as a finite number in \(0, 0.5\), got -1.0"),
    (_row(models.Glow, _GLOW, alpha="x"), r"Glow: expected alpha as a finite number in \(0, 0.5\), got 'x'"),
    (_row(models.Glow, _GLOW, spline_bins=0), r"Glow: expected an integer spline_bins >= 2, got 0"),
    (_row(models.Glow, _GLOW, spline_bound=float("nan")), r"Glow: expected spline_bound > 0, got nan"),
    (_row(models.Glow, _GLOW, fold_actnorm="no"), r"Glow: expected fold_actnorm as True or False, got 'no'"),
    # RealNVP.
    (_row(models.RealNVP, _REALNVP, num_scales=0), r"RealNVP: expected num_scales >= 1, got 0"),
    (_row(models.RealNVP, _REALNVP, res_blocks=-1), r"RealNVP: expected res_blocks as an integer >= 0, got -1"),
    (_row(models.RealNVP, _REALNVP, filters=0), r"RealNVP: expected filters as an integer >= 1, got 0"),
    (_row(models.RealNVP, _REALNVP, alpha=0.5), r"RealNVP: expected alpha as a finite number in \(0, 0.5\), got 0.5"),
    (_row(models.RealNVP, _REALNVP, num_couplings=0), r"RealNVP: expected num_couplings as an integer >= 1, got 0"),
    (_row(models.RealNVP, _REALNVP, hidden_layers="x"), r"RealNVP: expected hidden_layers as an integer >= 0, got 'x'"),
    (_row(models.RealNVP, _REALNVP, standardize="yes"), r"RealNVP: expected standardize as True or False, got 'yes'"),
    (_row(models.RealNVP, _REALNVP, coupling="additive"), r"RealNVP: unknown coupling 'additive'"),
    (_row(models.RealNVP, _REALNVP, spline_bins=1), r"RealNVP: expected an integer spline_bins >= 2, got 1"),
    (_row(models.RealNVP, _REALNVP, spline_bound=-1.0), r"RealNVP: expected spline_bound > 0, got -1.0"),
    # NICE.
    (_row(models.NICE, _NICE, num_couplings=0), r"NICE: expected num_couplings as an integer >= 1, got 0"),
    (_row(models.NICE, _NICE, hidden_units=-4), r"NICE: expected hidden_units as an integer >= 1, got -4"),
    (_row(models.NICE, _NICE, hidden_layers=2.5), r"NICE: expected hidden_layers as an integer >= 0, got 2.5"),
    (_row(models.NICE, _NICE, standardize="no"), r"NICE: expected standardize as True or False, got 'no'"),
    (_row(models.NICE, _NICE, coupling="affine"), r"NICE: unknown coupling 'affine'"),
    (_row(models.NICE, _NICE, spline_bins="x"), r"NICE: expected an integer spline_bins >= 2, got 'x'"),
    (_row(models.NICE, _NICE, spline_bound=0), r"NICE: expected spline_bound > 0, got 0"),
    # Jet.
    (_row(models.Jet, _JET, patch_size=0), r"Jet: expected patch_size >= 1, got 0"),
    (_row(models.Jet, _JET, couplings=-1), r"Jet: expected couplings >= 1, got -1"),
    (_row(models.Jet, _JET, block_depth=-1), r"Jet: expected block_depth >= 0, got -1"),
    (_row(models.Jet, _JET, emb_dim="x"), r"Jet: expected emb_dim >= 1, got 'x'"),
    (_row(models.Jet, _JET, num_heads=0), r"Jet: expected num_heads >= 1, got 0"),
    (_row(models.Jet, _JET, kinds=-1), r"Jet: expected kinds as a sequence from \('channels', 'spatial'\), got -1"),
    (_row(models.Jet, _JET, kinds=("diagonal",)), r"Jet: expected kinds from \('channels', 'spatial'\), got \('diagonal',\)"),
    (_row(models.Jet, _JET, spatial_splits="x"), r"Jet: expected spatial_splits as a sequence from"),
    # WaveGlow.
    *[(_row(models.WaveGlow, _WAVEGLOW, **{key: 0}), rf"WaveGlow: expected an integer {key} >= 1, got 0")
      for key in ("n_mels", "n_flows", "n_early_every", "wn_layers", "wn_channels", "wn_kernel_size", "hop_length",
                  "upsample_kernel", "segment_length", "sample_rate", "n_fft", "win_length")],
    (_row(models.WaveGlow, _WAVEGLOW, n_group=3), r"WaveGlow: expected an even n_group >= 2"),
    (_row(models.WaveGlow, _WAVEGLOW, n_early_size=-2), r"WaveGlow: expected an even n_early_size >= 0, got -2"),
    (_row(models.WaveGlow, _WAVEGLOW, sigma=0.0), r"WaveGlow: expected sigma as a finite number > 0, got 0.0"),
    (_row(models.WaveGlow, _WAVEGLOW, inference_sigma="x"), r"WaveGlow: expected inference_sigma as a finite number >= 0, got 'x'"),
    (_row(models.WaveGlow, _WAVEGLOW, learning_rate=-1e-3), r"WaveGlow: expected learning_rate as a finite number > 0, got -0.001"),
    (_row(models.WaveGlow, _WAVEGLOW, fmin=-1.0), r"WaveGlow: expected fmin as a finite number >= 0, got -1.0"),
    (_row(models.WaveGlow, _WAVEGLOW, fmax=5000.0), r"WaveGlow: expected fmax as a finite number in \(0, 4000\], got 5000.0"),
    (_row(models.WaveGlow, _WAVEGLOW, lu=1), r"WaveGlow: expected lu as True or False, got 1"),
    (_row(models.WaveGlow, _WAVEGLOW, upsample_init="zeros"), r"WaveGlow: unknown upsample_init 'zeros'"),
    (_row(models.WaveGlow, _WAVEGLOW, num_bins=None), r"WaveGlow: expected an even num_bins \(65536 for 16-bit audio\), got None"),
    # Learning-rate schedules and the default optimizer.
    (_row(models.LinearWarmup, dict(learning_rate=1e-3, warmup_steps=10), learning_rate="x"),
     r"LinearWarmup: expected learning_rate as a finite number > 0, got 'x'"),
    (_row(models.LinearWarmup, dict(learning_rate=1e-3, warmup_steps=10), warmup_steps=-1), r"LinearWarmup: expected warmup_steps >= 0, got -1"),
    (_row(models.WarmupCosineDecay, dict(learning_rate=1e-3, warmup_steps=10, decay_steps=100), decay_steps=5),
     r"WarmupCosineDecay: expected decay_steps > warmup_steps \(10\), got 5"),
    (_row(models.WarmupCosineDecay, dict(learning_rate=1e-3, warmup_steps=10, decay_steps=100), final_fraction=1.5),
     r"WarmupCosineDecay: expected final_fraction as a finite number in \[0, 1\], got 1.5"),
    # Layers.
    (_row(layers.ActNormLayer, dict(channels=3), channels=0), r"ActNormLayer: expected channels >= 1, got 0"),
    (_row(layers.ActNormLayer, dict(channels=3), event_ndims=0), r"ActNormLayer: expected event_ndims as an integer >= 1, got 0"),
    (_row(layers.ActNormLayer, dict(channels=3), min_std=-1.0), r"ActNormLayer: expected min_std as a finite number > 0, got -1.0"),
    (_row(layers.ConditionalPriorLayer, dict(event_shape=(4,), condition_dim=2), event_shape=-1),
     r"ConditionalPriorLayer: expected event_shape as a shape of positive integers"),
    (_row(layers.ConditionalPriorLayer, dict(event_shape=(4,), condition_dim=2), condition_dim=0),
     r"ConditionalPriorLayer: expected condition_dim >= 1, got 0"),
    (_row(layers.GaussianPriorLayer, dict(event_shape=(4,)), event_shape=(0, 4)), r"GaussianPriorLayer: expected event_shape .*got \(0, 4\)"),
    (_row(layers.Invertible1x1ConvLayer, dict(channels=3), channels=-3), r"Invertible1x1ConvLayer: expected channels >= 1, got -3"),
    (_row(layers.Invertible1x1ConvLayer, dict(channels=3), lu="yes"), r"Invertible1x1ConvLayer: expected lu as True or False, got 'yes'"),
    (_row(layers.Invertible1x1ConvLayer, dict(channels=3), seed=-1), r"Invertible1x1ConvLayer: expected seed as an integer >= 0, got -1"),
    (_row(layers.Invertible1x1ConvLayer, dict(channels=3), event_ndims="x"), r"Invertible1x1ConvLayer: expected event_ndims as an integer >= 1"),
    (_row(layers.ScalingLayer, dict(event_shape=(4,)), event_shape="x"), r"ScalingLayer: expected event_shape as a shape of positive integers"),
    (_row(layers.ScalingLayer, dict(event_shape=(4,)), min_std=0.0), r"ScalingLayer: expected min_std as a finite number > 0, got 0.0"),
    (_row(layers.StandardizeLayer, dict(dims=3), dims=0), r"StandardizeLayer: expected dims >= 1, got 0"),
    (_row(layers.StandardizeLayer, dict(dims=3), min_std="x"), r"StandardizeLayer: expected min_std as a finite number > 0, got 'x'"),
    (_row(layers.VariationalDequantizer, dict(event_shape=(8, 8, 1), num_bins=17), event_shape=(8,)),
     r"VariationalDequantizer: expected event_shape as a shape of positive integers, \(H, W, C\); got \(8,\)"),
    (_row(layers.VariationalDequantizer, dict(event_shape=(8, 8, 1), num_bins=17), num_bins=1), r"VariationalDequantizer: expected num_bins >= 2"),
    (_row(layers.VariationalDequantizer, dict(event_shape=(8, 8, 1), num_bins=17), hidden_channels=0),
     r"VariationalDequantizer: expected hidden_channels >= 1, got 0"),
    (_row(layers.VariationalDequantizer, dict(event_shape=(8, 8, 1), num_bins=17), couplings=-1),
     r"VariationalDequantizer: expected couplings >= 1, got -1"),
    # Networks.
    (_row(networks.GlowConvNet, dict(out_channels=2), out_channels=0), r"GlowConvNet: expected out_channels >= 1, got 0"),
    (_row(networks.GlowConvNet, dict(out_channels=2), hidden_channels="x"), r"GlowConvNet: expected hidden_channels >= 1, got 'x'"),
    (_row(networks.GlowConvNet, dict(out_channels=2), context_dim=-1), r"GlowConvNet: expected context_dim >= 0, got -1"),
    (_row(networks.ZeroConv2D, dict(filters=2), filters=0), r"ZeroConv2D: expected filters >= 1, got 0"),
    (_row(networks.MLP, dict(output_dim=2), output_dim=0), r"MLP: expected output_dim >= 1, got 0"),
    (_row(networks.MLP, dict(output_dim=2), hidden_units=-1), r"MLP: expected hidden_units >= 1, got -1"),
    (_row(networks.MLP, dict(output_dim=2), hidden_layers=-1), r"MLP: expected hidden_layers >= 0, got -1"),
    (_row(networks.MLP, dict(output_dim=2), zero_init="yes"), r"MLP: expected zero_init as True or False, got 'yes'"),
    (_row(networks.RealNVPResNet, dict(out_channels=2), out_channels=3), r"RealNVPResNet: expected an even out_channels >= 2, got 3"),
    (_row(networks.RealNVPResNet, dict(out_channels=2), res_blocks=-1), r"RealNVPResNet: expected res_blocks >= 0, got -1"),
    (_row(networks.RealNVPResNet, dict(out_channels=2), affine_head="yes"), r"RealNVPResNet: expected affine_head as True or False"),
    (_row(networks.ResidualBlock, dict(filters=4), filters=None), r"ResidualBlock: expected filters as an integer >= 1, got None"),
    (_row(networks.TransformerBlock, dict(emb_dim=8, num_heads=2, mlp_dim=8), num_heads=0),
     r"TransformerBlock: expected num_heads as an integer >= 1, got 0"),
    (_row(networks.TransformerBlock, dict(emb_dim=8, num_heads=2, mlp_dim=8), mlp_dim="x"),
     r"TransformerBlock: expected mlp_dim as an integer >= 1, got 'x'"),
    (_row(networks.VisionTransformer, dict(out_channels=2, emb_dim=8, num_heads=2), depth=-1), r"VisionTransformer: expected depth >= 0, got -1"),
    (_row(networks.VisionTransformer, dict(out_channels=2, emb_dim=8, num_heads=2), mlp_dim=2.5),
     r"VisionTransformer: expected mlp_dim as an integer >= 1, got 2.5"),
    (_row(networks.VisionTransformer, dict(out_channels=2, emb_dim=8, num_heads=2), patch_size=0), r"VisionTransformer: expected patch_size >= 1"),
    (_row(networks.WaveNet, dict(out_channels=2), n_layers=0), r"WaveNet: expected an integer n_layers >= 1, got 0"),
    (_row(networks.WaveNet, dict(out_channels=2), kernel_size=2), r"WaveNet: expected an odd kernel_size"),
    (_row(networks.DataInitNorm, {}, min_std=float("nan")), r"DataInitNorm: expected min_std as a finite number > 0, got nan"),
    # Bijectors.
    (_row(bijectors.AffineCoupling, _COUPLING, conditioner="net"), r"AffineCoupling: conditioner must be callable, got 'net'"),
    (_row(bijectors.AffineCoupling, _COUPLING, mask="diagonal"), r"AffineCoupling: unknown mask 'diagonal'"),
    (_row(bijectors.AffineCoupling, _COUPLING, event_shape=(0, 4)), r"AffineCoupling: expected event_shape as positive integers, got \(0, 4\)"),
    (_row(bijectors.AffineCoupling, _COUPLING, parity=2), r"AffineCoupling: expected parity 0 or 1, got 2"),
    (_row(bijectors.AffineCoupling, _COUPLING, scale_fn="softplus"), r"AffineCoupling: unknown scale_fn 'softplus'"),
    (_row(bijectors.AffineCoupling, _COUPLING, clamp="x"), r"AffineCoupling: expected clamp as a finite number > 0, got 'x'"),
    (_row(bijectors.AffineCoupling, _COUPLING, conditional="yes"), r"AffineCoupling: expected conditional as True or False, got 'yes'"),
    (_row(bijectors.AdditiveCoupling, _COUPLING, event_shape="x"), r"AdditiveCoupling: expected event_shape as positive integers, got 'x'"),
    (_row(bijectors.SplineCoupling, _COUPLING, spline_bins=1), r"SplineCoupling: expected an integer spline_bins >= 2, got 1"),
    (_row(bijectors.SplineCoupling, _COUPLING, spline_bound=0.0), r"SplineCoupling: expected spline_bound > 0, got 0.0"),
    (_row(bijectors.SplineCoupling, _COUPLING, min_bin_size="x"), r"SplineCoupling: expected min_bin_size as a finite number, got 'x'"),
    (_row(bijectors.SplineCoupling, _COUPLING, min_slope=1.5), r"SplineCoupling: expected 0 < min_slope < 1, got 1.5"),
    (_row(bijectors.Squeeze, {}, factor=1), r"Squeeze: expected an integer factor >= 2, got 1"),
    (_row(bijectors.Scaling, dict(log_scale=np.zeros(3, np.float32)), log_scale="x"),
     r"Scaling: expected log_scale as a real-valued array, tensor or variable, got str 'x'"),
    (_row(bijectors.ActNorm, dict(shift=np.zeros(3, np.float32), log_scale=np.zeros(3, np.float32)), shift=None),
     r"ActNorm: expected shift as a real-valued array, tensor or variable, got None"),
    (_row(bijectors.ActNorm, dict(shift=np.zeros(3, np.float32), log_scale=np.zeros(3, np.float32)), event_ndims=0),
     r"ActNorm: expected event_ndims in \(1, 2, 3\), got 0"),
    (_row(bijectors.Invertible1x1Conv, dict(matrix=np.eye(3, dtype=np.float32)), matrix="x"),
     r"Invertible1x1Conv: expected matrix as a real-valued array, tensor or variable, got str 'x'"),
    (_row(bijectors.Invertible1x1Conv, dict(matrix=np.eye(3, dtype=np.float32)), event_ndims="x"),
     r"Invertible1x1Conv: expected event_ndims as an integer >= 1, got 'x'"),
    (_row(bijectors.Group1D, {}, n_group=0), r"Group1D: expected an integer n_group >= 1, got 0"),
    (_row(bijectors.EarlyOutput, dict(inner=tfp.bijectors.Identity()), num_early=0), r"EarlyOutput: expected an integer num_early >= 1, got 0"),
    (_row(bijectors.FactorOut, dict(inner=tfp.bijectors.Reshape((2, 2, 1), (4,)), event_shape=(2, 2, 2)), event_shape="x"),
     r"FactorOut: expected event_shape as a shape of positive integers, \(H, W, C\); got 'x'"),
    (_row(bijectors.FactorOut, dict(inner=tfp.bijectors.Reshape((2, 2, 1), (4,)), event_shape=(2, 2, 2)), num_factored="x"),
     r"FactorOut: expected num_factored as an integer >= 1, got 'x'"),
    (_row(bijectors.FactorOut, dict(inner=tfp.bijectors.Reshape((2, 2, 1), (4,)), event_shape=(2, 2, 2)), num_factored=2),
     r"FactorOut: expected 0 < num_factored < C = 2 channels, got 2"),
    (_row(bijectors.ConditionalAffine, dict(param_fn=_CONDITIONER, event_shape=(4,)), event_shape=-1),
     r"ConditionalAffine: expected event_shape as a shape of positive integers"),
    (_row(bijectors.CheckerboardMask, dict(event_shape=(4, 4, 1)), parity=2.5), r"CheckerboardMask: expected parity 0 or 1, got 2.5"),
    (_row(bijectors.ChannelMask, dict(event_shape=(4,), conditioning=[True, False, True, False]), event_shape=(4, 0)),
     r"ChannelMask: expected event_shape as positive integers, got \(4, 0\)"),
    (_row(bijectors.SequenceChannelMask, dict(channels=4), channels=1), r"SequenceChannelMask: expected an integer channels >= 2, got 1"),
    (_row(bijectors.SequenceChannelMask, dict(channels=4), parity=-1), r"SequenceChannelMask: expected parity 0 or 1, got -1"),
    (_row(bijectors.FoldedActNormConv1x1, dict(actnorm=None, conv=None), actnorm=np.zeros(3)),
     r"FoldedActNormConv1x1: expected an ActNorm as `actnorm`, got ndarray"),
    # The optimizer, the denoiser and the training callbacks.
    (_row(models.FusedAdam, {}, learning_rate=-1.0), r"FusedAdam: expected learning_rate as a finite number > 0, got -1.0"),
    (_row(models.FusedAdam, {}, beta_1=1.0), r"FusedAdam: expected beta_1 as a finite number in \[0, 1\), got 1.0"),
    (_row(models.FusedAdam, {}, beta_2="x"), r"FusedAdam: expected beta_2 as a finite number in \[0, 1\), got 'x'"),
    (_row(models.FusedAdam, {}, epsilon=0.0), r"FusedAdam: expected epsilon as a finite number > 0, got 0.0"),
    (_row(models.Denoiser, dict(model=None), filter_length=0), r"Denoiser: expected an integer filter_length >= 1, got 0"),
    (_row(models.Denoiser, dict(model=None), n_overlap=3), r"Denoiser: expected an even filter_length divisible by n_overlap"),
    (_row(models.Denoiser, dict(model=None), mode="ones"), r"Denoiser: unknown mode 'ones'"),
    (_row(training.EMAWeights, {}, ema_in_model="yes"), r"EMAWeights: expected ema_in_model as True or False, got 'yes'"),
    (_row(training.RunDir, dict(path="run"), path=3), r"RunDir: expected path as a folder path, got 3"),
    (_row(training.RunCheckpoint, dict(run=training.RunDir("run"), state={}), run="run"),
     r"RunCheckpoint: expected run as a tfp_flows.training.RunDir, got 'run'"),
    (_row(training.RunCheckpoint, dict(run=training.RunDir("run"), state={}), state=None),
     r"RunCheckpoint: expected state as a dict \(the run's state.json\), got None"),
    (_row(training.SampleGrid, dict(run=training.RunDir("run")), num=0), r"SampleGrid: expected num as an integer >= 1, got 0"),
    (_row(training.SampleGrid, dict(run=training.RunDir("run")), temperature=-0.5),
     r"SampleGrid: expected temperature as a finite number >= 0, got -0.5"),
    (_row(training.SampleGrid, dict(run=training.RunDir("run")), seed=-1), r"SampleGrid: expected seed as an integer >= 0, got -1"),
    (_row(training.SampleGrid, dict(run=training.RunDir("run")), checkpoint="last.keras"),
     r"SampleGrid: expected checkpoint as a RunCheckpoint or None, got 'last.keras'"),
]


@pytest.mark.parametrize("cls, kwargs, message", [(*row.values, message) for row, message in CONSTRUCTOR_ROWS],
                         ids=[row.id for row, _ in CONSTRUCTOR_ROWS])
def test_constructor_entry(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


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
