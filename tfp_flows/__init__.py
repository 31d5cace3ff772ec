"""tfp_flows: NICE, RealNVP and Glow as TensorFlow Probability bijectors, trained with Keras 3."""
from tfp_flows import bijectors

__version__ = "0.1.0"
__all__ = ["bijectors", "__version__"]
