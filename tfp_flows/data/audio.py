"""Audio for vocoders in one module (`from tfp_flows.data import audio`); importing it imports TensorFlow.

The names of `mel_scale` (`MelConfig`, the Slaney mel filterbank), `mel_features` (NVIDIA-compatible log-mel
spectrograms, `log_mel_l1`, Griffin-Lim back to audio) and `wav_io` (16-bit PCM WAV files), where their
docstrings and formulas are.
"""
from tfp_flows.data.mel_features import (
    LOG_CLAMP, audio_to_float, griffin_lim, log_mel_l1, mel_spectrogram, stft_magnitude,
)
from tfp_flows.data.mel_scale import MelConfig, hz_to_mel, mel_to_hz, slaney_mel_filterbank
from tfp_flows.data.wav_io import read_wav, read_wav_at, write_wav

__all__ = [
    "LOG_CLAMP", "MelConfig", "audio_to_float", "griffin_lim", "hz_to_mel", "log_mel_l1", "mel_spectrogram", "mel_to_hz",
    "read_wav", "read_wav_at", "slaney_mel_filterbank", "stft_magnitude", "write_wav",
]
