"""SavedModel export: TensorFlow-only reload, core ops only, saved_model_cli, atomic versions, bad input."""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from conftest import non_core_ops, saved_model_ops
from tfp_flows import export, models

HERE = pathlib.Path(__file__).resolve().parent


def _digits(n):
    return load_digits().images[:n, :, :, None].astype(np.float32)


MODELS = ["Glow", "RealNVP", "NICE"]


@pytest.fixture(scope="module")
def all_exported(exported_tiny_glow, tmp_path_factory):
    """A tiny Glow (the session's), RealNVP and NICE, each exported once."""
    result = {"Glow": dict(name="Glow", **exported_tiny_glow)}
    for name in MODELS[1:]:
        model = getattr(models, name).from_preset("tiny", seed=0)
        model.initialize(_digits(128))
        export_dir = tmp_path_factory.mktemp(f"export_{name}")
        result[name] = dict(name=name, model=model, path=export.save(model, str(export_dir), version=1), export_dir=str(export_dir))
    for entry in result.values():
        entry["loaded"] = tf.saved_model.load(entry["path"])
    return result


@pytest.fixture(params=MODELS)
def exported(request, all_exported):
    return all_exported[request.param]


@pytest.fixture(scope="module")
def reloaded(all_exported, tmp_path_factory):
    """Every exported model loaded and called in ONE fresh process with TensorFlow alone
    (tfp_flows, TFP and Keras blocked): the inputs each model was given and its outputs there."""
    tmp = tmp_path_factory.mktemp("reload")
    args, inputs = [], {}
    for name, entry in all_exported.items():
        model = entry["model"]
        x = _digits(4)
        y = model.dequantize(x, noise=False).numpy()
        inputs[name] = dict(x=x, y=y, z=model.encode(y).numpy())
        np.savez(tmp / f"{name}_in.npz", **inputs[name])
        args += [entry["path"], str(tmp / f"{name}_in.npz"), str(tmp / f"{name}_out.npz")]
    # ... and TensorFlow's saved_model_cli, run there too, on the Glow export.
    np.save(tmp / "cli_x.npy", np.full((3, 8, 8, 1), 0.5, np.float32))
    args += ["--cli", all_exported["Glow"]["path"], str(tmp / "cli_x.npy"), str(tmp / "show.txt"), str(tmp / "run.txt")]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(HERE / "_reload_saved_model.py"), *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=str(tmp),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = {name: (inputs[name], dict(np.load(tmp / f"{name}_out.npz"))) for name in all_exported}
    results["saved_model_cli"] = {command: (tmp / f"{command}.txt").read_text() for command in ("show", "run")}
    return results


def test_layout_and_signatures(exported):
    assert os.path.basename(exported["path"]) == "1"
    assert sorted(os.listdir(exported["export_dir"])) == ["1"]  # no temporary directory left
    loaded = exported["loaded"]  # loaded once per module, right after export
    assert set(loaded.signatures) == {"serving_default", "log_prob", "bits_per_dim", "sample", "encode", "decode"}
    sig = loaded.signatures["log_prob"]
    assert sig.structured_input_signature[1]["x"].shape.as_list() == [None, 8, 8, 1]
    assert list(sig.structured_outputs) == ["log_prob"]
    assert loaded.signatures["sample"].structured_input_signature[1]["num_samples"].dtype == tf.int32
    out = loaded.signatures["sample"](num_samples=tf.constant(5), temperature=tf.constant(1.0))
    assert set(out) == {"x", "levels"} and out["levels"].dtype == tf.int32
    levels = out["levels"].numpy()
    assert levels.min() >= 0 and levels.max() < 17  # displayable, clipped to the data's levels
    np.testing.assert_array_equal(levels, np.clip(np.floor(out["x"].numpy() * 17), 0, 16))


def test_only_core_tensorflow_ops(exported):
    assert saved_model_ops(exported["path"])
    assert not non_core_ops(exported["path"]), "ops outside TensorFlow's core registry"


def test_reload_with_tensorflow_alone_matches_the_model(exported, reloaded):
    model = exported["model"]
    inputs, got = reloaded[exported["name"]]
    x, y, z = inputs["x"], inputs["y"], inputs["z"]
    expected_log_prob = model.log_prob(y).numpy()
    np.testing.assert_allclose(got["log_prob"], expected_log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["serving_default"], expected_log_prob, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["bits_per_dim"], model.bits_per_dim(x).numpy(), rtol=1e-5)
    np.testing.assert_allclose(got["encode"], z, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["decode"], model.decode(z).numpy(), rtol=1e-5, atol=1e-5)
    assert got["sample"].shape == (7, 8, 8, 1) and np.isfinite(got["sample"]).all()
    assert got["log_prob_one"].shape == (1,) and got["log_prob_many"].shape == (1000,)
    np.testing.assert_allclose(got["log_prob_many"][::250], expected_log_prob, rtol=1e-5, atol=1e-5)


