"""PyTorch checkpoint files read with numpy alone: no PyTorch, and no code from the file is run.

`read(path)` returns the pickled object with every tensor as a `TensorRef` (`.shape`, `.dtype`,
`.numpy()`) and every module as a `TorchModule` (`.class_name`, `.state`: its pickled attributes). Both
of PyTorch's formats are read:

* the zip format (`torch.save` since PyTorch 1.6): `ARCHIVE/data.pkl` is the pickle, each storage is the
  raw bytes of `ARCHIVE/data/KEY`, `ARCHIVE/byteorder` says little or big endian;
* the legacy format (`_use_new_zipfile_serialization=False`, and every file of PyTorch < 1.6): five
  pickles in a row (magic number `0x1950a86a20f9469cfc6c`, protocol version 1001, system info, the object,
  the list of storage keys), then each storage in that order as an int64 element count and the raw bytes.

The pickles are read by `_torch_unpickler.RestrictedUnpickler`: globals outside a short allow-list
(tensor rebuilds, storage types, containers, NVIDIA's WaveGlow module classes as inert stand-ins) are
refused with an error naming the global, before anything is called. Tensor data is read only when
`TensorRef.numpy()` is called, so a training checkpoint's optimizer state costs nothing unless used.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "garbage.pt")
>>> _ = open(path, "wb").write(b"not a checkpoint")
>>> read(path)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tfp_flows.data.torch_checkpoint.CheckpointError: ...garbage.pt is not a PyTorch checkpoint: it starts with b'not a ch', neither a zip archive (PyTorch >= 1.6) nor a legacy pickle (PyTorch < 1.6).
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile

import numpy as np

from tfp_flows.data._torch_unpickler import (
    RestrictedUnpickler, Storage, StorageType, TensorRef, TorchModule, UnsafeCheckpointError,
)

__all__ = ["CheckpointError", "TensorRef", "TorchModule", "read"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001


class CheckpointError(ValueError):
    """A file that is no readable PyTorch checkpoint, or one that names a global it may not (unsafe)."""


def read(path) -> object:
    """The object a PyTorch checkpoint holds, tensors as `TensorRef`s and modules as `TorchModule`s.

    Raises `CheckpointError` (a ValueError) naming the file for a missing, truncated, corrupt or unsafe
    file. Nothing from the file is executed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file.")
    with open(path, "rb") as handle:
        head = handle.read(512)
    try:
        if head.startswith(b"PK\x03\x04"):
            return _read_zip(path)
        if head[:2] == b"\x80\x02" and head[2:3] == b"\x8a":  # protocol 2, then the magic number as a long
            return _read_legacy(path)
    except UnsafeCheckpointError as error:
        raise CheckpointError(f"{path}: {error}.") from None
    except CheckpointError:
        raise
    except Exception as error:  # noqa: BLE001  (garbage makes the unpickler raise anything; no code has run)
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated or corrupt?): {type(error).__name__}: {error}"
        ) from None
    if head[257:262] == b"ustar":
        raise CheckpointError(f"{path} is a tar archive: the format of PyTorch < 0.4, which is not supported.")
    raise CheckpointError(
        f"{path} is not a PyTorch checkpoint: it starts with {head[:8]!r}, neither a zip archive (PyTorch >= 1.6) "
        "nor a legacy pickle (PyTorch < 1.6)."
    )


def _storage_type(value, path) -> StorageType:
    if not isinstance(value, StorageType):
        raise CheckpointError(f"{path}: a storage names the type {value!r}, not a PyTorch storage type.")
    return value


def _as_str(value) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


# --------------------------------------------------------------------------------------- zip format
def _read_zip(path: str):
    archive = zipfile.ZipFile(path)  # kept open while tensors of the file may still be read
    names = set(archive.namelist())
    pickles = sorted(name for name in names if name.endswith("data.pkl") and name.count("/") <= 1)
    if any(name.endswith("constants.pkl") for name in names):
        raise CheckpointError(f"{path} is a TorchScript archive (torch.jit.save), not a checkpoint of weights.")
    if not pickles:
        raise CheckpointError(f"{path} is a zip archive without data.pkl: not a PyTorch checkpoint.")
    root = pickles[0][: -len("data.pkl")]
    byteorder = archive.read(root + "byteorder").decode().strip() if root + "byteorder" in names else "little"
    if byteorder not in ("little", "big"):
        raise CheckpointError(f"{path}: unknown byte order {byteorder!r}.")
    order = "<" if byteorder == "little" else ">"
    storages: dict[str, Storage] = {}

    def load(storage: Storage) -> np.ndarray:
        member = f"{root}data/{storage.key}"
        if member not in names:
            raise CheckpointError(f"{path}: the storage {member} is missing (truncated or corrupt file).")
        raw = archive.read(member)
        dtype = storage.dtype.newbyteorder(order)
        if len(raw) < storage.numel * dtype.itemsize:
            raise CheckpointError(
                f"{path}: the storage {member} has {len(raw)} bytes, expected {storage.numel * dtype.itemsize}."
            )
        return np.frombuffer(raw, dtype, storage.numel)

    def persistent_load(pid):
        if not isinstance(pid, tuple) or len(pid) != 5 or _as_str(pid[0]) != "storage":
            raise CheckpointError(f"{path}: unexpected persistent id {str(pid)[:80]!r} (expected a storage).")
        _, storage_type, key, _location, numel = pid
        key = _as_str(key)
        if key not in storages:
            storages[key] = Storage(_storage_type(storage_type, path), key, int(numel), _cached(load))
        return storages[key]

    return RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), persistent_load).load()


