"""Speech data: the embedded eSpeak NG corpus, LJSpeech through TFDS, WAV folders, Griffin-Lim and pictures."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import write_raw_wav
from tfp_flows import data
from tfp_flows.data import audio, audio_datasets, speech, wav_folder
from tfp_flows.data.audio import MelConfig


# --- the embedded eSpeak NG corpus -----------------------------------------------------------------------

NUM_SENTENCES = 20  # sentences 0..19 hold train, validation (16, 19) and test (2, 3, 4, 5, 11) sentences


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("speech_cache"))


@pytest.fixture(scope="module")
def corpus(corpus_dir):
    return speech.load_corpus(NUM_SENTENCES, corpus_dir)


def test_espeak_renders_plausible_speech():
    text = "Where is the sudden kitten?"
    speech_audio = speech.synthesise(text)
    assert speech_audio.dtype == np.int16 and speech.SAMPLE_RATE == 22050
    seconds = len(speech_audio) / speech.SAMPLE_RATE
    assert 0.6 < seconds < 3.0, seconds  # five words
    samples = speech_audio.astype(np.float64)
    assert np.sqrt(np.mean(samples**2)) > 1000 and np.abs(samples).max() < 32767  # audible, not clipped
    power = np.abs(np.fft.rfft(samples)) ** 2
    frequencies = np.fft.rfftfreq(len(samples), 1 / speech.SAMPLE_RATE)
    assert power[frequencies < 4000].sum() > 0.9 * power.sum()  # speech energy sits below 4 kHz
    # voiced: a pitch between 60 and 400 Hz shows as an autocorrelation peak in the loudest 100 ms
    loudest = np.argmax(np.convolve(samples**2, np.ones(2205), "valid"))
    chunk = samples[loudest : loudest + 2205] - samples[loudest : loudest + 2205].mean()
    autocorrelation = np.correlate(chunk, chunk, "full")[len(chunk) - 1 :]
    lags = np.arange(len(autocorrelation))
    voiced = (lags > speech.SAMPLE_RATE / 400) & (lags < speech.SAMPLE_RATE / 60)
    assert autocorrelation[voiced].max() > 0.3 * autocorrelation[0]
    np.testing.assert_array_equal(speech_audio, speech.synthesise(text))  # deterministic, even for a
    breathy = [speech.synthesise(text, voice="en-us+f3", seed=5) for _ in range(2)]  # noisy breathy variant
    np.testing.assert_array_equal(*breathy)
    with pytest.raises(ValueError, match="no voice 'xx-nonexistent'"):
        speech.synthesise(text, voice="xx-nonexistent")
    with pytest.raises(ValueError, match="non-empty text"):
        speech.synthesise("  ")


def test_corpus_is_deterministic_cached_and_split(corpus, corpus_dir, monkeypatch):
    assert [u.split for u in corpus.utterances] == [speech.split_of(i) for i in range(NUM_SENTENCES)]
    assert {u.split for u in corpus.utterances} == set(speech.SPLITS)
    assert len({u.voice for u in corpus.utterances}) == len(speech.VOICES)
    assert all(len(a) > speech.SAMPLE_RATE // 2 for a in corpus.audio)
    assert not [name for name in os.listdir(corpus_dir) if name.startswith(".partial")]

    def no_synthesis(*args, **kwargs):
        raise AssertionError("the cached corpus was synthesised again")

    monkeypatch.setattr(speech, "_synthesise_batch", no_synthesis)
    again = speech.load_corpus(NUM_SENTENCES, corpus_dir)
    assert again.directory == corpus.directory
    for first, second in zip(corpus.audio, again.audio):
        np.testing.assert_array_equal(first, second)
    # the default corpus's plan starts with the same sentences, voices and splits
    assert speech.plan()[:NUM_SENTENCES] == list(corpus.utterances)
    monkeypatch.undo()
    smaller = speech.load_corpus(5, corpus_dir)  # a fresh worker renders the same first sentences bit for bit
    for first, second in zip(smaller.audio, corpus.audio):
        np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match="num_sentences >= 1"):
        speech.plan(0)


def test_load_speech_training_segments(corpus, corpus_dir):
    options = dict(num_sentences=NUM_SENTENCES, cache_dir=corpus_dir, segment_length=4096)
    info = data.info("speech")
    assert (info.sample_rate, info.n_mels, info.hop_length, info.num_bins) == (22050, 80, 256, 65536)
    ds = data.load("speech", "train", 4, **options)
    assert ds.element_spec["audio"].shape.as_list() == [None, 4096] and ds.element_spec["audio"].dtype == tf.int16
    assert ds.element_spec["mel"].shape.as_list() == [None, 80, 16]
    batch = next(iter(ds))
    np.testing.assert_allclose(
        batch["mel"].numpy(), audio.mel_spectrogram(tf.cast(batch["audio"], tf.float32) / 32768.0).numpy(), atol=1e-5
    )
    _, train_clips = corpus.split("train")
    haystack = [clip.tobytes() for clip in train_clips]
    for segment in batch["audio"].numpy():  # each segment is a contiguous piece of a training utterance
        assert any(segment.tobytes() in clip for clip in haystack)
    first_epoch = [b["audio"].numpy() for b in ds]
    second_epoch = [b["audio"].numpy() for b in ds]
    assert not np.array_equal(first_epoch[0], second_epoch[0])  # new crops and order every epoch
    assert sum(len(b) for b in first_epoch) == len(train_clips)
    # validation: the same crops every time
    validation = [b["audio"].numpy() for b in data.load("speech", "validation", 2, **options)]
    np.testing.assert_array_equal(validation[0], next(iter(data.load("speech", "validation", 2, **options)))["audio"])


def test_load_whole_utterances_and_zero_padding(corpus, corpus_dir):
    options = dict(num_sentences=NUM_SENTENCES, cache_dir=corpus_dir)
    _, test_clips = corpus.split("test")
    whole = list(data.load("speech", "test", 1, segment_length=None, **options))
    assert len(whole) == len(test_clips)
    for batch, clip in zip(whole, test_clips):
        length = batch["audio"].shape[1]
        assert length % 256 == 0 and 0 <= length - len(clip) < 256
        assert batch["mel"].shape == (1, 80, length // 256)  # frames x hop = length
        np.testing.assert_array_equal(batch["audio"][0, : len(clip)], clip)
    long = next(iter(data.load("speech", "test", 1, segment_length=10 * 22050, **options)))["audio"][0].numpy()
    np.testing.assert_array_equal(long[: len(test_clips[0])], test_clips[0])
    assert not long[len(test_clips[0]) :].any()  # zero-padded after a shorter utterance
    with pytest.raises(ValueError, match="batch_size=4"):
        data.load("speech", "test", 4, segment_length=None, **options)
    with pytest.raises(ValueError, match="segment_length >= n_fft"):
        data.load("speech", "test", 4, segment_length=100, **options)
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        data.load("speech", "dev", 4, **options)
    with pytest.raises(ValueError, match="n_bits, num_bins and flip apply to images"):
        data.load("speech", "train", 4, flip=True, **options)


def test_ljspeech_through_tfds_mock_data():
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=4):
        batch = next(iter(data.load("ljspeech", "train", 2, segment_length=2048)))
        assert batch["audio"].shape == (2, 2048) and batch["audio"].dtype == tf.int16
        assert batch["mel"].shape == (2, 80, 8)
        whole = next(iter(data.load("ljspeech", "test", 1, segment_length=None)))
        assert whole["audio"].shape[1] % 256 == 0 and whole["mel"].shape[2] * 256 == whole["audio"].shape[1]
    with pytest.raises(ValueError, match="ljspeech is 22050 Hz"):
        data.load("ljspeech", mel_config=MelConfig(sample_rate=16000))


# --- a folder of WAV files --------------------------------------------------------------------------------

def _speech_folder(root, count: int = 10) -> str:
    rng = np.random.default_rng(3)
    for i in range(count):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        audio.write_wav(folder / f"clip{i}.WAV" if i == 3 else folder / f"clip{i}.wav",
                        rng.integers(-2000, 2000, 3000 + 500 * i).astype(np.int16), 22050)
    return str(root)


def test_wav_folder_splits_and_batches(tmp_path):
    root = _speech_folder(tmp_path / "wavs")
    files = wav_folder.wav_files(root)
    assert len(files) == 10 and any(f.endswith("clip3.WAV") for f in files)
    splits = {s: wav_folder.split_files(root, s) for s in ("train", "validation", "test")}
    assert [len(v) for v in splits.values()] == [8, 1, 1]
    assert sorted(sum(splits.values(), [])) == sorted(files)
    assert wav_folder.split_files(root, "test", seed=0) == splits["test"]
    assert {wav_folder.split_files(root, "test", seed=s)[0] for s in range(6)} != {splits["test"][0]}
    assert audio_datasets.is_audio_source(root) and data.info(root).sample_rate == 22050
    batches = list(data.load(root, "train", 3, segment_length=2048))
    assert [b["audio"].shape[0] for b in batches] == [3, 3, 2]
    assert batches[0]["mel"].shape == (3, 80, 8)
    whole = next(iter(data.load(root, "test", 1, segment_length=None)))
    expected, _ = audio.read_wav(splits["test"][0])
    np.testing.assert_array_equal(whole["audio"][0, : len(expected)], expected)


def test_wav_folder_bad_input_names_the_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not audio_datasets.is_audio_source(str(empty))
    with pytest.raises(ValueError, match="holds no .wav files"):
        audio_datasets.load(str(empty), "train", 2)
    root = _speech_folder(tmp_path / "wavs", count=4)
    audio.write_wav(tmp_path / "wavs" / "slow.wav", np.zeros(4000, np.int16), 16000)
    with pytest.raises(ValueError, match=r"slow\.wav.*16000 Hz; expected 22050 Hz"):
        data.load(root, "train", 2, validation_fraction=0.0, test_fraction=0.0)
    resampled = list(data.load(root, "train", 5, validation_fraction=0.0, test_fraction=0.0, resample=True))
    assert resampled[0]["audio"].shape == (5, 16000)
    os.remove(tmp_path / "wavs" / "slow.wav")
    write_raw_wav(tmp_path / "wavs" / "eight.wav", bytes(4000), 1, 1, 22050)
    with pytest.raises(ValueError, match=r"eight\.wav.*8-bit samples"):
        data.load(root, "train", 2, validation_fraction=0.0, test_fraction=0.0)
    os.remove(tmp_path / "wavs" / "eight.wav")
    (tmp_path / "wavs" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    with pytest.raises(ValueError, match=r"broken\.wav.*not a readable"):
        data.load(root, "train", 2, validation_fraction=0.0, test_fraction=0.0)
    with pytest.raises(ValueError, match="the test split is empty"):
        wav_folder.split_files(root, "test", test_fraction=0.01)


# --- Griffin-Lim and spectrogram pictures -------------------------------------------------------------------

@pytest.fixture(scope="module")
def utterance():
    speech_audio = speech.synthesise("Where is the sudden kitten?")
    return speech_audio[: len(speech_audio) // 256 * 256].astype(np.float32) / 32768.0


def test_griffin_lim_resynthesises_real_speech(utterance):
    """Log-mel L1 after 16 fast Griffin-Lim iterations: measured 0.214 (0 iterations, random phase: 0.78;
    white noise of the same loudness: 2.83). The bound leaves room for other BLAS/FFT round-off.
    (60 iterations over the 36 test sentences: 0.169, `python benchmarks/speech_reference.py`.)"""
    mel = audio.mel_spectrogram(utterance)
    resynthesised = audio.griffin_lim(mel, iterations=16)
    assert resynthesised.shape == utterance.shape
    distance = float(audio.log_mel_l1(utterance, resynthesised))
    np.testing.assert_allclose(distance, float(tf.reduce_mean(tf.abs(audio.mel_spectrogram(resynthesised) - mel))), rtol=1e-6)
    random_phase = float(audio.log_mel_l1(utterance, audio.griffin_lim(mel, iterations=0)))
    assert distance < 0.3 and random_phase > 2 * distance, (distance, random_phase)
    batched = audio.griffin_lim(tf.stack([mel, mel]), iterations=1)
    assert batched.shape == (2,) + utterance.shape
    assert audio.log_mel_l1(tf.stack([utterance, utterance]), batched).shape == (2,)
    with pytest.raises(ValueError, match="same shape"):
        audio.log_mel_l1(utterance, utterance[:-256])


def test_spectrogram_comparison_png(tmp_path, utterance):
    from tfp_flows.training import spectrograms

    mel = audio.mel_spectrogram(utterance).numpy()
    quieter = mel - 3.0
    image = spectrograms.save_spectrogram_comparison(str(tmp_path / "mels.png"), mel, quieter)
    decoded = tf.io.decode_png(tf.io.read_file(str(tmp_path / "mels.png"))).numpy()
    np.testing.assert_array_equal(decoded, image)
    half = (image.shape[1] - 4) // 2
    assert image.shape == (160, 2 * half + 4, 3) and half >= 256
    left, right = image[:, :half].astype(int), image[:, half + 4 :].astype(int)
    assert left.sum(axis=2).mean() > right.sum(axis=2).mean()  # one colour scale: the quieter one is darker
    with pytest.raises(ValueError, match="same number of mel bands"):
        spectrograms.side_by_side(mel, mel[:40])


@pytest.mark.benchmark
def test_speech_reference_benchmark_quick(tmp_path):
    import runpy
    import sys

    script = os.path.join(os.path.dirname(__file__), "..", "benchmarks", "speech_reference.py")
    argv = sys.argv
    sys.argv = ["speech_reference.py", "--quick", "--json", str(tmp_path / "r.json")]
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        sys.argv = argv
    assert (tmp_path / "r.json").exists()
