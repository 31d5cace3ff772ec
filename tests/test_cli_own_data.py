"""`tfp-flows` on users' own files end to end (train, evaluate, sample, score, resume), bad data named with
nothing written, and the first-hour checks (help lists, argument blame, --out suffixes)."""
from __future__ import annotations

import csv
import importlib
import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_wine

from conftest import autodiff_log_det, run_cli
from own_data_files import write_digits_npy, write_photos, write_wine_csv
from tfp_flows import cli, data, models
from tfp_flows.training import RunDir

WINE_COLUMNS = "alcohol,malic_acid,color_intensity,proline"
EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("own_cli")
    return dict(
        photos=write_photos(str(root / "photos"), size=20),
        wine=write_wine_csv(str(root / "wine.csv")),
        digits=write_digits_npy(str(root / "digits.npy")),
        root=root,
    )


def _train(argv):
    assert cli.main(["train", "--warmup-steps", "2", "--samples", "4"] + argv) == 0


@pytest.fixture(scope="module")
def photo_run(files):
    out = str(files["root"] / "photo_run")
    _train(["--data", files["photos"], "--image-size", "8", "--model", "nice", "--preset", "tiny", "--epochs", "1",
            "--batch-size", "32", "--output", out])
    return out


@pytest.fixture(scope="module")
def wine_run(files):
    """The default vector model (RealNVP over standardised columns), tiny preset, 1 epoch."""
    out = str(files["root"] / "wine_run")
    _train(["--data", files["wine"], "--columns", WINE_COLUMNS, "--preset", "tabular_tiny", "--epochs", "1",
            "--batch-size", "64", "--output", out])
    return out


@pytest.fixture(scope="module")
def digits_run(files):
    out = str(files["root"] / "digits_run")
    _train(["--data", files["digits"], "--model", "nice", "--preset", "tiny", "--epochs", "1", "--batch-size", "512",
            "--num-bins", "17", "--output", out])
    return out


def test_image_folder_run(photo_run, files, capsys):
    run = RunDir(photo_run)
    config, state = run.read_json("config.json"), run.read_json("state.json")
    assert config["model"] == "nice" and config["image_size"] == 8 and state["epoch"] == 1
    assert os.path.exists(run.file("samples", "epoch_001.png"))
    assignment = json.load(open(run.file("splits.json")))
    assert sorted(sum(assignment.values(), [])) == sorted(f"{c}/{i:02d}.{f}" for c in ("china", "flower")
                                                           for i, f in zip(range(12), ["png", "jpg", "bmp"] * 4))
    assert cli.main(["evaluate", "--run", photo_run, "--split", "test"]) == 0
    result = json.load(open(run.file("eval_test.json")))
    assert result["num_examples"] == 2 and result["num_bins"] == 256
    np.testing.assert_allclose(result["bits_per_dim"], -result["log_likelihood_nats"] / (8 * 8 * 3 * np.log(2)), rtol=1e-4)
    png = str(files["root"] / "grid.png")
    assert cli.main(["sample", "--run", photo_run, "--num", "4", "--out", png]) == 0
    assert tf.io.decode_png(tf.io.read_file(png)).shape == (2 * 33 + 1, 2 * 33 + 1, 3)
    raw = str(files["root"] / "samples.npy")
    assert cli.main(["sample", "--run", photo_run, "--num", "3", "--out", raw]) == 0
    samples = np.load(raw)
    assert samples.shape == (3, 8, 8, 3) and samples.dtype == np.uint8
    scores = str(files["root"] / "photo_scores.csv")
    assert cli.main(["score", "--run", photo_run, "--data", files["photos"], "--out", scores]) == 0
    rows = list(csv.DictReader(open(scores)))
    assert [r["file"] for r in rows][:2] == ["china/00.png", "china/01.jpg"] and len(rows) == 24
    # the scores are the model's deterministic log-likelihoods of the same preprocessed images
    model = run.load_model("best.keras", compile=False)
    images = data.read(files["photos"], image_size=8).examples[:2]
    expected = model.log_prob(model.dequantize(images, noise=False)).numpy() - 8 * 8 * 3 * np.log(256)
    np.testing.assert_allclose([float(r["log_likelihood"]) for r in rows[:2]], expected, rtol=1e-5)
    np.testing.assert_allclose(float(rows[0]["bits_per_dim"]), -expected[0] / (192 * np.log(2)), rtol=1e-5)


