"""Audio data: NVIDIA-compatible mel features, Griffin-Lim, WAV files, the embedded speech corpus, loaders."""
from __future__ import annotations

import os
import wave

import numpy as np
import pytest
import tensorflow as tf

from tfp_flows.data import audio
from tfp_flows.data.audio import MelConfig

DATA = os.path.join(os.path.dirname(__file__), "data")
CONFIG = MelConfig()


def _librosa_reference(name: str, shape: tuple[int, int]) -> np.ndarray:
    table = np.load(os.path.join(DATA, name))
    dense = np.zeros(shape, np.float64)
    dense[table[:, 0].astype(int), table[:, 1].astype(int)] = table[:, 2]
    return dense


@pytest.mark.parametrize(
    "config, fixture",
    [
        (MelConfig(), "librosa_mel_22050hz_1024fft_80mels.npy"),
        (MelConfig(sample_rate=16000, n_fft=512, win_length=512, hop_length=128, n_mels=40, fmin=50.0, fmax=7600.0),
         "librosa_mel_16000hz_512fft_40mels.npy"),
    ],
)
def test_filterbank_equals_librosa(config, fixture):
    """The Slaney filterbank against librosa 0.11.0's `librosa.filters.mel` (float32).

    The fixtures hold the reference's nonzero entries as rows (mel index, FFT bin, value), made once with
    librosa installed outside the project (it is not a dependency)::

        pip install --target /tmp/librosa_ref librosa   # 0.11.0
        PYTHONPATH=/tmp/librosa_ref python -c "import numpy as np, librosa; \\
            ref = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0); \\
            r, c = np.nonzero(ref); \\
            np.save('librosa_mel_22050hz_1024fft_80mels.npy', np.stack([r, c, ref[r, c].astype(float)], 1))"

    and likewise `sr=16000, n_fft=512, n_mels=40, fmin=50.0, fmax=7600.0` for the second fixture.
    """
    ours = audio.slaney_mel_filterbank(config)
    reference = _librosa_reference(fixture, (config.n_mels, config.num_bins))
    assert ours.shape == reference.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-8)
    assert np.array_equal(ours != 0, reference != 0)  # the same triangle supports
    # and not the HTK matrix tf.signal builds (the features would differ)
    htk = tf.signal.linear_to_mel_weight_matrix(config.n_mels, config.num_bins, config.sample_rate, config.fmin, config.fmax)
    assert np.abs(htk.numpy().T - ours).max() > 0.1


def _nvidia_log_mel(x: np.ndarray, config: MelConfig) -> np.ndarray:
    """NVIDIA/BigVGAN-style log-mel in float64 numpy: reflect pad (n_fft-hop)/2, frames, periodic Hann, rfft."""
    padded = np.pad(x.astype(np.float64), (config.padding, config.padding), mode="reflect")
    count = (len(padded) - config.n_fft) // config.hop_length + 1
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(config.win_length) / config.win_length)
    window = np.zeros(config.n_fft)
    left = (config.n_fft - config.win_length) // 2
    window[left : left + config.win_length] = hann
    frames = np.stack([padded[i * config.hop_length : i * config.hop_length + config.n_fft] for i in range(count)])
    magnitude = np.abs(np.fft.rfft(frames * window, config.n_fft, axis=-1))
    return np.log(np.maximum(audio.slaney_mel_filterbank(config).astype(np.float64) @ magnitude.T, 1e-5))


@pytest.mark.parametrize("config", [CONFIG, MelConfig(n_fft=1024, win_length=800, hop_length=200)])
def test_mel_matches_numpy_stft(config):
    rng = np.random.default_rng(0)
    x = (0.3 * np.sin(np.arange(40 * config.hop_length) * 0.05) + 0.1 * rng.normal(size=40 * config.hop_length))
    x = np.clip(x, -1, 1).astype(np.float32)
    ours = audio.mel_spectrogram(x, config).numpy()
    reference = _nvidia_log_mel(x, config)
    assert ours.shape == reference.shape == (config.n_mels, 40)
    np.testing.assert_allclose(ours, reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize("frames", [1, 7, 62])
def test_frames_times_hop_is_length(frames):
    length = frames * CONFIG.hop_length
    if length <= CONFIG.padding:
        length = 2 * CONFIG.hop_length
        frames = 2
    assert audio.mel_spectrogram(tf.zeros([length]), CONFIG).shape == (CONFIG.n_mels, frames)


def test_batch_shapes_and_unknown_batch_under_tf_function():
    x = np.random.default_rng(1).uniform(-0.5, 0.5, 4 * 1024).astype(np.float32)
    single = audio.mel_spectrogram(x, CONFIG).numpy()
    assert single.shape == (80, 16)
    batched = audio.mel_spectrogram(np.stack([x, -x]), CONFIG).numpy()
    assert batched.shape == (2, 80, 16)
    np.testing.assert_allclose(batched[0], single, atol=1e-5)
    np.testing.assert_allclose(batched[1], single, atol=1e-5)  # |STFT| is sign-invariant
    grid = audio.mel_spectrogram(np.broadcast_to(x, (2, 3, x.size)), CONFIG).numpy()
    assert grid.shape == (2, 3, 80, 16)
    np.testing.assert_allclose(grid[1, 2], single, atol=1e-5)
    function = tf.function(lambda a: audio.mel_spectrogram(a, CONFIG), input_signature=[tf.TensorSpec([None, None])])
    assert function.get_concrete_function().structured_outputs.shape.as_list() == [None, 80, None]
    np.testing.assert_allclose(function(np.stack([x, x, x])).numpy()[2], single, atol=1e-5)


def test_mel_bad_input():
    with pytest.raises(ValueError, match="float audio"):
        audio.mel_spectrogram(tf.zeros([2048], tf.int16), CONFIG)
    with pytest.raises(ValueError, match="longer than the reflection padding"):
        audio.mel_spectrogram(tf.zeros([100]), CONFIG)
    with pytest.raises(ValueError, match="scalar"):
        audio.mel_spectrogram(tf.constant(0.0), CONFIG)
    with pytest.raises(ValueError, match="win_length <= n_fft"):
        MelConfig(win_length=2048)
    with pytest.raises(ValueError, match="fmax"):
        MelConfig(fmax=20000.0)
    with pytest.raises(ValueError, match="n_mels"):
        audio.griffin_lim(tf.zeros([40, 10]), CONFIG)
