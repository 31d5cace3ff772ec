"""The example scripts run as written (short budgets; TFDS through mock_data)."""
from __future__ import annotations

import importlib
import pathlib

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture()
def examples_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


@pytest.mark.slow
def test_two_moons_learns_the_density(examples_on_path, tmp_path):
    two_moons = importlib.import_module("two_moons")
    out = tmp_path / "moons.png"
    mean_log_prob = two_moons.main(["--out", str(out), "--epochs", "25", "--size", "48"])
    # A single Gaussian fitted to the moons scores about -2.0; the flow must beat it clearly.
    assert mean_log_prob > -1.5
    png = tf.io.decode_png(tf.io.read_file(str(out))).numpy()
    assert png.shape == (48, 100, 1) and png[:, :48].std() > 0 and png[:, 52:].std() > 0


def test_train_digits_prints_a_table(examples_on_path, capsys):
    train_digits = importlib.import_module("train_digits")
    results = train_digits.main(["--epochs", "2", "--models", "NICE", "--test-passes", "1"])
    assert results[0]["model"] == "NICE" and 0 < results[0]["test_bits_per_dim"] < 10
    assert "| NICE | tiny |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("script", ["nice_mnist", "realnvp_cifar10", "glow_cifar10"])
def test_paper_examples_smoke_run_on_mock_tfds(examples_on_path, script, tmp_path):
    module = importlib.import_module(script)
    argv = ["--preset", "tiny", "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "4", "--no-jit", "--output", str(tmp_path)]
    with tfds.testing.mock_data(num_examples=8):
        result = module.main(argv)
    assert result["bits_per_dim"] > 0
    assert (tmp_path / "best.keras").exists()
