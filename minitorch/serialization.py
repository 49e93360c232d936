"""save / load: checkpoints without pickle.

A checkpoint is a standard safetensors file (written and read by the `safetensors` package,
the optional extra `minitorch[io]`): the tensors' bytes, plus, in the header's `__metadata__`,
the JSON tree of the saved object ({"format": "minitorch", "tree": ...}) whose leaves point at
tensor keys. So `minitorch.save` stores tensors, state_dicts (OrderedDict), and nested dicts /
lists / tuples of tensors, numbers, strings, bools and None (a model's and an optimizer's
state_dict plus the epoch, say), with dict keys of any of those types (an optimizer's
`{"state": {0: ...}}` comes back with int keys). Loading never runs code from the file.

Saving to a path is atomic: the bytes go to a temporary file in the same folder, which then
replaces the target (`os.replace`), so a failed save leaves the old file as it was. A CRC-32
of the tensor bytes is kept in the metadata, so truncated or corrupted files raise a
RuntimeError that names the file and what is wrong.

Loaded tensors do not require grad (as with a saved `state_dict()`); Parameters come back as
plain tensors; the same tensor saved twice (tied weights) comes back as one tensor, and tensors
saved together that are views of one tensor (`{"a": t, "b": t[1:]}`) come back as views of one
storage, as in PyTorch: the tree records the view ops that made each from its base (stored too,
under a "t<n>" key, where it was not saved itself). Each view keeps its own values in the file
as well, so other safetensors readers, and minitorch before view records, read it as a copy.

Weights from PyTorch load without pickle, as a safetensors file or numpy's .npz / .npy:

    # in PyTorch
    safetensors.torch.save_file(model.state_dict(), "weights.safetensors")
    np.savez("weights.npz", **{k: v.cpu().numpy() for k, v in model.state_dict().items()})
    # in minitorch: either file gives an OrderedDict name -> tensor
    model.load_state_dict(minitorch.load("weights.npz"))
"""

from __future__ import annotations

import io
import json
import math
import os
import struct
import tempfile
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import dtypes
from .backend import Device
from .functional import from_numpy
from .ops import movement as M
from .tensor import Size, Tensor, _shares_memory, _view_result

__all__ = ["save", "load"]

_FORMAT = "minitorch"
_VERSION = "1"
_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"}
_MAX_HEADER = 100 * 1024 * 1024


def _safetensors():
    try:
        import safetensors.numpy  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "minitorch.save/load of checkpoints needs the safetensors package: "
            "pip install 'minitorch[io]' (or pip install safetensors). "
            "Without it, .npz and .npy files still load."
        ) from None
    return safetensors.numpy


# ---- save -------------------------------------------------------------------------------------
def save(
    obj, f, pickle_module=None, pickle_protocol: int = 2, _use_new_zipfile_serialization=True
) -> None:
    """Save obj (tensors, numbers, strings, bools, None, and dicts/lists/tuples of them) to f.

    Args:
        obj: what to save, e.g. {"model": model.state_dict(), "optim": opt.state_dict(),
            "epoch": 3}.
        f: a path (str or os.PathLike), written atomically, or a binary file object.
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: accepted for
            PyTorch compatibility and ignored (nothing is pickled).

    Raises:
        TypeError: obj holds something else (the message says where).

    Example:
        >>> import io, minitorch as torch
        >>> buf = io.BytesIO()
        >>> torch.save({"w": torch.ones(2), "epoch": 3}, buf)
        >>> _ = buf.seek(0)
        >>> torch.load(buf)["epoch"]
        3
    """
    st = _safetensors()
    if not isinstance(f, (str, os.PathLike)) and not hasattr(f, "write"):
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    arrays: dict[str, np.ndarray] = {}
    encoder = _Encoder(arrays)
    tree = encoder.encode(obj, "obj")
    encoder._share_views()
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "crc32": _crc32(arrays),
        "tree": json.dumps(tree, separators=(",", ":"), allow_nan=False),
    }
    data = st.save(arrays, metadata=meta)
    if hasattr(f, "write"):
        f.write(data)
    else:
        _atomic_write(os.fspath(f), data)


