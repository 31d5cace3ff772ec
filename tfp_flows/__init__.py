"""tfp_flows: NICE, RealNVP and Glow as TensorFlow Probability bijectors, trained with Keras 3.

Subpackages load on first use (`tfp_flows.models`, `from tfp_flows import bijectors`), so
the command line checks its arguments before TensorFlow is imported (0.2 s, not 5 s).

Saved models still load after a plain `import tfp_flows`. `keras.saving.load_model` finds
our classes only once they are registered, that is once `tfp_flows.models` is imported, and
it imports no module outside Keras' own packages. So one import hook (`_RegisterKerasClasses`)
imports `tfp_flows.models` as soon as Keras is loaded and none of our imports is under way:
right after the user's own `import keras` (or `import tensorflow`, which imports Keras), or
at the end of our subpackage whose import loaded Keras (`from tfp_flows import layers`).
"""
import importlib
import importlib.abc
import sys

__version__ = "0.1.0"
_SUBPACKAGES = ("bijectors", "data", "export", "layers", "models", "networks", "training")
__all__ = list(_SUBPACKAGES) + ["__version__"]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tfp_flows' has no attribute {name!r}")


def _register_keras_classes(finished: str = "") -> None:
    """Imports `tfp_flows.models` (whose modules register our Keras classes) once Keras is loaded.

    Not while another of our imports is under way (`finished` is the module that just ran):
    `tfp_flows.models` needs the names of the subpackage being imported, not bound yet.
    """
    if "keras" not in sys.modules or _importing_ourselves(besides=finished):
        return
    importlib.import_module("tfp_flows.models")
    for hook in [finder for finder in sys.meta_path if isinstance(finder, _RegisterKerasClasses)]:
        sys.meta_path.remove(hook)  # done: nothing more to watch


def _importing_ourselves(besides: str) -> bool:
    """True while one of our modules (other than `besides`) is part-way through its import."""
    return any(getattr(getattr(module, "__spec__", None), "_initializing", False)
               for name, module in list(sys.modules.items()) if name.startswith("tfp_flows.") and name != besides)


class _RegisterKerasClasses(importlib.abc.MetaPathFinder):
    """Finds Keras and our subpackages as the other finders do, then registers our classes once their module has run.

    `import tensorflow` also probes for Keras without importing it: the hook acts when a
    module runs, not when it is found.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not (fullname.startswith("tfp_flows.") and fullname.count(".") == 1):
            return None
        others = (finder for finder in sys.meta_path if finder is not self and hasattr(finder, "find_spec"))
        spec = next((s for s in (finder.find_spec(fullname, path, target) for finder in others) if s is not None), None)
        if spec is not None and spec.loader is not None:
            run_module = spec.loader.exec_module

            def exec_module(module):
                run_module(module)
                _register_keras_classes(finished=fullname)

            spec.loader.exec_module = exec_module  # this spec's loader only
        return spec


if "keras" in sys.modules:
    _register_keras_classes()
else:
    sys.meta_path.insert(0, _RegisterKerasClasses())
