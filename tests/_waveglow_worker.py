"""Run in a subprocess for tests/test_waveglow.py (one process, one TensorFlow start-up, for two checks):

python _waveglow_worker.py SAVED_MODEL INPUTS.npz OUT.npz MIRRORED.npz

1. with tfp_flows, TFP and Keras blocked, load the SavedModel with TensorFlow alone and call its signatures;
2. then, unblocked, one WaveGlow step on 2 logical CPUs (MirroredStrategy) against the single-device step.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def reload(saved_model_dir, inputs_path, out_path):
    import numpy as np
    import tensorflow as tf

    inputs = dict(np.load(inputs_path))
    sig = tf.saved_model.load(saved_model_dir).signatures
    mel, audio = tf.constant(inputs["mel"]), tf.constant(inputs["audio"])
    try:
        sig["infer"](mel=tf.zeros([1, 3, 4]), sigma=tf.constant(0.6))
        bad_mel = 0
    except (tf.errors.InvalidArgumentError, ValueError, TypeError):
        bad_mel = 1
    np.savez(
        out_path,
        log_prob=sig["log_prob"](audio=audio, mel=mel)["log_prob"].numpy(),
        bits_per_sample=sig["bits_per_sample"](audio=tf.constant(inputs["levels"]), mel=mel)["bits_per_sample"].numpy(),
        audio=sig["serving_default"](mel=mel, sigma=tf.constant(0.6))["audio"].numpy(),
        mode=sig["infer"](mel=mel, sigma=tf.constant(0.0))["audio"].numpy(),
        bad_mel=bad_mel,
    )
    for name in ("tfp_flows", "tensorflow_probability", "keras"):
        assert not any(m == name or m.startswith(name + ".") for m in sys.modules if getattr(sys.modules[m], "__file__", None)), name


LEARNING_RATE = 2e-3


def mirrored(out_path):
    """One eager `train_step` on one device vs one step of `fit` under MirroredStrategy (2 logical CPUs);
    then 3 epochs of `fit` under the strategy, whose bits per sample must fall."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfp_flows import models

    # Sines whose frequency the "mel" encodes: a learnable conditional density (tiny preset: 8 kHz, 8 mels, hop 16).
    freqs = np.array([200.0, 400.0, 800.0, 1600.0])
    audio = np.round(8000 * np.sin(2 * np.pi * freqs[:, None] * np.arange(64)[None] / 8000.0)).astype(np.float32)
    mel = (np.log(freqs / 100.0)[:, None, None] * np.ones([1, 8, 4])).astype(np.float32)
    batch = {"audio": audio, "mel": mel}
    bin_centres = lambda x, noise=True: (tf.cast(x, tf.float32) + 0.5) / 32768.0  # noqa: E731  (same data on both runs)

    def build():
        keras.utils.set_random_seed(0)
        m = models.WaveGlow.from_preset("tiny", seed=0)
        m.compile(optimizer=keras.optimizers.SGD(1e-4))
        m.optimizer.build(m.trainable_variables)
        m.dequantize = bin_centres
        return m

    single = build()
    initial = single.get_weights()
    trainable = lambda m: np.concatenate([v.numpy().ravel() for v in m.trainable_variables])  # noqa: E731
    start = trainable(single)
    single.train_step(batch)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        replicated = build()
        replicated.set_weights(initial)
    assert replicated.distribute_strategy.num_replicas_in_sync == 2
    replicated.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0)  # Keras splits the batch over the replicas
    one_step = trainable(replicated)
    replicated.optimizer.learning_rate.assign(LEARNING_RATE)  # then trains on, under the strategy (no retracing)
    history = replicated.fit(tf.data.Dataset.from_tensors(batch).repeat(8), epochs=3, verbose=0).history
    np.savez(out_path, single=trainable(single), initial=start, replicated=one_step, bits=np.array(history["bits_per_sample"]))


def main(saved_model_dir, inputs_path, out_path, mirrored_path):
    sys.path.insert(0, HERE)
    from _reload_saved_model import _Blocker

    blocker = _Blocker()
    sys.meta_path.insert(0, blocker)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]  # before the runtime starts: two logical devices for step 2
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    reload(saved_model_dir, inputs_path, out_path)
    sys.meta_path.remove(blocker)
    for name in [m for m in sys.modules if m.split(".")[0] in ("tfp_flows", "tensorflow_probability", "keras", "tf_keras")]:
        del sys.modules[name]  # the refused imports left empty entries behind
    sys.path.insert(0, os.path.dirname(HERE))
    mirrored(mirrored_path)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main(*sys.argv[1:])
