"""Run in a fresh process: load conditional SavedModels with TensorFlow alone and call every signature.

Usage: python _reload_conditional_saved_model.py CLASS_DIR CONTEXT_DIR INPUTS.npz OUTPUTS.npz
tfp_flows, tensorflow_probability and keras are blocked (see _reload_saved_model.py).
"""
import sys

from _reload_saved_model import BLOCKED, _Blocker


def main():
    sys.meta_path.insert(0, _Blocker())
    import numpy as np
    import tensorflow as tf

    class_dir, context_dir, inputs_path, outputs_path = sys.argv[1:5]
    given = dict(np.load(inputs_path))
    by_class = tf.saved_model.load(class_dir).signatures
    by_context = tf.saved_model.load(context_dir).signatures
    labels, context = tf.constant(given["labels"]), tf.constant(given["context"])
    outputs = {
        "class_log_prob": by_class["log_prob"](x=tf.constant(given["y"]), labels=labels)["log_prob"],
        "class_bits_per_dim": by_class["bits_per_dim"](x=tf.constant(given["x"]), labels=labels)["bits_per_dim"],
        "class_encode": by_class["encode"](x=tf.constant(given["y"]), labels=labels)["z"],
        "class_decode": by_class["decode"](z=tf.constant(given["z"]), labels=labels)["x"],
        "class_sample": by_class["sample"](num_samples=tf.constant(4), temperature=tf.constant(0.7), labels=labels)["x"],
        "classify_labels": by_class["classify"](x=tf.constant(given["x"]))["labels"],
        "classify_probabilities": by_class["classify"](x=tf.constant(given["x"]))["probabilities"],
        "context_log_prob": by_context["log_prob"](x=tf.constant(given["v"]), context=context)["log_prob"],
        "context_sample": by_context["sample"](num_samples=tf.constant(4), temperature=tf.constant(1.0), context=context)["x"],
        "context_sample_one_row": by_context["sample"](num_samples=tf.constant(3), temperature=tf.constant(1.0),
                                                       context=context[:1])["x"],
    }
    for name in BLOCKED:
        assert not any(m == name or m.startswith(name + ".") for m in sys.modules if sys.modules[m] is not None and getattr(sys.modules[m], "__file__", None)), name
    np.savez(outputs_path, **{k: v.numpy() for k, v in outputs.items()})
    print("ok")


if __name__ == "__main__":
    main()
