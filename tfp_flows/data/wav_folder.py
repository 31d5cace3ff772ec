"""Users' own speech: a folder of 16-bit PCM WAV files (searched recursively), with seeded held-out splits.

Every file's header is checked when the dataset is built, so a file at the wrong sample rate, with 8/24/32-bit
or floating-point samples, or unreadable, fails at once with a ValueError naming it (not halfway through an
epoch). Samples are read lazily, file by file, inside the `tf.data` pipeline. Stereo files are mixed down to
mono; a file at another sample rate is refused unless `resample=True` (polyphase resampling with scipy).
"""
from __future__ import annotations

import os
import wave

import numpy as np
import tensorflow as tf

from tfp_flows.data.wav_io import read_wav_at

SPLITS = ("train", "validation", "test")


def wav_files(directory: str) -> list[str]:
    """Sorted paths of the `.wav` files under `directory` (recursively; the extension in any case)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        found.extend(os.path.join(root, name) for name in sorted(files) if name.lower().endswith(".wav"))
    return found


def is_wav_folder(name: str) -> bool:
    """True when `name` is a directory holding at least one `.wav` file."""
    if not isinstance(name, (str, os.PathLike)) or not os.path.isdir(name):
        return False
    for _, _, files in os.walk(name):  # stop at the first .wav: an image folder may hold many files
        if any(file.lower().endswith(".wav") for file in files):
            return True
    return False


def check_header(path: str, sample_rate: int, resample: bool) -> None:
    """Raises ValueError naming `path` unless it is a readable 16-bit PCM WAV at `sample_rate` (or `resample`)."""
    try:
        with wave.open(path, "rb") as handle:
            width, rate, frames = handle.getsampwidth(), handle.getframerate(), handle.getnframes()
    except (wave.Error, EOFError, OSError) as error:
        raise ValueError(
            f"{path!r} is not a readable 16-bit PCM WAV file ({type(error).__name__}: {error}); floating-point "
            "and WAVE_FORMAT_EXTENSIBLE files are not supported: convert to 16-bit PCM."
        ) from None
    if width != 2:
        raise ValueError(f"{path!r} has {8 * width}-bit samples; expected 16-bit PCM (convert, e.g. `sox in.wav -b 16 out.wav`).")
    if rate != sample_rate and not resample:
        raise ValueError(
            f"{path!r} is sampled at {rate} Hz; expected {sample_rate} Hz. Resample it (e.g. `sox in.wav -r "
            f"{sample_rate} out.wav`) or pass resample=True."
        )
    if frames == 0:
        raise ValueError(f"{path!r} holds no audio (0 samples).")


def split_files(
    directory: str, split: str, validation_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0
) -> list[str]:
    """The files of one split: a permutation of the sorted files (numpy, `seed`), test first, then validation."""
    if split not in SPLITS:
        raise ValueError(f"{directory}: unknown split {split!r}; expected one of {SPLITS}.")
    for name, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"{directory}: expected 0 <= {name} < 1, got {fraction!r}.")
    if validation_fraction + test_fraction >= 1.0:
        raise ValueError(f"{directory}: validation_fraction + test_fraction must leave files for training.")
    if not os.path.isdir(directory):
        raise ValueError(f"{directory!r} is not a directory.")
    files = wav_files(directory)
    if not files:
        raise ValueError(f"{directory!r} holds no .wav files.")
    order = np.random.default_rng(seed).permutation(len(files))
    num_test = int(round(test_fraction * len(files)))
    num_validation = int(round(validation_fraction * len(files)))
    chosen = {
        "test": order[:num_test],
        "validation": order[num_test : num_test + num_validation],
        "train": order[num_test + num_validation :],
    }[split]
    if len(chosen) == 0:
        raise ValueError(
            f"{directory!r}: the {split} split is empty ({len(files)} .wav files, validation_fraction="
            f"{validation_fraction}, test_fraction={test_fraction}); add files or change the fractions."
        )
    return [files[i] for i in sorted(chosen)]


def utterances(
    directory: str, split: str, sample_rate: int, *, resample: bool = False,
    validation_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
) -> tuple[tf.data.Dataset, int]:
    """Unbatched int16 utterances `[T]` of one split and their count; headers are checked up front."""
    directory = os.fspath(directory)
    files = split_files(directory, split, validation_fraction, test_fraction, seed)
    for path in files:
        check_header(path, sample_rate, resample)

    def read(path):
        return read_wav_at(path.decode(), sample_rate, resample=resample)

    ds = tf.data.Dataset.from_tensor_slices(files)
    ds = ds.map(
        lambda path: tf.ensure_shape(tf.numpy_function(read, [path], tf.int16, stateful=False), [None]),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    )
    return ds, len(files)
