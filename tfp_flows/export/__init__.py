"""SavedModel export for TF Serving: plain-tensor signatures, loadable with TensorFlow alone."""
from tfp_flows.export.saved_model import SIGNATURES, load, save

__all__ = ["SIGNATURES", "load", "save"]