class _Encoder:
    """obj -> JSON tree; tensors and arrays go into `arrays` under their path of keys ("fc.weight"
    for a state_dict's, "model.fc.weight" inside {"model": ...}; "t0", "t1", ... where the
    path is empty or taken), so other safetensors readers (PyTorch's) see a state_dict's names.
    """

    def __init__(self, arrays: dict) -> None:
        self.arrays = arrays
        self.keys: dict[int, str] = {}  # id(tensor) -> key: a tensor saved twice is stored once
        self.keep = []  # keeps encoded objects alive so ids stay unique
        self.active: set[int] = set()
        self.tensors: list[tuple[Tensor, dict]] = []  # every tensor node, for _share_views

    def encode(self, obj, where: str, path: tuple = ()):
        if obj is None or type(obj) in (bool, str, int):
            return obj
        if type(obj) is float:
            return obj if math.isfinite(obj) else {"$": "float", "v": repr(obj)}
        if isinstance(obj, Tensor):
            array = np.asarray(obj.detach().cpu())  # a cuda tensor is saved from a host copy
            node = {"$": "tensor", "key": self._store(obj, array, where, path)}
            self.tensors.append((obj, node))
            return node
        if isinstance(obj, np.ndarray):
            return {"$": "ndarray", "key": self._store(obj, obj, where, path)}
        if isinstance(obj, np.generic) and obj.dtype.name in _DTYPES:
            return {"$": "npscalar", "dtype": obj.dtype.name, "v": self.encode(obj.item(), where)}
        if isinstance(obj, dtypes.dtype):
            return {"$": "dtype", "name": obj.name}
        if isinstance(obj, Device):
            return {"$": "device", "name": str(obj)}
        if isinstance(obj, bytes):
            return {"$": "bytes", "hex": obj.hex()}
        if isinstance(obj, (dict, list, tuple)):
            return self._container(obj, where, path)
        raise TypeError(
            f"save: cannot store {where} of type {type(obj).__name__}. minitorch.save stores "
            "tensors, numpy arrays, numbers, strings, bools, None, and dicts/lists/tuples of "
            "them (no pickle); save a module's or optimizer's state_dict() rather than the "
            "object itself, and convert other objects first (e.g. to a dict or a string)."
        )

    def _container(self, obj, where: str, path: tuple):
        if id(obj) in self.active:
            raise ValueError(f"save: {where} contains itself (a circular reference)")
        self.active.add(id(obj))
        try:
            if isinstance(obj, dict):
                tag = "odict" if isinstance(obj, OrderedDict) else "dict"
                items = [
                    [
                        self.encode(k, f"a key of {where}"),
                        self.encode(v, f"{where}[{k!r}]", (*path, str(k))),
                    ]
                    for k, v in obj.items()
                ]
                return {"$": tag, "items": items}
            items = [self.encode(v, f"{where}[{i}]", (*path, str(i))) for i, v in enumerate(obj)]
            if isinstance(obj, list):
                return items
            return {"$": "size" if isinstance(obj, Size) else "tuple", "items": items}
        finally:
            self.active.discard(id(obj))

    def _store(self, obj, array: np.ndarray, where: str, path: tuple) -> str:
        key = self.keys.get(id(obj))
        if key is not None:
            return key
        if array.dtype.name not in _DTYPES:
            raise TypeError(
                f"save: cannot store {where}: dtype {array.dtype} is not one of {sorted(_DTYPES)}"
            )
        key = ".".join(path)
        if not key or key in self.arrays:
            key = f"t{len(self.arrays)}"
            while key in self.arrays:  # a path "t3" taken by a tensor saved earlier
                key += "_"
        self.keys[id(obj)] = key
        self.keep.append(obj)
        # NOTE: not np.ascontiguousarray, which turns a 0-d array into a 1-d one
        self.arrays[key] = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
        return key

    def _share_views(self) -> None:
        """Record how saved tensors that are views of one base were made from it, so they load
        sharing storage as in PyTorch: node["view"] = {"of": the base's key, "chain": the view
        ops}. Each tensor keeps its own array too, so other safetensors readers (and minitorch
        before view records) still read every tensor's values, as copies."""
        groups: dict[int, list] = {}
        for t, node in self.tensors:
            base = t._base if t._base is not None else t
            groups.setdefault(id(base), [base]).append((t, node))
        for base, *members in groups.values():
            if len({id(t) for t, _ in members}) < 2 or not base._data.flags["C_CONTIGUOUS"]:
                continue  # nothing shared to keep (or a base whose layout a load cannot copy)
            views = [(t, node, _view_record(t, base)) for t, node in members if t is not base]
            if not any(chain is not None for _, _, chain in views):
                continue
            key = self._store(base, np.asarray(base.detach().cpu()), "a saved view's base", ())
            for _, node, chain in views:
                if chain is not None:
                    node["view"] = {"of": key, "chain": chain}


