"""Keras 3 flow models: NICE, RealNVP, Glow and WaveGlow sharing the `FlowModel` base."""
from tfp_flows.models.base import FlowModel
from tfp_flows.models.denoiser import Denoiser
from tfp_flows.models.glow import Glow
from tfp_flows.models.nice import NICE
from tfp_flows.models.presets import PRESETS
from tfp_flows.models.realnvp import RealNVP
from tfp_flows.models.schedules import LinearWarmup, default_optimizer
from tfp_flows.models.waveglow import WaveGlow

__all__ = ["Denoiser", "FlowModel", "Glow", "LinearWarmup", "NICE", "PRESETS", "RealNVP", "WaveGlow", "default_optimizer"]