def test_csv_run_keeps_units_and_splits(wine_run, files, capsys):
    run = RunDir(wine_run)
    config = run.read_json("config.json")
    assert config["model"] == "realnvp" and config["kind"] == "vectors" and config["feature_columns"] == WINE_COLUMNS.split(",")
    assert not os.path.exists(run.file("samples"))  # no image grids for vectors
    model = run.load_model("last.keras", compile=False)
    wine = load_wine()
    columns = [list(wine.feature_names).index(c) for c in WINE_COLUMNS.split(",")]
    train_rows = [int(k) - 2 for k in json.load(open(run.file("splits.json")))["train"]]
    # standardisation inside the model, fitted on the training rows, so log_prob is in the user's units
    np.testing.assert_allclose(model.standardizer.mean.numpy(), wine.data[train_rows][:, columns].mean(0), rtol=1e-4)
    # log_prob is the density of the raw rows: base density of the latent plus log|det| of the whole
    # encoder's Jacobian (autodiff), the standardisation's -sum(log std) included
    x = tf.constant(wine.data[:3, columns], tf.float32)
    expected = model.base_distribution.log_prob(model.encode(x)).numpy() + autodiff_log_det(model.encode, x)
    np.testing.assert_allclose(model.log_prob(x).numpy(), expected, rtol=1e-4, atol=1e-3)

    assert cli.main(["evaluate", "--run", wine_run, "--split", "validation"]) == 0
    out = capsys.readouterr().out
    result = json.load(open(run.file("eval_validation.json")))
    assert result["num_examples"] == 18 and result["num_bins"] is None
    np.testing.assert_allclose(result["bits_per_dim"], -result["log_likelihood_nats"] / (4 * np.log(2)), rtol=1e-6)
    assert f"{result['bits_per_dim']:.4f} bits/dim, log-likelihood {result['log_likelihood_nats']:.4f} nats" in out

    samples = str(files["root"] / "wine_samples.csv")
    assert cli.main(["sample", "--run", wine_run, "--num", "7", "--out", samples]) == 0
    rows = list(csv.reader(open(samples)))
    assert rows[0] == WINE_COLUMNS.split(",") and len(rows) == 8
    assert 200 < np.median([float(r[3]) for r in rows[1:]]) < 2000  # proline, in the data's own units

    scores = str(files["root"] / "wine_scores.csv")
    assert cli.main(["score", "--run", wine_run, "--data", files["wine"], "--out", scores]) == 0
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 178 and rows[0]["line"] == "2"
    best = run.load_model(run.best_or_last(), compile=False)
    np.testing.assert_allclose(float(rows[0]["log_likelihood"]), best.log_prob(wine.data[:1, columns].astype(np.float32)).numpy()[0], rtol=1e-5)



def test_npy_images_run_and_resume(digits_run, files, capsys):
    assert cli.main(["evaluate", "--run", digits_run]) == 0
    result = json.load(open(os.path.join(digits_run, "eval_test.json")))
    assert result["num_examples"] == 180 and np.isfinite(result["bits_per_dim"]) and result["num_bins"] == 17
    run = RunDir(digits_run)
    assert run.read_json("config.json")["num_bins"] == 17 and run.load_model("last.keras").num_bins == 17
    # Without --num-bins the array's levels 0..16 would be taken as 8-bit: said, with the flag, before the refusal
    # to resume a run of another number of levels.
    capsys.readouterr()
    assert cli.main(["train", "--data", files["digits"], "--model", "nice", "--preset", "tiny", "--output", digits_run]) == 2
    printed = capsys.readouterr()
    assert ("Levels: 256 per value (integer images are taken as 8-bit; --num-bins N for data with N levels). digits only "
            "uses levels 0..16: if it has 17 levels, pass --num-bins 17") in printed.out, printed.out
    assert "holds a run with a different num_bins (num_bins=17)" in printed.err, printed.err
    # a rerun resumes with the run's saved splits, even when asked for other fractions
    splits_before = open(run.file("splits.json")).read()
    _train(["--data", files["digits"], "--model", "nice", "--preset", "tiny", "--epochs", "2", "--batch-size", "512",
            "--num-bins", "17", "--test-fraction", "0.3", "--output", digits_run])
    out = capsys.readouterr().out
    assert "Resuming" in out and "Levels: 17 per value (--num-bins 17)." in out
    assert run.read_json("state.json")["epoch"] == 2 and open(run.file("splits.json")).read() == splits_before
    assert int(run.load_model("last.keras").optimizer.iterations.numpy()) == 2 * 3  # 1437 / 512 -> 3 steps per epoch
    scores = str(files["root"] / "digit_scores.csv")
    assert cli.main(["score", "--run", digits_run, "--data", files["digits"], "--out", scores]) == 0
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 1797 and rows[5]["index"] == "5"


