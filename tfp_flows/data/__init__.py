"""Datasets for flows: the embedded digits and TFDS images; speech (embedded eSpeak corpus, LJ Speech, WAV folders)."""
from tfp_flows.data.audio import (
    MelConfig, audio_to_float, griffin_lim, log_mel_l1, mel_spectrogram, read_wav, write_wav,
)
from tfp_flows.data.info import DatasetInfo
from tfp_flows.data.pipeline import DATASETS, info, load
from tfp_flows.data.tfds_datasets import DatasetUnavailableError

__all__ = [
    "DATASETS", "DatasetInfo", "DatasetUnavailableError", "MelConfig", "audio_to_float", "griffin_lim", "info", "load",
    "log_mel_l1", "mel_spectrogram", "read_wav", "write_wav",
]
