"""Flow bijectors: `tfp.bijectors.Bijector` subclasses, pure math, no training logic.

Parameters are passed in as tensors (in models, the values of Keras weights), so a
bijector is cheap to rebuild on every call and Keras 3 tracks all trainable state.
"""
from tfp_flows.bijectors.actnorm import ActNorm
from tfp_flows.bijectors.actnorm_conv1x1 import FoldedActNormConv1x1, fold_steps
from tfp_flows.bijectors.additive_coupling import AdditiveCoupling
from tfp_flows.bijectors.affine_coupling import AffineCoupling
from tfp_flows.bijectors._graph_cache import release_finished_graphs
from tfp_flows.bijectors._walk import conditional_kwargs
from tfp_flows.bijectors.conditional_affine import ConditionalAffine
from tfp_flows.bijectors.coupling import Coupling
from tfp_flows.bijectors.early_output import EarlyOutput
from tfp_flows.bijectors.factor_out import FactorOut
from tfp_flows.bijectors.group_1d import Group1D
from tfp_flows.bijectors.invertible_1x1_conv import Invertible1x1Conv
from tfp_flows.bijectors.masks import ChannelMask, CheckerboardMask, Mask, make_mask
from tfp_flows.bijectors.permutations import reverse_channels, shuffle_channels
from tfp_flows.bijectors.scaling import Scaling
from tfp_flows.bijectors.sequence_mask import SequenceChannelMask
from tfp_flows.bijectors.spline_coupling import SplineCoupling
from tfp_flows.bijectors.squeeze import Squeeze

__all__ = [
    "ActNorm",
    "AdditiveCoupling",
    "AffineCoupling",
    "ChannelMask",
    "ConditionalAffine",
    "CheckerboardMask",
    "Coupling",
    "EarlyOutput",
    "FactorOut",
    "FoldedActNormConv1x1",
    "Group1D",
    "Invertible1x1Conv",
    "Mask",
    "Scaling",
    "SequenceChannelMask",
    "SplineCoupling",
    "Squeeze",
    "conditional_kwargs",
    "fold_steps",
    "make_mask",
    "release_finished_graphs",
    "reverse_channels",
    "shuffle_channels",
]
