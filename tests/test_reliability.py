"""Divergence stops cleanly, kill -9 then rerun resumes, corrupt files give clear errors."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import TINY_GLOW_TRAIN as TINY, copy_run

from tfp_flows import cli, export, models
from tfp_flows.training import RunDir


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(trained_tiny_run, tmp_path, monkeypatch, capsys):
    out = copy_run(trained_tiny_run, tmp_path / "run")  # 2 good epochs
    good = open(os.path.join(out, "last.keras"), "rb").read()

    original = models.FlowModel.train_step

    def poisoned(self, data):
        logs = original(self, data)
        return {name: value * float("nan") for name, value in logs.items()}

    monkeypatch.setattr(models.FlowModel, "train_step", poisoned)
    assert cli.main(TINY + ["--epochs", "4", "--output", out]) == 1
    err = capsys.readouterr().err
    assert "training diverged (NaN/Inf loss) at epoch 3, step 1; kept the last good checkpoint (epoch 2)" in err
    assert open(os.path.join(out, "last.keras"), "rb").read() == good  # never overwritten by a NaN model
    state = RunDir(out).read_json("state.json")
    assert state["epoch"] == 2 and len(state["history"]) == 2
    assert not os.path.exists(os.path.join(out, "samples", "epoch_003.png"))


@pytest.mark.slow
def test_kill_9_then_the_same_command_resumes(tmp_path, capsys):
    out = str(tmp_path / "run")
    argv = TINY + ["--epochs", "5", "--output", out]
    command = [sys.executable, "-m", "tfp_flows.cli"] + argv
    state_path = os.path.join(out, "state.json")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    epochs_before = 0
    try:
        while time.time() < deadline and process.poll() is None:
            if os.path.exists(state_path):
                epochs_before = json.load(open(state_path))["epoch"]
                if epochs_before >= 2:
                    break
            time.sleep(0.05)
        assert process.poll() is None, "training finished before it could be killed"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    state = RunDir(out).read_json("state.json")  # readable: written atomically
    assert 2 <= state["epoch"] < 5
    killed_history = state["history"]
    assert RunDir(out).load_model("last.keras").is_initialized  # the checkpoint is intact

    # The same command again (in this process: a second TensorFlow start-up would add nothing to the test).
    assert cli.main(argv) == 0
    assert f"Resuming {out} after epoch {state['epoch']}." in capsys.readouterr().out
    final = RunDir(out).read_json("state.json")
    assert final["epoch"] == 5 and len(final["history"]) == 5
    assert final["history"][: len(killed_history)] == killed_history  # nothing saved before the kill was lost
    model = RunDir(out).load_model("last.keras")
    assert int(model.optimizer.iterations.numpy()) == 5 * 5
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]


def test_corrupt_checkpoint_and_state_are_named(trained_tiny_run, tmp_path, capsys):
    out = tmp_path / "run"
    copy_run(trained_tiny_run, out)
    (out / "best.keras").write_bytes(b"truncated")
    assert cli.main(["evaluate", "--run", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"tfp-flows: error: cannot load checkpoint {out / 'best.keras'}") and err.count("\n") == 0
    (out / "state.json").write_text("{\"epoch\": 1, ")
    assert cli.main(TINY + ["--epochs", "3", "--output", str(out)]) == 2
    assert f"{out / 'state.json'} is corrupt" in capsys.readouterr().err


def test_corrupt_saved_model_is_named(exported_tiny_glow, tmp_path):
    path = os.path.join(shutil.copytree(exported_tiny_glow["export_dir"], str(tmp_path / "serving")), "1")
    assert export.load(path).signatures["log_prob"] is not None
    pb = os.path.join(path, "saved_model.pb")
    data = open(pb, "rb").read()
    open(pb, "wb").write(data[: len(data) // 3])
    with pytest.raises(ValueError, match=f"the SavedModel in {path} is truncated or corrupt"):
        export.load(path)
    with pytest.raises(FileNotFoundError, match=f"no saved_model.pb in {tmp_path}"):
        export.load(str(tmp_path))
