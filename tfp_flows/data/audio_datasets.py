"""Speech datasets for vocoders: batches of `{"audio": int16 [B, L], "mel": float32 [B, n_mels, L // hop]}`.

Sources: "speech" (the embedded eSpeak NG corpus, offline), "ljspeech" (tensorflow-datasets; its `speech`
feature is int16 at 22050 Hz) and a folder of 16-bit PCM WAV files. As NVIDIA's WaveGlow loader does,
training takes a random `segment_length` crop of each utterance (zero-padded at the end when shorter);
log-mels are computed in the `tf.data` pipeline from the float audio `audio / 32768`.
`segment_length=None` gives whole utterances one at a time (batch size 1), zero-padded at the end to a multiple
of the hop so that `mel frames * hop_length == audio length`: use it for validation/test and vocoding.

Audio stays the int16 sample values (discrete, `num_bins = 65536` levels); a model dequantises them.
"""
from __future__ import annotations

import dataclasses
import os
import wave

import numpy as np
import tensorflow as tf

from tfp_flows import _messages
from tfp_flows.data import speech, wav_folder
from tfp_flows.data.mel_features import audio_to_float, mel_spectrogram
from tfp_flows.data.mel_scale import MelConfig

AUDIO_DATASETS = ("speech", "ljspeech")
NUM_BINS = 2**16  # 16-bit audio
SPLITS = ("train", "validation", "test")
# TFDS ljspeech has one 13100-clip "train" split: hold out the last 4% (524 clips) for validation and test.
LJSPEECH_SPLITS = {"train": "train[:96%]", "validation": "train[96%:98%]", "test": "train[98%:]"}
LJSPEECH_SAMPLE_RATE = 22050


@dataclasses.dataclass(frozen=True)
class AudioDatasetInfo:
    """What an audio dataset yields: sample rate, mel layout and the discretisation of its samples."""

    name: str
    sample_rate: int
    n_mels: int
    hop_length: int
    num_bins: int = NUM_BINS
    segment_length: int | None = 16000
    mel_config: MelConfig = MelConfig()
    splits: tuple[str, ...] = SPLITS

    @property
    def event_shape(self) -> tuple[int | None]:
        return (self.segment_length,)


def native_sample_rate(name) -> int | None:
    """The sample rate an audio source comes at (a WAV folder: its first file's), or None when it is not audio or unreadable.

    Args:
      name: "speech", "ljspeech", a folder of WAV files, or anything else (then None).

    Raises:
      Nothing: an unreadable first file gives None here; reading the data names the file.

    >>> from tfp_flows import data
    >>> data.native_sample_rate("speech"), data.native_sample_rate("digits")
    (22050, None)
    """
    if name == "speech":
        return speech.SAMPLE_RATE
    if name == "ljspeech":
        return LJSPEECH_SAMPLE_RATE
    if not wav_folder.is_wav_folder(name):
        return None
    try:
        with wave.open(wav_folder.wav_files(os.fspath(name))[0], "rb") as handle:
            return handle.getframerate()
    except (wave.Error, EOFError, OSError):
        return None  # the file is named when the data is read


def is_audio_source(name) -> bool:
    """Whether `data.load(name)` is an audio dataset: "speech", "ljspeech" or a folder holding .wav files."""
    return isinstance(name, (str, os.PathLike)) and (name in AUDIO_DATASETS or wav_folder.is_wav_folder(name))


def info(name, mel_config: MelConfig | None = None, segment_length: int | None = 16000) -> AudioDatasetInfo:
    """Sample rate, n_mels, hop and `num_bins = 65536` of an audio source."""
    config = mel_config or MelConfig()
    _check_segment(segment_length, config)
    if not is_audio_source(name):
        raise ValueError(f"unknown audio dataset {name!r}; expected one of {AUDIO_DATASETS} or a folder of .wav files.")
    if name == "speech" and config.sample_rate != speech.SAMPLE_RATE:
        raise ValueError(f"speech: the corpus is {speech.SAMPLE_RATE} Hz; mel_config asks for {config.sample_rate} Hz.")
    label = name if name in AUDIO_DATASETS else os.fspath(name)
    return AudioDatasetInfo(label, config.sample_rate, config.n_mels, config.hop_length, NUM_BINS, segment_length, config)


