"""Keras 3 flow models: NICE, RealNVP, Glow, Jet and WaveGlow sharing the `FlowModel` base."""
from tfp_flows.models.base import FlowModel
from tfp_flows.models.denoiser import Denoiser
from tfp_flows.models.dequantization import DEQUANTIZATIONS
from tfp_flows.models.glow import Glow
from tfp_flows.models.jet import Jet
from tfp_flows.models.nice import NICE
from tfp_flows.models.optimizers import FusedAdam
from tfp_flows.models.presets import PRESETS
from tfp_flows.models.realnvp import RealNVP
from tfp_flows.models.schedules import LinearWarmup, WarmupCosineDecay, default_optimizer
from tfp_flows.models.waveglow import WaveGlow

__all__ = [
    "DEQUANTIZATIONS", "Denoiser", "FlowModel", "FusedAdam", "Glow", "Jet", "LinearWarmup", "NICE", "PRESETS", "RealNVP", "WarmupCosineDecay",
    "WaveGlow", "default_optimizer",
]
