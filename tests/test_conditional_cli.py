"""`tfp-flows` with conditioning: --conditional (class labels) and --context-columns (a CSV's context), in-process."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli

from tfp_flows import cli
from tfp_flows.training import RunDir
from tfp_flows.training.sample_quality import real_test_digits

TINY = ["--preset", "tiny", "--epochs", "1", "--batch-size", "256", "--samples", "20", "--warmup-steps", "2"]
CLASSES = ["--model", "nice", "--conditional", "--condition-couplings"]


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """A tiny class-conditional NICE (the cheapest to trace) trained 1 epoch on the digits and their labels."""
    out = str(tmp_path_factory.mktemp("conditional") / "run")
    assert cli.main(["train", *CLASSES, *TINY, "--output", out]) == 0
    return out


@pytest.fixture(scope="module")
def context_run(tmp_path_factory):
    """A tiny NICE of p(x, y | c) on a CSV whose mean moves with its context column c."""
    root = tmp_path_factory.mktemp("context")
    rng = np.random.default_rng(0)
    c = rng.uniform(-2, 2, 200)
    rows = np.stack([c + 0.1 * rng.normal(size=200), -c + 0.1 * rng.normal(size=200), c], 1)
    path = root / "table.csv"
    np.savetxt(path, rows, delimiter=",", header="x,y,c", comments="", fmt="%.5f")
    out = str(root / "run")
    assert cli.main(["train", "--model", "nice", "--data", str(path), "--context-columns", "c", "--preset", "tabular_tiny", "--epochs", "1",
                     "--batch-size", "64", "--warmup-steps", "2", "--output", out]) == 0
    return dict(run=out, table=str(path), root=root)


def test_train_records_the_classes_and_samples_a_row_per_class(class_run):
    run = RunDir(class_run)
    config = run.read_json("config.json")
    assert config["num_classes"] == 10 and config["class_names"] == list("0123456789") and config["context_columns"] is None
    assert config["condition_couplings"] is True and config["weight_y"] is None
    model = run.load_model("last.keras", compile=False)
    assert model.num_classes == 10 and model.condition_couplings
    png = tf.io.decode_png(tf.io.read_file(run.file("samples", "epoch_001.png"))).numpy()
    assert png.shape == (10 * 33 + 1, 2 * 33 + 1, 1)  # 20 samples: 10 rows (classes) of 2


def test_evaluate_reports_per_class_bits_and_accuracy(class_run, capsys):
    assert cli.main(["evaluate", "--run", class_run, "--split", "test"]) == 0
    result = json.load(open(os.path.join(class_run, "eval_test.json")))
    assert result["num_examples"] == 360 and 0 < result["bits_per_dim"] < 8
    assert sorted(result["per_class"]) == list("0123456789")
    counts = [result["per_class"][k]["num_examples"] for k in "0123456789"]
    _, labels = real_test_digits()
    assert counts == np.bincount(labels, minlength=10).tolist()
    weighted = sum(c["bits_per_dim"] * c["num_examples"] for c in result["per_class"].values()) / 360
    assert weighted == pytest.approx(result["bits_per_dim"], rel=1e-5)
    assert 0.0 <= result["accuracy"] <= 1.0
    out = capsys.readouterr().out
    assert "given the label" in out and f"Bayes-rule accuracy {result['accuracy']:.2%}" in out


def test_sample_a_row_per_class_or_one_class(class_run, tmp_path):
    out = str(tmp_path / "classes.png")
    assert cli.main(["sample", "--run", class_run, "--num", "3", "--out", out]) == 0
    assert tf.io.decode_png(tf.io.read_file(out)).shape == (10 * 33 + 1, 3 * 33 + 1, 1)
    one = str(tmp_path / "sevens.npy")
    assert cli.main(["sample", "--run", class_run, "--num", "4", "--label", "7", "--out", one]) == 0
    sevens = np.load(one)
    assert sevens.shape == (4, 8, 8, 1) and sevens.max() <= 16
    every = str(tmp_path / "every.npy")
    assert cli.main(["sample", "--run", class_run, "--num", "2", "--out", every]) == 0
    assert np.load(every).shape == (20, 8, 8, 1)


def test_score_uses_the_datas_labels(class_run, tmp_path, capsys):
    images, labels = real_test_digits()
    path = str(tmp_path / "digits.npz")
    np.savez(path, images=images[:30], labels=labels[:30])
    out = str(tmp_path / "scores.csv")
    assert cli.main(["score", "--run", class_run, "--data", path, "--out", out]) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 30 and [r["label"] for r in rows] == [str(l) for l in labels[:30]]
    assert {r["predicted_label"] for r in rows} <= set("0123456789")
    # the label matters: scoring every image as class 0 changes the scores
    np.savez(path, images=images[:30], labels=np.zeros(30, np.int64))
    assert cli.main(["score", "--run", class_run, "--data", path, "--out", str(tmp_path / "zero.csv")]) == 0
    zero = list(csv.DictReader(open(tmp_path / "zero.csv")))
    assert any(abs(float(a["log_likelihood"]) - float(b["log_likelihood"])) > 1e-3 for a, b in zip(rows, zero))
    capsys.readouterr()


def test_resume_keeps_the_conditioning(class_run, capsys):
    # The same conditioning loads the conditional checkpoint and has nothing left to train ...
    assert cli.main(["train", *CLASSES, *TINY, "--output", class_run]) == 0
    assert "has already trained 1 epochs" in capsys.readouterr().out
    # ... an unconditional rerun on the same --output is refused.
    code, err = run_cli(["train", "--model", "nice", *TINY, "--output", class_run], capsys)
    assert code == 2 and "holds a run with a different num_classes, condition_couplings (num_classes=10, condition_couplings=True)" in err


def test_context_run_trains_evaluates_samples_and_scores(context_run, tmp_path, capsys):
    run = RunDir(context_run["run"])
    config = run.read_json("config.json")
    assert config["context_columns"] == ["c"] and config["feature_columns"] == ["x", "y"] and config["num_classes"] is None
    assert cli.main(["evaluate", "--run", run.path, "--split", "test"]) == 0
    assert "given c" in capsys.readouterr().out
    out = str(tmp_path / "samples.csv")
    assert cli.main(["sample", "--run", run.path, "--num", "5", "--context", "1.5", "--out", out]) == 0
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["c", "x", "y"] and len(rows) == 6 and all(float(r[0]) == 1.5 for r in rows[1:])
    contexts = tmp_path / "contexts.csv"
    contexts.write_text("c\n-1\n0\n2\n")
    assert cli.main(["sample", "--run", run.path, "--context-file", str(contexts), "--num", "2", "--out", out]) == 0
    assert [r[0] for r in list(csv.reader(open(out)))[1:]] == ["-1", "-1", "0", "0", "2", "2"]
    scores = str(tmp_path / "scores.csv")
    assert cli.main(["score", "--run", run.path, "--data", context_run["table"], "--out", scores]) == 0
    assert len(list(csv.DictReader(open(scores)))) == 200


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--conditional", "--dataset", "celeb_a"], "--conditional needs labelled data: celeb_a has no class labels"),
        (["train", "--conditional", "--model", "jet"], "--conditional: jet has no conditional form; use --model glow or realnvp or nice"),
        (["train", "--context-columns", "a"], "--context-columns applies to CSV tables (--data FILE.csv), not to the dataset 'digits'"),
        (["train", "--conditional", "--context-columns", "a"], "argument --context-columns: not allowed with argument --conditional"),
        (["sample", "--run", "x", "--label", "1", "--context", "2"], "argument --context: not allowed with argument --label"),
        (["sample", "--run", "x", "--context", "1,abc"], "expected comma-separated numbers, got '1,abc'"),
        (["sample", "--run", "x", "--context-file", "/no/such.csv"], "--context-file /no/such.csv: no such file"),
        (["sample", "--run", "x", "--label", "-1"], "expected a number >= 0, got -1"),
        (["train", "--condition-couplings"], "--condition-couplings applies to class-conditional models: add --conditional"),
        (["train", "--weight-y", "0.5", "--model", "glow"], "--weight-y applies to class-conditional models: add --conditional"),
        (["train", "--conditional", "--data", "photos.csv"], "--data photos.csv: no such file or folder"),
    ],
)
def test_argument_mistakes_before_tensorflow(argv, message, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 0, err


def test_data_mistakes(class_run, context_run, tmp_path, capsys):
    folder = tmp_path / "flat"
    folder.mkdir()
    tf.io.write_file(str(folder / "a.png"), tf.io.encode_png(np.zeros((8, 8, 1), np.uint8)))
    table = context_run["table"]
    unlabelled = str(tmp_path / "unlabelled.npy")
    np.save(unlabelled, real_test_digits()[0][:5])
    np.save(tmp_path / "rows.npy", np.zeros((4, 2), np.float32))
    cases = [
        (["train", "--conditional", "--data", str(folder), "--output", str(tmp_path / "r1")],
         "--conditional needs labelled data with two classes or more: flat has no class labels"),
        (["train", "--conditional", "--data", table], "is a table, which has no class labels; condition on columns with --context-columns"),
        (["train", "--context-columns", "c", "--data", str(folder)], "--context-columns applies to CSV tables, not to"),
        (["train", "--context-columns", "depth", "--data", table, "--output", str(tmp_path / "r2")], "has no context column 'depth'"),
        (["sample", "--run", class_run, "--label", "10"], "--label: label 10 (example 0) is not a class of this run; expected 0..9"),
        (["sample", "--run", class_run, "--context", "1"], "--context: this run is not context-conditioned"),
        (["sample", "--run", context_run["run"]], "this run models p(x | c): pass --context v1,v2,... or --context-file CSV"),
        (["sample", "--run", context_run["run"], "--context", "1,2"], "--context: expected 1 values (c), got 2"),
        (["sample", "--run", context_run["run"], "--label", "1"], "--label 1: this run is not class-conditional"),
        (["score", "--run", class_run, "--data", unlabelled], "unlabelled.npy has no class labels, but the run is class-conditional"),
        (["score", "--run", context_run["run"], "--data", str(tmp_path / "rows.npy")], "this run models p(x | c): score a CSV table with those columns"),
    ]
    for argv, message in cases:
        code, err = run_cli(argv, capsys)
        assert code == 2 and message in err and err.count("\n") == 0, (argv, err)
    assert not os.path.exists(tmp_path / "r1") and not os.path.exists(tmp_path / "r2")  # nothing written


def test_conditioning_mistakes_cost_no_tensorflow_import():
    """Checked before TensorFlow loads: a fresh process answers without importing it."""
    code = ("import sys\nfrom tfp_flows import cli\n"
            "codes = [cli.main(['train', '--conditional', '--dataset', 'celeb_a']), cli.main(['train', '--context-columns', 'a'])]\n"
            "assert codes == [2, 2] and 'tensorflow' not in sys.modules, codes\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_labelled_datasets_list_matches_the_data_package():
    from tfp_flows import data

    assert set(cli.LABELLED_DATASETS) == {name for name in cli.DATASETS if data.info(name).num_classes > 0}


def test_score_matches_class_subfolders_by_name(tmp_path):
    """A scored folder's class subfolders map to the run's class ids by name, whatever subset is present."""
    from tfp_flows import data
    from tfp_flows.commands.evaluation import _run_labels

    for name, level in (("zebra", 200), ("cat", 10)):
        (tmp_path / name).mkdir()
        tf.io.write_file(str(tmp_path / name / "a.png"), tf.io.encode_png(np.full((4, 4, 1), level, np.uint8)))
    own = data.read(str(tmp_path))
    assert own.info.class_names == ("cat", "zebra") and own.labels.tolist() == [0, 1]
    labels = _run_labels(own, ["ant", "zebra", "cat"], str(tmp_path), "folder")
    assert labels.tolist() == [2, 1]
    with pytest.raises(ValueError, match=r"class subfolder 'cat' is not a class of this run \(ant, zebra\)"):
        _run_labels(own, ["ant", "zebra"], str(tmp_path), "folder")


def test_class_conditional_vectors(tmp_path, capsys):
    """--conditional on an .npz of labelled vectors: evaluate, and samples in CSV rows under a label column."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 60)
    vectors = rng.normal(size=(120, 2)).astype(np.float32) + 3.0 * labels[:, None]
    path = str(tmp_path / "points.npz")
    np.savez(path, x=vectors, labels=labels)
    out = str(tmp_path / "run")
    assert cli.main(["train", "--model", "nice", "--conditional", "--data", path, "--preset", "tabular_tiny", "--epochs", "1",
                     "--batch-size", "64", "--warmup-steps", "2", "--output", out]) == 0
    assert cli.main(["evaluate", "--run", out, "--split", "test"]) == 0
    assert "Bayes-rule accuracy" in capsys.readouterr().out
    samples = str(tmp_path / "samples.csv")
    assert cli.main(["sample", "--run", out, "--num", "3", "--out", samples]) == 0
    rows = list(csv.reader(open(samples)))
    assert rows[0] == ["label", "0", "1"] and [r[0] for r in rows[1:]] == ["0", "0", "0", "1", "1", "1"]
    assert cli.main(["sample", "--run", out, "--num", "2", "--label", "1", "--out", samples]) == 0
    assert [r[0] for r in list(csv.reader(open(samples)))[1:]] == ["1", "1"]