# the movement ops a view's chain may hold (the ops Tensor makes views with)
_VIEW_OPS = {op.name: op for op in (M.view, M.reshape, M.permute, M.expand, M.getitem)}


def _view_record(t: Tensor, base: Tensor) -> list | None:
    """[[op name, params], ...] that make t from base (JSON), or None where t cannot be
    rebuilt as a view at load (saved as an independent copy, as before view records)."""
    if t.dtype != base.dtype or not _shares_memory(t._data, base._data):
        return None  # (its storage was replaced since, say by `t.data = ...`)
    chain = []
    for op, params in t._view_chain:
        if _VIEW_OPS.get(op.name) is not op:
            return None
        try:
            chain.append([op.name, {k: _encode_param(v) for k, v in params.items()}])
        except ValueError:
            return None
    return chain


def _encode_param(v):
    """A view op's parameter (shape, dims, index) as JSON; ValueError for anything else."""
    if v is None or type(v) in (bool, str):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (tuple, list)):
        return {"tuple" if isinstance(v, tuple) else "list": [_encode_param(x) for x in v]}
    if isinstance(v, slice):
        return {"slice": [_encode_param(x) for x in (v.start, v.stop, v.step)]}
    if v is Ellipsis:
        return {"ellipsis": True}
    raise ValueError(f"view parameter of type {type(v).__name__}")


def _decode_param(v):
    if v is None or type(v) in (bool, str, int):
        return v
    ((tag, items),) = v.items()  # ValueError unless one pair
    if tag == "ellipsis":
        return Ellipsis
    items = [_decode_param(x) for x in items]
    if tag == "slice":
        return slice(*items)
    return {"tuple": tuple, "list": list}[tag](items)


def _crc32(arrays: dict) -> str:
    crc = 0
    for key in sorted(arrays):
        crc = zlib.crc32(np.asarray(arrays[key], order="C").reshape(-1).view(np.uint8), crc)
    return f"{crc:08x}"


def _atomic_write(path: str, data: bytes) -> None:
    """Write to a temporary file beside path, then rename it over path (never half a file)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RuntimeError(f"save: parent directory {folder} does not exist.")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _new_file_mode(path: str) -> int:
    """The mode open(path, "wb") would give: the old file's, else 0o666 less the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


# ---- load -------------------------------------------------------------------------------------
def load(
    f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **pickle_load_args
):
    """Load what `save` wrote, a plain safetensors file, or numpy's .npz / .npy.

    Args:
        f: a path (str or os.PathLike) or a binary file object.
        map_location: "cpu", a device, a dict like {"cuda:0": "cpu"}, or a callable
            fn(tensor, "cpu") returning the tensor to use.
        pickle_module, weights_only, mmap, **pickle_load_args: accepted for PyTorch
            compatibility; nothing is ever unpickled, so every load is weights-only.

    Returns:
        The saved object; for a plain safetensors or .npz file an OrderedDict name -> tensor;
        for .npy a tensor.

    Raises:
        RuntimeError: the file is truncated, corrupted, or not a format read here (a PyTorch
            pickle checkpoint, say); the message names the file and what is wrong.
    """
    name, raw = _read(f)
    kind = _sniff(raw, name)
    if kind == "safetensors":
        obj = _load_safetensors(raw, name)
    elif kind == "npz":
        obj = _load_npz(raw, name)
    else:
        obj = _load_npy(raw, name)
    return _relocate(obj, map_location)