def load(
    name,
    split: str = "train",
    batch_size: int = 8,
    *,
    segment_length: int | None = 16000,
    mel_config: MelConfig | None = None,
    shuffle: bool | None = None,
    repeat: bool = False,
    drop_remainder: bool = False,
    seed: int | None = 0,
    data_dir: str | None = None,
    download: bool = True,
    num_sentences: int | None = None,
    cache_dir: str | None = None,
    resample: bool = False,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
) -> tf.data.Dataset:
    """Batches `{"audio": int16 [B, segment_length], "mel": float32 [B, n_mels, segment_length // hop]}`.

    Args:
      name: "speech" (embedded, offline), "ljspeech" (TFDS) or a folder of 16-bit PCM .wav files.
      segment_length: samples per example (random crops when `shuffle`, seeded crops otherwise); None gives
        whole utterances (zero-padded to a multiple of the hop) and needs `batch_size=1`.
      mel_config: STFT/mel parameters (default: NVIDIA's LJ Speech settings).
      shuffle: shuffle utterances and re-draw crops every epoch (default: for the train split only).
      num_sentences, cache_dir: size and cache folder of the embedded corpus (default: 400, ~/.cache).
      resample: resample WAV files at another rate instead of refusing them.
      validation_fraction, test_fraction: held-out files of a WAV folder (a permutation seeded with `seed`
        or 0 when `seed` is None).
    """
    config = mel_config or MelConfig()
    _check_segment(segment_length, config)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"load: expected batch_size >= 1, got {batch_size!r}.")
    if segment_length is None and batch_size != 1:
        raise ValueError(f"load: whole utterances (segment_length=None) come one at a time; got batch_size={batch_size}.")
    if split not in SPLITS:
        raise ValueError(f"{name}: unknown split {split!r}; expected one of {SPLITS}.")
    shuffle = split == "train" if shuffle is None else shuffle
    ds, count = _utterances(name, split, config, data_dir, download, num_sentences, cache_dir, resample,
                            validation_fraction, test_fraction, 0 if seed is None else seed, shuffle)
    if shuffle:
        ds = ds.shuffle(min(count, 2048), seed=seed, reshuffle_each_iteration=True)
    if segment_length is None:
        ds = ds.map(lambda audio: _pad_to_hop(audio, config), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        # one random integer per utterance: new crops every epoch when shuffling, the same crops otherwise
        offsets = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=shuffle)
        ds = tf.data.Dataset.zip(ds, offsets).map(
            lambda audio, draw: _crop_or_pad(audio, draw, segment_length), num_parallel_calls=tf.data.AUTOTUNE
        )
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.map(lambda audio: _with_mel(audio, config), num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def _check_segment(segment_length, config: MelConfig) -> None:
    if segment_length is None:
        return
    if not isinstance(segment_length, (int, np.integer)) or segment_length < config.n_fft:
        raise ValueError(
            f"load: expected segment_length >= n_fft = {config.n_fft} samples (or None for whole utterances), "
            f"got {segment_length!r}."
        )


def _pad_to_hop(audio: tf.Tensor, config: MelConfig) -> tf.Tensor:
    """Zero-pads a whole utterance to a multiple of the hop (at least enough frames for the reflection pad)."""
    hop = config.hop_length
    frames = tf.maximum(-(-tf.shape(audio)[0] // hop), config.padding // hop + 1)
    return tf.pad(audio, [[0, frames * hop - tf.shape(audio)[0]]])


def _crop_or_pad(audio: tf.Tensor, draw: tf.Tensor, segment_length: int) -> tf.Tensor:
    length = tf.cast(tf.shape(audio)[0], tf.int64)
    start = tf.math.floormod(draw, tf.maximum(length - segment_length, 0) + 1)
    segment = audio[start : start + segment_length]
    segment = tf.pad(segment, [[0, segment_length - tf.shape(segment)[0]]])  # zeros after short utterances
    return tf.ensure_shape(segment, [segment_length])


def _with_mel(audio: tf.Tensor, config: MelConfig) -> dict:
    mel = mel_spectrogram(audio_to_float(audio), config)
    return {"audio": audio, "mel": mel}


def _utterances(name, split, config, data_dir, download, num_sentences, cache_dir, resample,
                validation_fraction, test_fraction, split_seed, shuffle_files):
    """Unbatched int16 utterances `[T]` of one split and how many there are (for the shuffle buffer)."""
    if name == "speech":
        if config.sample_rate != speech.SAMPLE_RATE:
            raise ValueError(f"speech: the corpus is {speech.SAMPLE_RATE} Hz; mel_config asks for {config.sample_rate} Hz.")
        corpus = speech.load_corpus(num_sentences or speech.NUM_SENTENCES, cache_dir)
        _, clips = corpus.split(split)
        if not clips:
            raise ValueError(f"speech: the {split} split of a {len(corpus.audio)}-sentence corpus is empty; use more sentences.")
        ragged = tf.RaggedTensor.from_row_lengths(np.concatenate(clips), [len(c) for c in clips])
        return tf.data.Dataset.from_tensor_slices(ragged).map(tf.convert_to_tensor), len(clips)
    if name == "ljspeech":
        return _ljspeech(split, config, data_dir, download, shuffle_files), 2048
    if wav_folder.is_wav_folder(name) or os.path.isdir(os.fspath(name)):
        return wav_folder.utterances(
            os.fspath(name), split, config.sample_rate, resample=resample,
            validation_fraction=validation_fraction, test_fraction=test_fraction, seed=split_seed,
        )
    raise ValueError(f"unknown audio dataset {name!r}; expected one of {AUDIO_DATASETS} or a folder of .wav files.")


def _ljspeech(split, config, data_dir, download, shuffle_files) -> tf.data.Dataset:
    import tensorflow_datasets as tfds

    from tfp_flows.data.tfds_datasets import DatasetUnavailableError

    if config.sample_rate != LJSPEECH_SAMPLE_RATE:
        raise ValueError(f"ljspeech is {LJSPEECH_SAMPLE_RATE} Hz; mel_config asks for {config.sample_rate} Hz.")
    builder = tfds.builder("ljspeech", data_dir=data_dir)
    try:
        if download:
            builder.download_and_prepare()
        elif not builder.is_prepared():
            raise FileNotFoundError("not prepared and download=False")
        ds = builder.as_dataset(split=LJSPEECH_SPLITS[split], shuffle_files=shuffle_files)
    except Exception as error:  # a network stack trace helps no one: say what to do
        where = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
        raise DatasetUnavailableError(
            f"dataset 'ljspeech' is not prepared in {where} and could not be downloaded ({type(error).__name__}: "
            f"{_messages.reason(error)}). Prepare it on a machine with internet "
            "access with `tfds build ljspeech --data_dir DIR` and pass data_dir=DIR, or point at a folder of "
            "its .wav files."
        ) from None
    return ds.map(lambda example: tf.cast(example["speech"], tf.int16), num_parallel_calls=tf.data.AUTOTUNE)
