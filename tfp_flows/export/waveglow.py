"""SavedModel signatures of a WaveGlow vocoder: `infer`, `log_prob` and `bits_per_sample` of audio given mel.

Plain tensors only, so TF Serving (or `tf.saved_model.load` without tfp_flows, TFP or
Keras) can vocode. `infer` is also `serving_default`: a vocoder's main use.
"""
from __future__ import annotations

import tensorflow as tf

from tfp_flows.export._endpoints import SignatureArchive

# name -> (input names, output names); the first is also `serving_default`.
SIGNATURES = {
    "infer": (("mel", "sigma"), ("audio",)),
    "log_prob": (("audio", "mel"), ("log_prob",)),
    "bits_per_sample": (("audio", "mel"), ("bits_per_sample",)),
}


def archive(model) -> SignatureArchive:
    """The `SignatureArchive` of a `WaveGlow` with the `SIGNATURES` endpoints.

    * `infer`: `mel` float32 `[None, n_mels, None]` (log-mels), `sigma` float32 scalar ->
      `audio` float32 `[None, frames * hop_length]` in [-1, 1]
    * `log_prob`: `audio` float32 `[None, None]` in [-1, 1], `mel` -> `log_prob` `[None]`
    * `bits_per_sample`: `audio` float32 `[None, None]` holding 16-bit levels, `mel` ->
      `bits_per_sample` `[None]` (deterministic: bin centres)
    """
    mel_spec = tf.TensorSpec((None, model.n_mels, None), tf.float32, name="mel")
    audio_spec = tf.TensorSpec((None, None), tf.float32, name="audio")
    sigma_spec = tf.TensorSpec((), tf.float32, name="sigma")
    result = SignatureArchive()
    covered = model.upsample_kernel - model.hop_length  # samples the upsampler gives beyond frames * hop

    def checked_mel(mel):
        shape = tf.shape(mel)
        ok = tf.logical_and(shape[0] > 0, shape[2] > 0)
        check = tf.debugging.Assert(ok, [f"mel: expected float32 [N > 0, {model.n_mels}, frames > 0], got shape", shape])
        with tf.control_dependencies([check]):
            return tf.identity(mel)

    def checked_pair(audio, mel):
        mel = checked_mel(mel)
        audio_shape, mel_shape = tf.shape(audio), tf.shape(mel)
        checks = [
            tf.debugging.Assert(tf.equal(audio_shape[0], mel_shape[0]),
                                ["audio and mel: expected the same batch size, got", audio_shape, mel_shape]),
            tf.debugging.Assert(tf.equal(audio_shape[1] % model.n_group, 0),
                                [f"audio: expected a length divisible by n_group = {model.n_group}, got shape", audio_shape]),
            tf.debugging.Assert(audio_shape[1] <= mel_shape[2] * model.hop_length + covered,
                                [f"audio: longer than its mel frames x hop ({model.hop_length}) cover; shapes", audio_shape, mel_shape]),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(audio), mel

    def infer(mel, sigma):
        check = tf.debugging.assert_non_negative(sigma, message="sigma: expected a float32 >= 0")
        with tf.control_dependencies([check]):
            return {"audio": model.infer(checked_mel(mel), sigma=tf.identity(sigma))}

    def log_prob(audio, mel):
        return {"log_prob": model.log_prob(*checked_pair(audio, mel))}

    def bits_per_sample(audio, mel):
        return {"bits_per_sample": model.bits_per_sample(*checked_pair(audio, mel))}

    endpoints = {
        "infer": (infer, [mel_spec, sigma_spec]),
        "log_prob": (log_prob, [audio_spec, mel_spec]),
        "bits_per_sample": (bits_per_sample, [audio_spec, mel_spec]),
    }
    for name in SIGNATURES:  # infer first: it also becomes serving_default
        fn, signature = endpoints[name]
        result.add_endpoint(name, fn, signature)
    return result
