"""Run in a fresh process: load a SavedModel with TensorFlow alone and call every signature.

Usage: python _reload_saved_model.py SAVED_MODEL_DIR INPUTS.npz OUTPUTS.npz [SAVED_MODEL_DIR INPUTS.npz OUTPUTS.npz ...]
                                     [--cli SAVED_MODEL_DIR X.npy SHOW.txt RUN.txt]
(several models in one process: one TensorFlow start-up for all of them)
tfp_flows, tensorflow_probability and keras are blocked: importing any of them fails.

With --cli, TensorFlow's `saved_model_cli` (the console script's own `main`) also runs there, as TF
Serving users run it: `show --all`, then `run` of the log_prob signature on X.npy; each printout
is written to its file.
"""
import contextlib
import importlib.abc
import importlib.machinery
import io
import sys

BLOCKED = ("tfp_flows", "tensorflow_probability", "keras", "tf_keras")


class _Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        raise ImportError(f"{module.__name__} is blocked: the SavedModel must load with TensorFlow alone")


class _Blocker(importlib.abc.MetaPathFinder):
    # `import tensorflow` probes for keras with find_spec: answer with a spec whose loader refuses.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            return importlib.machinery.ModuleSpec(name, _Refuse())
        return None


def main():
    sys.meta_path.insert(0, _Blocker())
    import numpy as np
    import tensorflow as tf

    args, cli = sys.argv[1:], []
    if "--cli" in args:
        args, cli = args[: args.index("--cli")], args[args.index("--cli") + 1 :]
        assert len(cli) == 4, "expected --cli SAVED_MODEL_DIR X.npy SHOW.txt RUN.txt"
    assert args and len(args) % 3 == 0, "expected SAVED_MODEL_DIR INPUTS.npz OUTPUTS.npz triples"
    for start in range(0, len(args), 3):
        reload_one(tf, np, *args[start : start + 3])
    if cli:
        saved_model_cli(*cli)
    for name in BLOCKED:
        assert not any(m == name or m.startswith(name + ".") for m in sys.modules if sys.modules[m] is not None and getattr(sys.modules[m], "__file__", None)), name
    print("ok")


def reload_one(tf, np, saved_model_dir, inputs_path, outputs_path):
    inputs = dict(np.load(inputs_path))
    loaded = tf.saved_model.load(saved_model_dir)
    sig = loaded.signatures
    outputs = {
        "log_prob": sig["log_prob"](x=tf.constant(inputs["y"]))["log_prob"].numpy(),
        "serving_default": sig["serving_default"](x=tf.constant(inputs["y"]))["log_prob"].numpy(),
        "bits_per_dim": sig["bits_per_dim"](x=tf.constant(inputs["x"]))["bits_per_dim"].numpy(),
        "encode": sig["encode"](x=tf.constant(inputs["y"]))["z"].numpy(),
        "decode": sig["decode"](z=tf.constant(inputs["z"]))["x"].numpy(),
        "sample": sig["sample"](num_samples=tf.constant(7), temperature=tf.constant(0.7))["x"].numpy(),
        "log_prob_one": sig["log_prob"](x=tf.constant(inputs["y"][:1]))["log_prob"].numpy(),
        "log_prob_many": sig["log_prob"](x=tf.constant(np.repeat(inputs["y"], 250, axis=0)))["log_prob"].numpy(),
    }
    np.savez(outputs_path, **outputs)


def saved_model_cli(saved_model_dir, inputs_path, show_path, run_path):
    from tensorflow.python.tools import saved_model_cli as cli

    commands = {
        show_path: ["show", "--dir", saved_model_dir, "--all"],
        run_path: ["run", "--dir", saved_model_dir, "--tag_set", "serve", "--signature_def", "log_prob", "--inputs", f"x={inputs_path}"],
    }
    for path, command in commands.items():
        sys.argv, printed = ["saved_model_cli", *command], io.StringIO()
        with contextlib.redirect_stdout(printed):
            try:
                cli.main()  # absl's app.run: parses sys.argv, runs the command, exits
            except SystemExit as exit_:
                assert exit_.code in (0, None), f"saved_model_cli {command[0]} exited with {exit_.code}"
        with open(path, "w") as handle:
            handle.write(printed.getvalue())


if __name__ == "__main__":
    main()