def test_saved_model_cli_show_and_run(all_exported, reloaded):
    """TensorFlow's `saved_model_cli` (its console script's `main`) in the TensorFlow-only process: it
    lists every signature and runs log_prob on an .npy file. Run with this interpreter, not found
    on PATH (a venv's python run by its full path has no `saved_model_cli` on PATH)."""
    printed = reloaded["saved_model_cli"]
    for name in ("serving_default", "log_prob", "bits_per_dim", "sample", "encode", "decode"):
        assert f"signature_def['{name}']" in printed["show"]
    result = printed["run"].split("Result for output key log_prob:", 1)[1]
    values = np.array([float(v) for v in result.split("]")[0].strip(" [\n").split()])
    expected = all_exported["Glow"]["model"].log_prob(np.full((3, 8, 8, 1), 0.5, np.float32)).numpy()
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_bad_input_names_the_expected_shape(exported):
    loaded = exported["loaded"]  # loaded once per module, right after export
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x: expected float32 \[None, 8, 8, 1\], got shape\] \[2 4 4 1\]"):
        loaded.signatures["log_prob"](x=tf.zeros([2, 4, 4, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"z: expected float32 \[None, 64\]"):
        loaded.signatures["decode"](z=tf.zeros([2, 63]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_samples: expected an int32 > 0"):
        loaded.signatures["sample"](num_samples=tf.constant(0), temperature=tf.constant(1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="temperature: expected a float32 >= 0"):
        loaded.signatures["sample"](num_samples=tf.constant(2), temperature=tf.constant(-1.0))


@pytest.mark.parametrize("exported", ["Glow"], indirect=True)  # one model is enough here
def test_versions_are_never_silently_overwritten(exported, monkeypatch, tmp_path):
    from tfp_flows.export import saved_model

    source = exported["path"]  # the session's export of this model, which stays as it is
    model, export_dir = exported["model"], shutil.copytree(exported["export_dir"], str(tmp_path / "serving"))
    exported = dict(exported, path=os.path.join(export_dir, "1"))
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        export.save(model, export_dir, version=1)

    class TracedArchive:  # writes the SavedModel this model was traced to once already (no second trace)
        def write_out(self, path, **kwargs):
            shutil.copytree(source, path, dirs_exist_ok=True, copy_function=shutil.copy)  # new files, new times

    before = pathlib.Path(exported["path"], "saved_model.pb").stat().st_mtime_ns
    pathlib.Path(exported["path"], "stale").write_text("a file of the old version")
    monkeypatch.setattr(saved_model, "_archive", lambda model: TracedArchive())
    export.save(model, export_dir, version=1, overwrite=True)
    assert pathlib.Path(exported["path"], "saved_model.pb").stat().st_mtime_ns != before
    assert not pathlib.Path(exported["path"], "stale").exists()  # replaced as a whole
    assert sorted(os.listdir(export_dir)) == ["1"]

    class BrokenArchive:  # the disk fills while the SavedModel is written
        def write_out(self, path, **kwargs):
            pathlib.Path(path, "partial").write_text("half")
            raise RuntimeError("disk full")

    monkeypatch.setattr(saved_model, "_archive", lambda model: BrokenArchive())
    with pytest.raises(RuntimeError, match="disk full"):
        export.save(model, export_dir, version=2)
    with pytest.raises(RuntimeError, match="disk full"):
        export.save(model, export_dir, version=1, overwrite=True)
    assert sorted(os.listdir(export_dir)) == ["1"]  # nothing half-written; version 1 intact
    assert tf.saved_model.load(exported["path"]).signatures["log_prob"] is not None


@pytest.mark.parametrize("exported", ["Glow"], indirect=True)  # one model is enough here
def test_bad_arguments(exported):
    with pytest.raises(ValueError, match="integer version >= 1, got 0"):
        export.save(exported["model"], exported["export_dir"], version=0)
    with pytest.raises(ValueError, match="expected a tfp_flows FlowModel, got str"):
        export.save("model", exported["export_dir"])