def _cached(load):
    """`load(storage)` once per storage (tensors viewing the same storage share its array)."""
    cache = {}

    def cached(storage):
        if storage.key not in cache:
            cache[storage.key] = load(storage)
        return cache[storage.key]

    return cached


# ------------------------------------------------------------------------------------ legacy format
def _no_persistent_ids(pid):
    raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:80]!r} in a header pickle")


def _read_legacy(path: str):
    storages: dict[str, Storage] = {}
    views: dict[str, tuple[str, int, int]] = {}
    offsets: dict[str, int] = {}
    size = os.path.getsize(path)

    def load(storage: Storage) -> np.ndarray:
        if storage.key in views:
            root_key, start, count = views[storage.key]
            return load(storages[root_key])[start : start + count]
        dtype = storage.dtype.newbyteorder(order)
        with open(path, "rb") as handle:
            handle.seek(offsets[storage.key])
            return np.fromfile(handle, dtype, storage.numel)

    def persistent_load(pid):
        kind = _as_str(pid[0]) if isinstance(pid, tuple) and pid else None
        if kind == "module":  # ('module', class, source file, source): the class, already through the allow-list
            return pid[1]
        if kind != "storage" or len(pid) != 6:
            raise CheckpointError(f"{path}: unexpected persistent id {str(pid)[:80]!r} (expected a storage).")
        _, storage_type, key, _location, numel, view = pid
        key = _as_str(key)
        storage_type = _storage_type(storage_type, path)
        if key not in storages:
            storages[key] = Storage(storage_type, key, int(numel), _cached(load))
        if view is None:
            return storages[key]
        view_key, start, count = _as_str(view[0]), int(view[1]), int(view[2])
        if view_key not in storages:
            views[view_key] = (key, start, count)
            storages[view_key] = Storage(storage_type, view_key, count, _cached(load))
        return storages[view_key]

    with open(path, "rb") as handle:
        if RestrictedUnpickler(handle, _no_persistent_ids).load() != LEGACY_MAGIC:
            raise CheckpointError(f"{path}: wrong magic number: not a PyTorch checkpoint.")
        protocol = RestrictedUnpickler(handle, _no_persistent_ids).load()
        if protocol != LEGACY_PROTOCOL:
            raise CheckpointError(f"{path}: unsupported legacy protocol version {protocol!r} (expected {LEGACY_PROTOCOL}).")
        sys_info = RestrictedUnpickler(handle, _no_persistent_ids).load()
        little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
        order = "<" if little else ">"
        result = RestrictedUnpickler(handle, persistent_load).load()
        keys = [_as_str(key) for key in RestrictedUnpickler(handle, _no_persistent_ids).load()]
        position = handle.tell()
        for key in keys:  # each storage: int64 element count, then its bytes
            if key not in storages or key in views:
                raise CheckpointError(f"{path}: the storage list names {key!r}, which no tensor uses (corrupt file).")
            storage = storages[key]
            handle.seek(position)
            header = handle.read(8)
            if len(header) < 8:
                raise CheckpointError(f"{path} is truncated: it ends before the data of storage {key!r} ({size} bytes).")
            (count,) = struct.unpack(f"{order}q", header)
            if count != storage.numel:
                raise CheckpointError(
                    f"{path}: storage {key!r} says {count} elements where the pickle says {storage.numel} (corrupt file)."
                )
            offsets[key] = position + 8
            position += 8 + storage.numel * storage.dtype.itemsize
        if position > size:
            raise CheckpointError(f"{path} is truncated: {size} bytes where its storages need {position}.")
    missing = sorted(set(storages) - set(keys) - set(views))
    if missing:
        raise CheckpointError(f"{path}: tensors use storages {missing[:3]} that the file does not hold (corrupt file).")
    return result


def tensors(obj, prefix: str = "") -> dict[str, TensorRef]:
    """Every `TensorRef` inside dicts, lists and tuples of `obj`, by dotted path (`"a.b.0"`); modules not entered."""
    found: dict[str, TensorRef] = {}
    if isinstance(obj, TensorRef):
        found[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            found.update(tensors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            found.update(tensors(value, f"{prefix}.{index}" if prefix else str(index)))
    return found