def _read(f) -> tuple[str, bytes]:
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            return path, fh.read()
    if hasattr(f, "read"):
        name = getattr(f, "name", None)
        return (name if isinstance(name, str) else f"<{type(f).__name__}>"), bytes(f.read())
    raise TypeError(f"load: f must be a path or a binary file object, got {type(f).__name__}")


def _fail(name: str, what: str) -> RuntimeError:
    return RuntimeError(f"load: {name}: {what}")


def _sniff(raw: bytes, name: str) -> str:
    """Which format raw is: "safetensors", "npz" or "npy"; a clear error for anything else."""
    if not raw:
        raise _fail(name, "the file is empty (0 bytes)")
    head = raw[:8]
    if head.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
        except zipfile.BadZipFile as e:
            raise _fail(name, f"a corrupt or truncated zip archive ({e})") from None
        if names and all(n.endswith(".npy") for n in names):
            return "npz"
        if any(n.endswith("data.pkl") for n in names):
            raise _fail(
                name,
                "a PyTorch pickle checkpoint (torch.save's zip format); minitorch.load never "
                "unpickles. Convert it in PyTorch, e.g. safetensors.torch.save_file(state_dict, "
                "'weights.safetensors') or np.savez('weights.npz', **{k: v.cpu().numpy() for "
                "k, v in state_dict.items()}), then load that file.",
            )
        raise _fail(name, f"a zip archive that is neither .npz nor a checkpoint: {names[:5]}")
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if len(raw) > 8 and raw[8:9] == b"{" and struct.unpack("<Q", head)[0] <= _MAX_HEADER:
        return "safetensors"
    if head[:1] == b"\x80":
        raise _fail(
            name,
            "a pickle file (e.g. a legacy torch.save checkpoint); minitorch.load never "
            "unpickles: resave the tensors with safetensors or np.savez.",
        )
    if len(raw) <= 8:
        raise _fail(name, f"truncated or not a checkpoint: only {len(raw)} bytes")
    raise _fail(
        name,
        f"not a minitorch checkpoint, safetensors, .npz or .npy file (it begins with {head.hex()})",
    )


def _load_safetensors(raw: bytes, name: str):
    st = _safetensors()
    try:
        arrays = st.load(raw)
    except Exception as e:  # SafetensorError (truncated, bad offsets), or a dtype numpy lacks
        raise _fail(name, f"truncated or corrupted safetensors file ({e})") from None
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    meta = header.pop("__metadata__", None) or {}
    if meta.get("format") != _FORMAT:  # a plain safetensors file: name -> tensor, file order
        order = sorted(header, key=lambda k: header[k]["data_offsets"][0])
        return OrderedDict((k, _tensor_of(arrays[k], f"tensor {k!r}", name)) for k in order)
    actual = _crc32(arrays)
    if actual != meta.get("crc32"):
        raise _fail(
            name,
            f"corrupted: the tensor data's CRC-32 is {actual}, the file says {meta.get('crc32')}",
        )
    try:
        return _decode(json.loads(meta["tree"]), arrays, {})
    except (KeyError, TypeError, ValueError, IndexError, RecursionError) as e:
        raise _fail(name, f"corrupted structure ({type(e).__name__}: {e})") from None


