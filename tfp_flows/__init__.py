"""tfp_flows: NICE, RealNVP and Glow as TensorFlow Probability bijectors, trained with Keras 3.

Subpackages load on first use (`tfp_flows.models`, `from tfp_flows import bijectors`), so
the command line can check its arguments before TensorFlow is imported.

Saved models still load after a plain `import tfp_flows`: Keras finds classes by their
registered names, so the Keras classes (models, layers, networks) are registered as soon
as Keras itself is imported, whichever comes first.
"""
import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"
_SUBPACKAGES = ("bijectors", "data", "export", "layers", "models", "networks", "training")
# Importing these registers every Keras-serialisable class of the package.
_KERAS_REGISTRIES = ("tfp_flows.models",)
__all__ = list(_SUBPACKAGES) + ["__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tfp_flows' has no attribute {name!r}")


def _register_keras_classes() -> None:
    for module in _KERAS_REGISTRIES:
        importlib.import_module(module)


def _subpackage_loaded() -> None:
    """Called at the end of every subpackage's `__init__`: registers once Keras is loaded."""
    if "keras" in sys.modules:
        _register_keras_classes()


def _importing_ourselves() -> bool:
    """True while one of our modules is part-way through its import (its names are not all bound yet)."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name.startswith("tfp_flows.")
    )


class _RegisterWhenKerasLoads(importlib.abc.MetaPathFinder):
    """Imports our Keras classes right after `keras` finishes importing.

    Why not import them in this file: that would import TensorFlow on `import tfp_flows`
    and make every `tfp-flows` argument error wait for it. Why not wait for the user:
    `keras.saving.load_model` only finds classes that are already registered.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        spec = self._real_spec(fullname, path, target)  # TensorFlow also probes without importing
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module
        finder = self

        class RegisteringLoader(type(spec.loader)):
            def exec_module(self, module):
                exec_module(module)
                if finder in sys.meta_path:
                    sys.meta_path.remove(finder)
                # Inside one of our own imports (ours imported TensorFlow, which imported Keras), the
                # subpackage registers at the end of its `__init__` instead: its names are not bound yet.
                if not _importing_ourselves():
                    _register_keras_classes()

        spec.loader.__class__ = RegisteringLoader
        return spec

    def _real_spec(self, fullname, path, target):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None


if "keras" in sys.modules:
    _register_keras_classes()
else:
    sys.meta_path.insert(0, _RegisterWhenKerasLoads())
