"""Read the tensors of a PyTorch checkpoint without torch and without running its code.

A ``.pt`` file is a pickle, and unpickling runs whatever the file names; this reader allows
only the handful of names a tensor checkpoint needs (an ordered dict, the tensor rebuild
function, the storage types) and refuses everything else. Two layouts exist: the legacy one
(pickles followed by raw storages, torch < 1.6; resemblyzer's ``pretrained.pt``) and the zip
one (``archive/data.pkl`` + ``archive/data/<key>``); both are read.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_DTYPES: dict[str, npt.DTypeLike] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(Exception):
    """The file is not a tensor checkpoint this reader accepts."""


@dataclass
class _Storage:
    key: str
    dtype: np.dtype[Any]
    data: np.ndarray[Any, Any] | None = None


@dataclass
class _TensorRef:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray[Any, Any]:
        data = self.storage.data
        if data is None:
            raise CheckpointError(f"Storage {self.storage.key} is missing from the file.")
        if not self.shape:
            return data[self.offset : self.offset + 1].reshape(()).copy()
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :],
            shape=self.shape,
            strides=tuple(s * item for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # a copy: the storage can go


def _rebuild_tensor(
    storage: _Storage, offset: int, shape: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _TensorRef:
    return _TensorRef(storage, int(offset), tuple(shape), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = np.dtype(_DTYPES[name])


class _Unpickler(pickle.Unpickler):
    """Only the globals a state dict needs; storages come through persistent ids."""

    def __init__(self, file: BinaryIO, storages: dict[str, _Storage]) -> None:
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if (module, name) == ("torch", "device"):
            return str
        raise CheckpointError(f"Refused to load {module}.{name}: not part of a tensor checkpoint.")

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise CheckpointError("Unexpected object reference in the checkpoint.")
        kind, key = pid[1], str(pid[2])
        dtype = kind.dtype if isinstance(kind, _StorageType) else None
        if dtype is None:
            raise CheckpointError("Unknown storage type in the checkpoint.")
        return self.storages.setdefault(key, _Storage(key, dtype))


def load_state_dict(path: Path, key: str | None = None) -> dict[str, np.ndarray[Any, Any]]:
    """The named tensors of the checkpoint at ``path`` as numpy arrays.

    ``key``: the entry of the top-level dict that holds the state dict (``"model_state"`` for
    resemblyzer); None when the file is the state dict itself.
    """
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(0)
        obj, storages = _read_zip(f) if head == b"PK\x03\x04" else _read_legacy(f)
    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            raise CheckpointError(f"The checkpoint has no {key!r} entry.")
        obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError("The checkpoint does not hold a dict of tensors.")
    del storages
    return {str(k): v.array() for k, v in obj.items() if isinstance(v, _TensorRef)}


def _read_legacy(f: BinaryIO) -> tuple[Any, dict[str, _Storage]]:
    safe = _restricted_loads
    if safe(f) != LEGACY_MAGIC:
        raise CheckpointError("Not a PyTorch checkpoint (bad magic number).")
    safe(f)  # protocol version
    info = safe(f)
    if not isinstance(info, dict) or not info.get("little_endian", True):
        raise CheckpointError("Big-endian checkpoints are not supported.")
    storages: dict[str, _Storage] = {}
    obj = _Unpickler(f, storages).load()
    keys = safe(f)
    if not isinstance(keys, list):
        raise CheckpointError("The checkpoint's storage list is damaged.")
    for k in keys:
        (count,) = struct.unpack("<q", _read_exact(f, 8))
        storage = storages.get(str(k))
        if storage is None:  # stored but unreferenced (e.g. optimiser state we never asked for)
            raise CheckpointError("The checkpoint's storage list is damaged.")
        size = count * storage.dtype.itemsize
        storage.data = np.frombuffer(_read_exact(f, size), dtype=storage.dtype)
    return obj, storages


def _read_zip(f: BinaryIO) -> tuple[Any, dict[str, _Storage]]:
    storages: dict[str, _Storage] = {}
    with zipfile.ZipFile(f) as z:
        names = z.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl") or n == "data.pkl"), None)
        if pkl is None:
            raise CheckpointError("The checkpoint archive has no data.pkl.")
        prefix = pkl[: -len("data.pkl")]
        obj = _Unpickler(io.BytesIO(z.read(pkl)), storages).load()
        for key, storage in storages.items():
            storage.data = np.frombuffer(z.read(f"{prefix}data/{key}"), dtype=storage.dtype)
    return obj, storages


def _read_exact(f: BinaryIO, size: int) -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise CheckpointError("The checkpoint file is truncated.")
    return data


def _restricted_loads(f: BinaryIO) -> Any:
    """A header pickle: plain data only (numbers, strings, dicts, lists)."""
    return _NoGlobals(f).load()


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Callable[..., Any]:
        raise CheckpointError(f"Refused to load {module}.{name} from a checkpoint header.")
