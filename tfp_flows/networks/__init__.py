"""Keras 3 layers used as coupling conditioners and split priors."""
from tfp_flows.networks.glow_conv import GlowConvNet, ZeroConv2D
from tfp_flows.networks.mlp import MLP

__all__ = ["GlowConvNet", "MLP", "ZeroConv2D"]
