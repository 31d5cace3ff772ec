"""Keras 3 layers that own bijector parameters and build the bijectors from them.

Keras 3 does not track variables held inside a `tf.Module` (a TFP bijector), so every
trainable parameter lives in one of these layers; `layer.bijector()` returns a cheap,
freshly built bijector that reads the layer's weights whenever it runs. The weights are
not autocast: under a mixed precision policy the flow's parameters stay float32.
"""
from tfp_flows.layers.actnorm import ActNormLayer
from tfp_flows.layers.conditional_prior import ConditionalPriorLayer
from tfp_flows.layers.gaussian_prior import GaussianPriorLayer
from tfp_flows.layers.invertible_1x1_conv import Invertible1x1ConvLayer
from tfp_flows.layers.scaling import ScalingLayer
from tfp_flows.layers.standardize import StandardizeLayer
from tfp_flows.layers.variational_dequantizer import VariationalDequantizer

__all__ = [
    "ActNormLayer", "ConditionalPriorLayer", "GaussianPriorLayer", "Invertible1x1ConvLayer", "ScalingLayer", "StandardizeLayer", "VariationalDequantizer",
]
