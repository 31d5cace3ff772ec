"""Run in a subprocess: train a tiny Glow under tf.distribute and save the resulting weights.

Usage: python _distributed_worker.py mirrored OUT.npz
       python _distributed_worker.py multiworker OUT.npz   (TF_CONFIG set by the caller)
"""
import os
import sys


def data():
    import numpy as np
    from sklearn.datasets import load_digits

    return ((load_digits().images[:64, :, :, None] + 0.5) / 17.0).astype(np.float32)  # continuous y in (0, 1)


def build(seed=0):
    import keras

    from tfp_flows import models

    keras.utils.set_random_seed(seed)
    return models.Glow.from_preset("tiny", num_bins=None, seed=seed)


def mirrored(out):
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    y = data()
    single = build()
    single.initialize(y[:32], discrete=False)
    single.compile(optimizer=keras.optimizers.SGD(1e-3))
    initial = single.get_weights()
    single.fit(y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        replicated = build()
        replicated.set_weights(initial)
        replicated.compile(optimizer=keras.optimizers.SGD(1e-3))
    assert replicated.distribute_strategy.num_replicas_in_sync == 2
    replicated.fit(y[:16], batch_size=16, epochs=1, shuffle=False, verbose=0)  # one step, global batch 16
    one_step = replicated.get_weights()
    again = replicated.fit(y, batch_size=16, epochs=2, shuffle=False, verbose=0)  # keeps training under the strategy
    flat = lambda weights: np.concatenate([w.ravel() for w in weights])  # noqa: E731
    np.savez(out, single=flat(single.get_weights()), initial=flat(initial), replicated=flat(one_step),
             losses=np.array(again.history["loss"]))


def multiworker(out):
    import json

    import keras
    import numpy as np
    import tensorflow as tf

    keras.config.disable_traceback_filtering()
    task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    y = data()
    dataset = tf.data.Dataset.from_tensor_slices(y).shuffle(64, seed=3).batch(16)  # the same on every worker
    with strategy.scope():
        model = build(seed=task)  # different seeds: the strategy must make the workers agree
        model.compile()
    history = model.fit(dataset, epochs=2, verbose=0)
    # WaveGlow, the same way: the speech vocoder trains on several machines too.
    with strategy.scope():
        vocoder = build_waveglow(seed=task)
        vocoder.compile()
    speech = tf.data.Dataset.from_tensor_slices(speech_data(vocoder)).batch(4)
    speech_history = vocoder.fit(speech, epochs=1, verbose=0)
    flat = lambda m: np.concatenate([w.ravel() for w in m.get_weights()])  # noqa: E731
    np.savez(out, weights=flat(model), losses=np.array(history.history["loss"]),
             waveglow_weights=flat(vocoder), waveglow_losses=np.array(speech_history.history["loss"]))


def build_waveglow(seed):
    import keras

    from tfp_flows import models

    keras.utils.set_random_seed(seed)
    return models.WaveGlow.from_preset("tiny", seed=seed)


def speech_data(vocoder):
    """Eight chirps as 16-bit levels with their mel spectrograms: the batches `fit` takes."""
    import numpy as np

    from tfp_flows.data import audio

    t = np.arange(256) / 8000.0
    waves = np.stack([np.sin(2 * np.pi * (200 + 50 * k) * t * (1 + t)) for k in range(8)])
    levels = np.round(waves * 12000).astype(np.int32)
    mel = audio.mel_spectrogram((levels / 32768.0).astype(np.float32), vocoder.mel_config()).numpy()
    return {"audio": levels, "mel": mel}


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    {"mirrored": mirrored, "multiworker": multiworker}[sys.argv[1]](sys.argv[2])
