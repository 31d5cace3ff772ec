"""A restricted unpickler for PyTorch checkpoints: an allow-list of globals, inert stand-ins, no code run.

A PyTorch checkpoint is a pickle, and unpickling runs whatever callables the file names (`os.system`,
`builtins.eval`, ...). This unpickler resolves a global only if it is on `ALLOWED`; everything else is
refused with `UnsafeCheckpointError` naming the global, before anything is called. What it allows:

* tensor rebuild functions (`torch._utils._rebuild_tensor_v2`, `_rebuild_parameter`, ...): replaced by
  functions that record `(storage, offset, size, stride)` in a `TensorRef` (read later as a numpy array);
* storage types (`torch.FloatStorage`, `torch.cuda.HalfStorage`, ...): only their element type is used;
* containers (`collections.OrderedDict`, `builtins.set`, ...) and `_codecs.encode` for latin-1 bytes
  (how protocol 2 writes `bytes`);
* module classes of NVIDIA's `glow.py` and the `torch.nn` modules they hold: `TorchModule` stand-ins
  that keep the pickled attribute dict (`state`) and nothing else; no method of theirs ever runs.

Imports nothing of tfp_flows: numpy and the standard library only.
"""
from __future__ import annotations

import collections
import functools
import pickle

import numpy as np


class UnsafeCheckpointError(pickle.UnpicklingError):
    """The file names a global that a model checkpoint does not need (and that could run code)."""


class TorchModule:
    """An inert stand-in for a pickled `torch.nn.Module` (or NVIDIA class): its class name and attribute dict.

    `state` holds what the pickle stored, e.g. `_parameters`, `_modules`, `stride`; `__setstate__` only
    records it. `class_name` is `"module.Class"` as the file names it.
    """

    class_name = "?"

    def __init__(self, *args, **kwargs):  # REDUCE with the class (rare): arguments are ignored
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"__state__": state}

    def __repr__(self):
        return f"<TorchModule {self.class_name}>"


@functools.lru_cache(maxsize=None)
def _module_class(class_name: str) -> type:
    return type(class_name.rsplit(".", 1)[-1], (TorchModule,), {"class_name": class_name, "__slots__": ()})


class StorageType:
    """A storage class of the file (`torch.FloatStorage`): names the element dtype of its data."""

    def __init__(self, name: str, dtype: np.dtype):
        self.name, self.dtype = name, np.dtype(dtype)

    def __repr__(self):
        return f"<StorageType {self.name}>"


# numpy has no bfloat16: those storages are read as uint16 and widened to float32 (`TensorRef.numpy`).
_STORAGE_DTYPES = {
    "FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "BFloat16Storage": "<u2",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?", "UntypedStorage": "u1",
}


class Storage:
    """One storage of the file: its element type, key and element count; the container reads its bytes."""

    def __init__(self, storage_type: StorageType, key: str, numel: int, loader):
        self.storage_type, self.key, self.numel, self._loader = storage_type, key, int(numel), loader

    @property
    def dtype(self) -> np.dtype:
        return self.storage_type.dtype

    def array(self) -> np.ndarray:
        return self._loader(self)


class TensorRef:
    """A tensor of the file, not yet read: `shape`, `dtype`, and `numpy()` reads it (a new array each call)."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, Storage):
            raise pickle.UnpicklingError(f"a tensor refers to {type(storage).__name__}, not to a storage of the file")
        size, stride = tuple(size), tuple(stride)
        if not all(isinstance(v, int) and v >= 0 for v in size + stride + (offset,)) or len(size) != len(stride):
            raise pickle.UnpicklingError(f"a tensor has an invalid size {size}, stride {stride} or offset {offset}")
        last = offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else offset - 1
        if last >= storage.numel:
            raise pickle.UnpicklingError(
                f"a tensor of size {size} reaches element {last} of a storage of {storage.numel} elements"
            )
        self.storage, self.offset, self.shape, self.stride = storage, offset, size, stride

    @property
    def dtype(self) -> np.dtype:
        name = self.storage.storage_type.name
        return np.dtype(np.float32) if name.endswith("BFloat16Storage") else self.storage.dtype

    def numpy(self) -> np.ndarray:
        data = self.storage.array()
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], self.shape, tuple(s * item for s in self.stride), writeable=False
        )
        out = np.array(view)
        if self.storage.storage_type.name.endswith("BFloat16Storage"):
            out = (out.astype(np.uint32) << 16).view(np.float32)
        return out.astype(out.dtype.newbyteorder("="))

    def __repr__(self):
        return f"<TensorRef {self.shape} {self.dtype}>"


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    # _rebuild_tensor(storage, offset, size, stride) and
    # _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
    return TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *rest):
    # _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    # Tensor subclasses (Parameter in some versions): `func` is itself an allowed rebuild function
    return func(*args)


def _inert(*args, **kwargs):
    # torch < 1.4 pickled each module's `_backend` as a call of `_get_thnn_function_backend()`
    return None


def _latin1_bytes(text, encoding="latin1"):
    # protocol 2 writes `bytes` as `_codecs.encode(str, "latin1")`; nothing else is accepted
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeCheckpointError(f"_codecs.encode called with encoding {encoding!r}; only latin1 bytes are expected")
    return text.encode("latin1")


def _torch_size(*args):
    return tuple(*args)


NVIDIA_CLASSES = ("glow.WaveGlow", "glow.WN", "glow.Invertible1x1Conv")
TORCH_MODULES = (
    "torch.nn.modules.conv.Conv1d", "torch.nn.modules.conv.ConvTranspose1d", "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.container.ModuleList", "torch.nn.modules.module.Module",
    "torch.nn.utils.weight_norm.WeightNorm", "torch.nn.parameter.Parameter",
)

ALLOWED = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.nn.backends.thnn._get_thnn_function_backend": _inert,
    "torch.Size": _torch_size,
    "collections.OrderedDict": collections.OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.list": list,
    "builtins.tuple": tuple,
    "builtins.dict": dict,
    "_codecs.encode": _latin1_bytes,
    **{name: _module_class(name) for name in NVIDIA_CLASSES + TORCH_MODULES},
}
for _prefix in ("torch", "torch.cuda"):
    for _name, _dtype in _STORAGE_DTYPES.items():
        ALLOWED[f"{_prefix}.{_name}"] = StorageType(f"{_prefix}.{_name}", _dtype)


_PYTHON2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class RestrictedUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` whose globals come from `ALLOWED` only; `persistent_load` is given by the container.

    `persistent_load(pid)` receives the persistent id tuple with its globals already resolved (so through
    this allow-list) and returns the object to put in its place.
    """

    def __init__(self, file, persistent_load):
        super().__init__(file, encoding="latin1")
        self._persistent_load = persistent_load

    def find_class(self, module, name):
        module = _PYTHON2_MODULES.get(module, module)  # protocol 2 files name Python 2's modules
        full = f"{module}.{name}"
        if full in ALLOWED:
            return ALLOWED[full]
        raise UnsafeCheckpointError(
            f"refused to load the global {full!r}: a WaveGlow checkpoint needs only tensors, containers and "
            "NVIDIA's module classes, and unpickling anything else could run code"
        )

    def persistent_load(self, pid):
        return self._persistent_load(pid)
