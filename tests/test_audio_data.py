"""Audio features and files: NVIDIA-compatible mel features and WAV reading/writing (speech corpus: test_speech_data.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_raw_wav
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
    compiled = tf.function(lambda a: audio.mel_spectrogram(a, CONFIG), jit_compile=True)  # XLA kernels only
    np.testing.assert_allclose(compiled(x[None]).numpy()[0], single, atol=1e-4)
    half = audio.mel_spectrogram(tf.cast(x, tf.float16), CONFIG)  # mixed-precision callers get float32 features
    assert half.dtype == tf.float32
    np.testing.assert_allclose(half.numpy(), single, atol=0.05)
    np.testing.assert_array_equal(audio.audio_to_float(tf.constant([-32768, 16384], tf.int16)).numpy(), [-1.0, 0.5])


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
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-finite"):
        audio.griffin_lim(tf.fill([80, 10], np.nan), CONFIG)


# --- WAV files ------------------------------------------------------------------------------------------

def _write_float_wav(path, samples: np.ndarray, rate: int) -> str:
    """A WAVE_FORMAT_IEEE_FLOAT (format 3) file, which the `wave` module cannot write."""
    data = samples.astype("<f4").tobytes()
    fmt = np.array([3, 1], "<u2").tobytes() + np.array([rate, rate * 4], "<u4").tobytes() + np.array([4, 32], "<u2").tobytes()
    body = b"WAVE" + b"fmt " + np.uint32(len(fmt)).tobytes() + fmt + b"data" + np.uint32(len(data)).tobytes() + data
    with open(path, "wb") as handle:
        handle.write(b"RIFF" + np.uint32(len(body)).tobytes() + body)
    return str(path)


def test_wav_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    samples = rng.integers(-32768, 32768, 5000).astype(np.int16)
    audio.write_wav(tmp_path / "a.wav", samples, 22050)
    read, rate = audio.read_wav(tmp_path / "a.wav")
    assert rate == 22050 and read.dtype == np.int16
    np.testing.assert_array_equal(read, samples)
    floats = np.sin(np.linspace(0, 100, 3000)).astype(np.float32)
    audio.write_wav(tmp_path / "f.wav", floats, 16000)
    read, rate = audio.read_wav(tmp_path / "f.wav")
    assert rate == 16000
    np.testing.assert_allclose(read / 32767.0, floats, atol=1 / 32767)
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]  # written atomically


def test_wav_stereo_is_mixed_down_or_refused(tmp_path):
    left = np.full(100, 1000, np.int16)
    right = np.full(100, -3000, np.int16)
    path = write_raw_wav(tmp_path / "stereo.wav", np.stack([left, right], 1).astype("<i2").tobytes(), 2, 2, 22050)
    mono, _ = audio.read_wav(path)
    np.testing.assert_array_equal(mono, np.full(100, -1000, np.int16))
    with pytest.raises(ValueError, match=r"stereo\.wav.*2 channels; expected mono"):
        audio.read_wav(path, mixdown=False)


def test_wav_other_rate_is_refused_or_resampled(tmp_path):
    tone = np.round(10000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.int16)
    audio.write_wav(tmp_path / "16k.wav", tone, 16000)
    with pytest.raises(ValueError, match=r"16k\.wav.*16000 Hz; expected 22050 Hz"):
        audio.read_wav_at(tmp_path / "16k.wav", 22050)
    resampled = audio.read_wav_at(tmp_path / "16k.wav", 22050, resample=True)
    assert resampled.dtype == np.int16 and len(resampled) == 22050
    spectrum = np.abs(np.fft.rfft(resampled.astype(np.float64)))
    assert abs(np.argmax(spectrum) - 440) <= 1  # 1 s at 22050 Hz: bin k is k Hz; still a 440 Hz tone


@pytest.mark.parametrize("width", [1, 3, 4])
def test_wav_other_bit_depths_are_refused(tmp_path, width):
    path = write_raw_wav(tmp_path / f"w{width}.wav", bytes(width * 64), 1, width, 22050)
    with pytest.raises(ValueError, match=rf"w{width}\.wav.*{8 * width}-bit samples; expected 16-bit PCM"):
        audio.read_wav(path)


def test_wav_float_garbage_and_missing_files_are_refused(tmp_path):
    path = _write_float_wav(tmp_path / "float.wav", np.zeros(64), 22050)
    with pytest.raises(ValueError, match=r"float\.wav.*not a readable 16-bit PCM WAV"):
        audio.read_wav(path)
    (tmp_path / "garbage.wav").write_bytes(b"this is not audio at all")
    with pytest.raises(ValueError, match=r"garbage\.wav.*not a readable"):
        audio.read_wav(tmp_path / "garbage.wav")
    with pytest.raises(ValueError, match=r"missing\.wav.*no such file"):
        audio.read_wav(tmp_path / "missing.wav")
    with pytest.raises(ValueError, match="mono audio"):
        audio.write_wav(tmp_path / "x.wav", np.zeros([2, 10], np.int16), 22050)
    with pytest.raises(ValueError, match="non-finite"):
        audio.write_wav(tmp_path / "x.wav", np.array([0.0, np.nan]), 22050)
