"""tfp_flows: NICE, RealNVP and Glow as TensorFlow Probability bijectors, trained with Keras 3."""
from tfp_flows import bijectors, layers, models, networks

__version__ = "0.1.0"
__all__ = ["bijectors", "layers", "models", "networks", "__version__"]
