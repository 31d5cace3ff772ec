"""Discrete image datasets for flows: the embedded digits and tensorflow-datasets pipelines."""
from tfp_flows.data.info import DatasetInfo
from tfp_flows.data.pipeline import DATASETS, info, load
from tfp_flows.data.tfds_datasets import DatasetUnavailableError

__all__ = ["DATASETS", "DatasetInfo", "DatasetUnavailableError", "info", "load"]

import tfp_flows as _package  # noqa: E402

_package._subpackage_loaded()  # registers the Keras classes once Keras is loaded
