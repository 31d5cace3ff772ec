"""Keras 3 layers used as coupling conditioners and split priors."""
from tfp_flows.networks.glow_conv import GlowConvNet, SplitPrior, ZeroConv2D, glow_initial_scale
from tfp_flows.networks.mlp import MLP
from tfp_flows.networks.normalization import DataInitNorm
from tfp_flows.networks.resnet import RealNVPResNet, ResidualBlock
from tfp_flows.networks.vit import TransformerBlock, VisionTransformer
from tfp_flows.networks.wavenet import WaveNet

__all__ = [
    "DataInitNorm", "GlowConvNet", "MLP", "RealNVPResNet", "ResidualBlock", "SplitPrior", "TransformerBlock", "VisionTransformer",
    "WaveNet", "ZeroConv2D", "glow_initial_scale",
]
