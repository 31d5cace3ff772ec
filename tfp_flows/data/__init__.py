"""Discrete image datasets for flows: the embedded digits and tensorflow-datasets pipelines."""
from tfp_flows.data.audio import MelConfig, griffin_lim, mel_spectrogram, read_wav, write_wav
from tfp_flows.data.info import DatasetInfo
from tfp_flows.data.pipeline import DATASETS, info, load
from tfp_flows.data.tfds_datasets import DatasetUnavailableError

__all__ = [
    "DATASETS", "DatasetInfo", "DatasetUnavailableError", "MelConfig", "griffin_lim", "info", "load",
    "mel_spectrogram", "read_wav", "write_wav",
]
