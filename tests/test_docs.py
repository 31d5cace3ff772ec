"""The README's example and the examples/ scripts run as written."""
from __future__ import annotations

import pathlib
import re
import runpy
import sys

import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_readme_quick_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 14
    exec(compile(code, "README.md", "exec"), {})
    assert "(16, 16, 16, 1) (16,)" in capsys.readouterr().out


def test_readme_custom_loop_on_a_held_distribution_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use a model as a TFP distribution", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert "(2,)" in capsys.readouterr().out
    model, dist, x = namespace["model"], namespace["dist"], namespace["x"]
    y = model.dequantize(x[:8], noise=False)
    assert abs(float(namespace["loss"])) < 1e4
    assert float(tf.reduce_max(tf.abs(dist.log_prob(y) - model.log_prob(y)))) < 1e-3
    # The loop trained the model: far better than the untrained density of the same data.
    assert float(tf.reduce_mean(model.bits_per_dim(x[:64]))) < 3.3


def test_compose_example_trains(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["compose_bijectors.py"])
    runpy.run_path(str(ROOT / "examples" / "compose_bijectors.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "samples (4, 8, 8, 1)" in out
    log_prob = float(out.rsplit("mean log_prob of data", 1)[1].split()[0])
    assert log_prob > 0  # the data is concentrated: a trained density well above the N(0, I) baseline (< -58)
