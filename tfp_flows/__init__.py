"""tfp_flows: NICE, RealNVP and Glow as TensorFlow Probability bijectors, trained with Keras 3.

Subpackages load on first use (`tfp_flows.models`, `from tfp_flows import bijectors`), so
the command line can check its arguments before TensorFlow is imported.
"""
import importlib

__version__ = "0.1.0"
_SUBPACKAGES = ("bijectors", "data", "export", "layers", "models", "networks", "training")
__all__ = list(_SUBPACKAGES) + ["__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tfp_flows' has no attribute {name!r}")
