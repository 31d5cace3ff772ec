"""The tfp-flows command line: train (and resume), evaluate, sample, and one-line user errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import TINY_GLOW_TRAIN, copy_run, run_cli

from tfp_flows import cli
from tfp_flows.training import RunDir


@pytest.fixture(scope="module")
def run_dir(trained_tiny_run, tmp_path_factory):
    """This module's copy of the session's tiny Glow, trained 2 epochs on digits through the CLI."""
    return copy_run(trained_tiny_run, tmp_path_factory.mktemp("cli") / "run")


def test_train_writes_checkpoints_samples_logs(run_dir):
    run = RunDir(run_dir)
    state = run.read_json("state.json")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert {"loss", "bits_per_dim", "val_loss", "val_bits_per_dim"} <= set(state["history"][0])
    for name in ("best.keras", "last.keras", "config.json", "samples/epoch_001.png", "samples/epoch_002.png"):
        assert os.path.exists(run.file(name)), name
    assert os.listdir(run.file("logs", "train"))
    png = tf.io.decode_png(tf.io.read_file(run.file("samples", "epoch_002.png")))
    assert png.shape[0] > 64 and png.shape[2] == 1
    assert not [f for f in os.listdir(run.path) if f.startswith(".tmp-")]  # no half-written files left


@pytest.mark.slow
def test_rerun_resumes_epoch_and_optimizer_state(run_dir):
    before = RunDir(run_dir).load_model("last.keras")
    iterations = int(before.optimizer.iterations.numpy())
    assert iterations == 2 * 5  # 1257 images / 256 per batch = 5 steps per epoch
    code = cli.main(TINY_GLOW_TRAIN + ["--epochs", "3", "--output", run_dir])
    assert code == 0
    state = RunDir(run_dir).read_json("state.json")
    assert state["epoch"] == 3 and len(state["history"]) == 3
    after = RunDir(run_dir).load_model("last.keras")
    assert int(after.optimizer.iterations.numpy()) == 3 * 5
    assert after.is_initialized
    # asking again for 3 epochs trains nothing
    assert cli.main(["train", "--model", "glow", "--preset", "tiny", "--epochs", "3", "--batch-size", "256", "--output", run_dir]) == 0
    assert RunDir(run_dir).read_json("state.json")["epoch"] == 3


def test_evaluate_writes_json(run_dir, capsys):
    assert cli.main(["evaluate", "--run", run_dir, "--split", "test"]) == 0
    result = json.load(open(os.path.join(run_dir, "eval_test.json")))
    assert result["num_examples"] == 360 and 0 < result["bits_per_dim"] < 8
    assert f"{result['bits_per_dim']:.4f} bits/dim" in capsys.readouterr().out


def test_sample_writes_png(run_dir, tmp_path):
    out = str(tmp_path / "grid.png")
    assert cli.main(["sample", "--run", run_dir, "--num", "9", "--temperature", "0.5", "--seed", "3", "--out", out]) == 0
    png = tf.io.decode_png(tf.io.read_file(out)).numpy()
    assert png.shape == (3 * 33 + 1, 3 * 33 + 1, 1) and png.std() > 0


def test_resume_refuses_a_different_configuration(run_dir, capsys):
    code = cli.main(["train", "--model", "nice", "--preset", "tiny", "--epochs", "1", "--output", run_dir])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "holds a run with a different model (model='glow'); use another --output" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--model", "flowplusplus"], "invalid choice: 'flowplusplus'"),
        (["train", "--epochs", "-3"], "expected a number >= 1, got -3"),
        (["train", "--learning-rate", "0"], "expected a number > 0.0, got 0"),
        (["train", "--dataset", "imagenet", "--preset", "tiny"], "unknown dataset 'imagenet'"),
        (["train", "--model", "nice", "--dataset", "svhn_cropped"], "no NICE preset for dataset 'svhn_cropped'"),
        (["train", "--preset", "huge"], "--preset huge: no model has this preset"),
        (["evaluate", "--run", "/no/such/run"], "run directory /no/such/run does not exist"),
        (["sample", "--run", "/no/such/run", "--temperature", "-1"], "expected a number >= 0.0, got -1"),
    ],
)
def test_user_mistakes_exit_nonzero_with_one_line(argv, message, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert message in err and err.count("\n") == 0 and "Traceback" not in err, err


def test_tensorflow_errors_reach_the_user_in_words(run_dir, monkeypatch, capsys):
    """One translation point: a TensorFlow error from any command is one line, without node names or device paths."""
    from tfp_flows import commands

    @tf.function
    def check(x):
        tf.debugging.assert_less(x, 1.0, message="RealNVP: y must lie in [0.0, 1.0]")
        return x

    def out_of_memory(args):
        tf.zeros([10**7, 10**7])  # 400 TB

    for failing, expected in ((lambda args: check(tf.constant(2.0)), "tfp-flows: error: RealNVP: y must lie in [0.0, 1.0]."),
                              (out_of_memory, "tfp-flows: error: the machine ran out of memory: use a smaller --batch-size "
                                              "(or a smaller --preset) (OOM when allocating tensor with shape[10000000,10000000]")):
        monkeypatch.setattr(commands, "evaluate", failing)
        code, err = run_cli(["evaluate", "--run", run_dir], capsys)
        assert code == 2 and err.startswith(expected) and err.count("\n") == 0, err
        assert "{{" not in err and "/job:" not in err and "[Op:" not in err and "node" not in err, err


def test_console_script_error_is_one_line_without_traceback(tmp_path):
    """The installed entry point, in a fresh process: no TensorFlow start-up noise around the message."""
    result = subprocess.run(
        [sys.executable, "-m", "tfp_flows.cli", "evaluate", "--run", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"tfp-flows: error: no config.json in {tmp_path}: is this a tfp-flows run directory?"


def test_export_command(run_dir, tmp_path, capsys):
    target = tmp_path / "serving"
    (target / "1").mkdir(parents=True)  # a version already served (the export's contents are test_export's)
    assert cli.main(["export", "--run", run_dir, "--export-dir", str(target)]) == 2  # the default version, 1, is taken
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"{target / '1'} already exists; pass overwrite=True (CLI: --overwrite) to replace it.") and err.count("\n") == 0
    # one real export (one trace of the run's model): a new version beside the old one
    assert cli.main(["export", "--run", run_dir, "--export-dir", str(target), "--version", "2"]) == 0
    assert sorted(os.listdir(target)) == ["1", "2"] and os.path.exists(target / "2" / "saved_model.pb")
