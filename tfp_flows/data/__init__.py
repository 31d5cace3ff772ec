"""Data for flows: the embedded digits, TFDS images, users' own files; speech (embedded eSpeak corpus, LJ Speech, WAV folders).

`load(name_or_path, split, batch_size, ...)` and `info(...)` take "digits", any TFDS name
with an image feature, a folder of images, a `.npy`/`.npz`, a CSV or a `tf.data.Dataset`
(and the speech sources: see `audio_datasets`).
"""
from tfp_flows.data import splits
from tfp_flows.data.audio import (
    MelConfig, audio_to_float, griffin_lim, log_mel_l1, mel_spectrogram, read_wav, write_wav,
)
from tfp_flows.data.audio_datasets import native_sample_rate
from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo
from tfp_flows.data.pipeline import DATASETS, info, kind_of, load, read
from tfp_flows.data.tfds_datasets import DatasetUnavailableError

__all__ = [
    "DATASETS", "DatasetInfo", "DatasetUnavailableError", "InMemoryData", "MelConfig", "audio_to_float", "griffin_lim",
    "info", "kind_of", "load", "log_mel_l1", "mel_spectrogram", "native_sample_rate", "read", "read_wav", "splits", "write_wav",
]
