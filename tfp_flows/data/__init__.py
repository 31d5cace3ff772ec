"""Data for flows: the embedded digits, tensorflow-datasets pipelines and users' own files.

`load(name_or_path, split, batch_size, ...)` and `info(...)` take "digits", any TFDS name
with an image feature, a folder of images, a `.npy`/`.npz`, a CSV or a `tf.data.Dataset`.
"""
from tfp_flows.data import splits
from tfp_flows.data.in_memory import InMemoryData
from tfp_flows.data.info import DatasetInfo
from tfp_flows.data.pipeline import DATASETS, info, kind_of, load, read
from tfp_flows.data.tfds_datasets import DatasetUnavailableError

__all__ = ["DATASETS", "DatasetInfo", "DatasetUnavailableError", "InMemoryData", "info", "kind_of", "load", "read", "splits"]