def _decode(node, arrays: dict, tensors: dict):
    """JSON tree -> object; `tensors` makes a key stored once come back as one tensor."""
    if isinstance(node, list):
        return [_decode(x, arrays, tensors) for x in node]
    if not isinstance(node, dict):
        return node
    tag = node["$"]
    if tag == "tensor":
        key = node["key"]
        if key not in tensors:
            view = node.get("view")  # (files before view records have none)
            tensors[key] = (
                from_numpy(arrays[key]) if view is None else _view(view, key, arrays, tensors)
            )
        return tensors[key]
    if tag in ("dict", "odict"):
        pairs = [
            (_decode(k, arrays, tensors), _decode(v, arrays, tensors)) for k, v in node["items"]
        ]
        return OrderedDict(pairs) if tag == "odict" else dict(pairs)
    if tag in ("tuple", "size"):
        items = tuple(_decode(x, arrays, tensors) for x in node["items"])
        return Size(items) if tag == "size" else items
    if tag == "ndarray":
        return arrays[node["key"]]
    if tag == "float":
        return float(node["v"])
    if tag == "npscalar":
        return np.dtype(_checked_dtype_name(node["dtype"])).type(
            _decode(node["v"], arrays, tensors)
        )
    if tag == "dtype":
        return dtypes.to_dtype(_checked_dtype_name(node["name"]))
    if tag == "device":
        return Device(str(node["name"]))
    if tag == "bytes":
        return bytes.fromhex(node["hex"])
    raise ValueError(f"unknown node type {tag!r}")


def _view(record: dict, key: str, arrays: dict, tensors: dict) -> Tensor:
    """The saved tensor `key` rebuilt as a view of its base (see _Encoder._share_views); its
    own stored values must be the view's, else the file is corrupted."""
    base_key = record["of"]
    if base_key not in tensors:
        tensors[base_key] = from_numpy(arrays[base_key])
    t = tensors[base_key]
    for name, params in record["chain"]:
        t = _view_result(_VIEW_OPS[name], t, **{k: _decode_param(v) for k, v in params.items()})
    stored, values = arrays[key], t._data
    # NOTE: tobytes() is of the C-order values (np.ascontiguousarray would make a 0-d array 1-d)
    if values.shape != stored.shape or values.tobytes() != stored.tobytes():
        raise ValueError(f"tensor {key!r} does not hold the values of its view of {base_key!r}")
    return t


def _checked_dtype_name(name) -> str:
    if name not in _DTYPES:
        raise ValueError(f"unknown dtype {name!r}")
    return name


def _load_npz(raw: bytes, name: str) -> OrderedDict:
    out = OrderedDict()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            for key in npz.files:
                out[key] = _tensor_of(npz[key], f"array {key!r}", name)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise _fail(name, f"unreadable .npz ({e})") from None
    return out


def _load_npy(raw: bytes, name: str) -> Tensor:
    try:
        array = np.load(io.BytesIO(raw), allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise _fail(name, f"unreadable .npy ({e})") from None
    return _tensor_of(array, "the array", name)


def _tensor_of(array: np.ndarray, what: str, name: str) -> Tensor:
    if array.dtype.name not in _DTYPES:
        raise _fail(name, f"{what} has dtype {array.dtype}, which minitorch cannot hold")
    return from_numpy(np.require(array, array.dtype.newbyteorder("="), ["C", "W"]))


def _relocate(obj, map_location):
    if map_location is None:
        return obj
    if isinstance(obj, Tensor):
        return _move(obj, map_location)
    if isinstance(obj, dict):
        moved = [(k, _relocate(v, map_location)) for k, v in obj.items()]
        return OrderedDict(moved) if isinstance(obj, OrderedDict) else dict(moved)
    if isinstance(obj, list):
        return [_relocate(v, map_location) for v in obj]
    if isinstance(obj, tuple) and not isinstance(obj, Size):
        return tuple(_relocate(v, map_location) for v in obj)
    return obj


def _move(t: Tensor, map_location) -> Tensor:
    if isinstance(map_location, dict):
        return t.to(map_location.get(str(t.device), str(t.device)))
    if callable(map_location) and not isinstance(map_location, (str, Device)):
        out = map_location(t, str(t.device))
        if out is None:
            return t
        if not isinstance(out, Tensor):
            raise TypeError(
                f"load: map_location returned {type(out).__name__}; expected a Tensor "
                "(or None to keep it)"
            )
        return out
    return t.to(map_location)
