"""Saved models load with `keras.saving.load_model` after a plain `import tfp_flows`, in a fresh process."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from tfp_flows import models
from tfp_flows.training import RunDir

_CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    IMPORTS  # nothing else of ours: the Keras classes must register themselves
    import keras

    assert "tfp_flows.models" in sys.modules, "import keras did not register the tfp_flows classes"
    y = np.load(sys.argv[1])
    out = {}
    for path in sys.argv[2:]:
        model = keras.saving.load_model(path)
        out[path] = [type(model).__name__, model.log_prob(y).numpy().tolist()]
    print(json.dumps(out))
    """
)


def test_keras_load_model_after_import_tfp_flows(tmp_path):
    glow = models.Glow.from_preset("tiny", event_shape=(8, 8, 1), num_bins=17, seed=0)
    nice = models.NICE.from_preset("tiny", event_shape=(8, 8, 1), num_bins=17, seed=0)
    glow_path = str(tmp_path / "glow.keras")
    glow.save(glow_path)
    run = RunDir(str(tmp_path / "run"))
    run.save_model(nice, "best.keras")  # what `tfp-flows train` writes
    y = np.random.default_rng(0).uniform(0.05, 0.95, (3, 8, 8, 1)).astype(np.float32)
    np.save(tmp_path / "y.npy", y)

    # Two fresh processes side by side: the user imports Keras after `import tfp_flows` (both models), or a
    # subpackage of ours that is imported by others (layers: bijectors finish first) imports it (the run's model).
    expected = {glow_path: glow, run.file("best.keras"): nice}
    children = [
        subprocess.Popen([sys.executable, "-c", _CHILD.replace("IMPORTS", imports), str(tmp_path / "y.npy"), *paths],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for imports, paths in (("import tfp_flows", list(expected)), ("from tfp_flows import layers", [run.file("best.keras")]))
    ]
    for child in children:
        stdout, stderr = child.communicate(timeout=300)
        assert child.returncode == 0, stderr[-3000:]
        loaded = json.loads(stdout.strip().splitlines()[-1])
        assert loaded and set(loaded) <= set(expected)
        for path, (name, log_prob) in loaded.items():
            model = expected[path]
            assert name == type(model).__name__
            np.testing.assert_allclose(log_prob, model.log_prob(tf.constant(y)).numpy(), rtol=1e-5, atol=1e-4)


def test_cli_import_does_not_load_tensorflow():
    """The CLI checks its arguments before TensorFlow is imported (the registration hook must not import it)."""
    child = subprocess.run(
        [sys.executable, "-c", "import sys, tfp_flows.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.split() == ["False", "False"]
