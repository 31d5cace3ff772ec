"""Keras 3 flow models: NICE, RealNVP and Glow sharing the `FlowModel` base."""
from tfp_flows.models.base import FlowModel
from tfp_flows.models.glow import Glow
from tfp_flows.models.nice import NICE
from tfp_flows.models.presets import PRESETS
from tfp_flows.models.realnvp import RealNVP
from tfp_flows.models.schedules import LinearWarmup, WarmupCosineDecay, default_optimizer

__all__ = ["FlowModel", "Glow", "LinearWarmup", "NICE", "PRESETS", "RealNVP", "WarmupCosineDecay", "default_optimizer"]

import tfp_flows as _package  # noqa: E402

_package._subpackage_loaded()  # registers the Keras classes once Keras is loaded
