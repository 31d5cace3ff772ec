"""A SavedModel of plain-tensor signatures, each traced once.

Why not `keras.export.ExportArchive` (what the exports used before): given endpoints with an
input signature it wraps each in a second `tf.function`, and `tf.saved_model.save` then lists
every such `tf.function` by tracing it again inside its export graph: the whole flow was
traced twice per signature. Here each endpoint is traced once, to a concrete function, and
the SavedModel's root tracks exactly the variables those functions capture (model weights,
random-generator state), so it loads with TensorFlow alone.
"""
from __future__ import annotations

from typing import Callable, Sequence

import tensorflow as tf


class SignatureArchive:
    """Named endpoints traced once; `write_out(path)` writes them as a SavedModel's signatures.

    The first endpoint added is also `serving_default`.
    """

    def __init__(self):
        self._functions: dict[str, tf.types.experimental.ConcreteFunction] = {}

    def add_endpoint(self, name: str, fn: Callable, input_signature: Sequence[tf.TensorSpec]) -> None:
        if name in self._functions:
            raise ValueError(f"SignatureArchive: endpoint {name!r} was already added.")
        function = tf.function(fn, input_signature=list(input_signature), autograph=False)
        self._functions[name] = function.get_concrete_function()

    def write_out(self, path: str) -> None:
        if not self._functions:
            raise ValueError("SignatureArchive: no endpoints to write.")
        root = tf.Module()
        captured = {}
        for function in self._functions.values():
            for variable in function.variables:
                captured.setdefault(id(variable), variable)
        root.captured_variables = list(captured.values())  # tracked, so the SavedModel holds their values
        signatures = dict(self._functions)
        signatures["serving_default"] = next(iter(self._functions.values()))
        tf.saved_model.save(root, path, signatures=signatures)