@pytest.mark.parametrize(
    "make, extra, message",
    [
        ("truncated", [], r"cannot decode image \S*broken\.png: its PNG data is truncated or corrupt \(Invalid PNG[^)]*\); "
                          r"replace it with a readable image or move it out of the folder\.$"),
        ("not_an_image", [], r"cannot decode image \S*photo\.jpg: it is not a PNG, JPEG, BMP or GIF image \(its first bytes are "
                             r"b'GIF8x\\x00\\x01\\x02'\); replace it"),
        ("mixed", [], r"have different sizes .*pass image_size \(tfp-flows: --image-size N\)"),
        ("empty", [], r"holds no images"),
        ("text_cell", [], r"table\.csv, line 3, column 'b': 'x' is not a number"),
        ("missing_cell", [], r"table\.csv, line 2, column 'a': missing value"),
        ("rank", [], r"rank\.npy: expected images \[N, H, W, C\]"),
        ("one_column", ["--preset", "tabular_tiny"], r"RealNVP: needs at least 2 dimensions"),
    ],
)
def test_bad_data_is_named_and_nothing_is_written(tmp_path, capsys, make, extra, message):
    path = tmp_path / "input"
    path.mkdir()
    png = tf.io.encode_png(np.full((8, 8, 1), 9, np.uint8)).numpy()
    if make == "truncated":
        (path / "ok.png").write_bytes(png)
        (path / "broken.png").write_bytes(png[:30])
    elif make == "not_an_image":
        (path / "photo.jpg").write_bytes(b"GIF8x" + bytes(range(60)))
    elif make == "mixed":
        (path / "a.png").write_bytes(png)
        (path / "b.png").write_bytes(tf.io.encode_png(np.zeros((4, 4, 1), np.uint8)).numpy())
    elif make in ("text_cell", "missing_cell", "one_column"):
        path = tmp_path / "table.csv"
        path.write_text({"text_cell": "a,b\n1,2\n3,x\n", "missing_cell": "a,b\nNA,2\n", "one_column": "a\n1\n2\n3\n4\n5\n"}[make])
    elif make == "rank":
        path = tmp_path / "rank.npy"
        np.save(path, np.zeros((3, 2, 2, 2, 2), np.uint8))
    out = tmp_path / "run"
    code, err = run_cli(["train", "--data", str(path), "--output", str(out)] + extra, capsys)
    assert code == 2 and err.count("\n") == 0 and "Traceback" not in err, err
    assert "{{" not in err and "[Op:" not in err and "/job:" not in err, err  # no TensorFlow internals
    assert pytest.importorskip("re").search(message, err), err
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
        (["train", "--data", "no/such/photos"], "--data no/such/photos: no such file or folder"),
        (["train", "--dataset", "digits", "--data", "x.csv"], "not allowed with argument"),
        (["sample", "--run", "r", "--out", "samples.jpg"], "unsupported file type '.jpg'; expected .png or .csv or .npy"),
        (["score", "--run", "r", "--data", ".", "--out", "s.txt"], "unsupported file type '.txt'; expected .csv"),
        (["train", "--validation-fraction", "1.5"], "expected a number >= 0.0 and < 1.0, got 1.5"),
    ],
)
def test_messages_blame_the_right_argument(argv, message, capsys):
    code, err = run_cli(argv, capsys)
    assert code == 2 and message in err and err.count("\n") == 0, err


def test_output_naming_a_file_and_wrong_out_for_the_model(tmp_path, files, wine_run, photo_run, capsys):
    existing = tmp_path / "notes.txt"
    existing.write_text("mine")
    code, err = run_cli(["train", "--output", str(existing)], capsys)
    assert code == 2 and f"--output {existing} is a file, not a run directory" in err and existing.read_text() == "mine"
    code, err = run_cli(["sample", "--run", wine_run, "--out", str(tmp_path / "v.png")], capsys)
    assert code == 2 and "this run models vectors (4,); write them as .csv or .npy" in err
    code, err = run_cli(["sample", "--run", photo_run, "--out", str(tmp_path / "i.csv")], capsys)
    assert code == 2 and "this run models images (8, 8, 3); write them as .png (a grid) or .npy" in err
    code, err = run_cli(["score", "--run", wine_run, "--data", files["photos"], "--out", str(tmp_path / "s.csv")], capsys)
    assert code == 2 and "is a folder of images, but the run models vectors of shape (4,)" in err
    assert not (tmp_path / "s.csv").exists()


def test_help_lists_defaults_models_presets_datasets(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["train", "--help"])
    text = capsys.readouterr().out
    assert exit_.value.code == 0
    flat = " ".join(text.split())  # help lines wrap
    assert "(default: 100)" in text and "(default: 1e-3; waveglow: its preset's)" in flat and "(default: 0)" in text
    for name in ("glow", "realnvp", "nice", "tabular_tiny", "celeba64", "fashion_mnist", "digits", "--data PATH", "--num-bins N"):
        assert name in text, name
    assert "  realnvp: cifar10, celeba64, mnist, digits, tabular; for tests: tiny, tabular_tiny" in text  # test presets apart
    assert "  waveglow: ljspeech, small; for tests: tiny" in text
    # the lists in cli.py (kept there so --help needs no TensorFlow) match the library's
    assert {m: set(p) for m, p in cli.PRESETS.items()} == {m.lower(): set(p) for m, p in models.PRESETS.items()}
    assert cli.DATASETS == data.DATASETS


@pytest.mark.parametrize("script", sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.stem.startswith("_")))
def test_every_example_answers_help(script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    module = importlib.import_module(script)
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
