"""minitorch.save / minitorch.load: round trips, atomic saves, bad files, PyTorch exports.

torch is imported inside tests, after minitorch (numba must load LLVM first).
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import struct
from collections import OrderedDict

import numpy as np
import pytest

import minitorch
import minitorch.nn as nn
from minitorch import serialization

try:
    import safetensors.numpy  # noqa: F401
except ImportError:  # the optional "io" extra: only the clear-error test runs without it
    HAS_SAFETENSORS = False
else:
    HAS_SAFETENSORS = True
needs_safetensors = pytest.mark.skipif(
    not HAS_SAFETENSORS, reason="safetensors (minitorch[io]) is not installed"
)


def _same(a: minitorch.Tensor, b: minitorch.Tensor) -> None:
    assert isinstance(b, minitorch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def _adam_like_state(params: int = 2) -> dict:
    """An optimizer state_dict shaped like PyTorch's Adam: int keys, tuples, tensors."""
    return {
        "state": {
            i: {
                "step": minitorch.tensor(3.0),
                "exp_avg": minitorch.randn(2, 3),
                "exp_avg_sq": minitorch.rand(2, 3),
            }
            for i in range(params)
        },
        "param_groups": [
            {
                "lr": 1e-3,
                "betas": (0.9, 0.999),
                "eps": 1e-8,
                "weight_decay": 0,
                "amsgrad": False,
                "maximize": False,
                "foreach": None,
                "params": list(range(params)),
            }
        ],
    }


@needs_safetensors
def test_tensor_round_trip_all_dtypes(tmp_path):
    values = np.random.default_rng(0).standard_normal((3, 4)) * 10
    for np_dtype in (
        "float32",
        "float64",
        "float16",
        "int64",
        "int32",
        "int16",
        "int8",
        "uint8",
        "bool",
    ):
        t = minitorch.from_numpy(values.astype(np_dtype))
        path = tmp_path / f"{np_dtype}.pt"
        minitorch.save(t, path)
        _same(t, minitorch.load(path))
    for t in (minitorch.tensor(2.5), minitorch.zeros(0, 3), minitorch.arange(12.0).reshape(3, 4).T):
        minitorch.save(t, tmp_path / "x.pt")
        _same(t, minitorch.load(tmp_path / "x.pt"))


@needs_safetensors
def test_loaded_tensor_is_writable_and_detached(tmp_path):
    w = minitorch.ones(3, requires_grad=True)
    minitorch.save(w, tmp_path / "w.pt")
    back = minitorch.load(str(tmp_path / "w.pt"))
    assert not back.requires_grad
    back.add_(1)
    assert back.tolist() == [2.0, 2.0, 2.0]


@needs_safetensors
def test_checkpoint_with_model_optimizer_and_epoch(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ckpt = {
        "model": model.state_dict(),
        "optimizer": _adam_like_state(),
        "epoch": 7,
        "loss": 0.125,
        "name": "run-1",
        "best": None,
        "history": [1.5, 0.75, float("inf")],
        "flags": (True, False),
        "nan": float("nan"),
    }
    minitorch.save(ckpt, tmp_path / "ckpt.pt")
    back = minitorch.load(tmp_path / "ckpt.pt", map_location="cpu")
    assert isinstance(back["model"], OrderedDict)
    assert (
        list(back["model"])
        == list(model.state_dict())
        == ["0.weight", "0.bias", "2.weight", "2.bias"]
    )
    for k, v in model.state_dict().items():
        _same(v, back["model"][k])
    state = back["optimizer"]["state"]
    assert list(state) == [0, 1] and all(type(k) is int for k in state)  # int keys stay ints
    _same(ckpt["optimizer"]["state"][1]["exp_avg"], state[1]["exp_avg"])
    group = back["optimizer"]["param_groups"][0]
    assert group == {**ckpt["optimizer"]["param_groups"][0]} and group["betas"] == (0.9, 0.999)
    assert isinstance(group["betas"], tuple) and group["foreach"] is None
    assert (back["epoch"], back["loss"], back["name"], back["best"]) == (7, 0.125, "run-1", None)
    assert type(back["epoch"]) is int and back["history"][:2] == [1.5, 0.75]
    assert back["history"][2] == math.inf and math.isnan(back["nan"])
    assert back["flags"] == (True, False)
    # resume: the loaded weights go back into a fresh model
    fresh = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(back["model"])
    x = minitorch.randn(5, 3)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


@needs_safetensors
def test_misc_leaves_and_tied_tensors():
    shared = minitorch.randn(2)
    obj = {
        "a": shared,
        "b": shared,
        "size": minitorch.Size([2, 3]),
        "dtype": minitorch.int64,
        "np": np.arange(3, dtype=np.int32),
        "scalar": np.float32(1.5),
        "raw": b"\x00\xff",
        ("k", 1): "tuple key",
        2.5: "float key",
    }
    buf = io.BytesIO()
    minitorch.save(obj, buf)
    buf.seek(0)
    back = minitorch.load(buf)
    assert back["a"] is back["b"]  # a tensor saved twice comes back as one
    assert back["size"] == minitorch.Size([2, 3]) and isinstance(back["size"], minitorch.Size)
    assert back["dtype"] == minitorch.int64 and back["raw"] == b"\x00\xff"
    assert back["np"].dtype == np.int32 and back["np"].tolist() == [0, 1, 2]
    assert back["scalar"] == np.float32(1.5) and back["scalar"].dtype == np.float32
    assert back[("k", 1)] == "tuple key" and back[2.5] == "float key"


@needs_safetensors
def test_unsupported_objects_are_refused_with_where():
    buf = io.BytesIO()
    with pytest.raises(TypeError, match=r"cannot store obj\['opt'\]\[0\] of type object"):
        minitorch.save({"opt": [object()]}, buf)
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="circular reference"):
        minitorch.save(loop, buf)
    with pytest.raises(TypeError, match="must be a path or a binary file object"):
        minitorch.save(minitorch.ones(1), 3)


@needs_safetensors
def test_save_is_atomic(tmp_path):
    path = tmp_path / "ckpt.pt"
    minitorch.save({"w": minitorch.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        minitorch.save({"w": minitorch.zeros(3), "bad": object()}, path)
    assert path.read_bytes() == before  # a failed save leaves the old file intact

    real_replace = os.replace

    def crash(src, dst):
        raise OSError("disk full")

    serialization.os.replace = crash
    try:
        with pytest.raises(OSError, match="disk full"):
            minitorch.save({"w": minitorch.zeros(3)}, path)
    finally:
        serialization.os.replace = real_replace
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no temp file left
    with pytest.raises(RuntimeError, match="parent directory .* does not exist"):
        minitorch.save(minitorch.ones(1), tmp_path / "missing" / "x.pt")


@needs_safetensors
def test_truncated_corrupted_and_foreign_files(tmp_path):
    path = tmp_path / "ckpt.pt"
    minitorch.save({"w": minitorch.randn(64), "epoch": 1}, path)
    data = path.read_bytes()
    cases = {
        "empty": b"",
        "short": data[:5],
        "truncated": data[:-10],
        "half": data[: len(data) // 2],
        "flipped": data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:],
        "text": b"hello, this is not a checkpoint at all",
        "pickle": pickle.dumps({"w": [1, 2]}),
        "zip": b"PK\x03\x04" + b"\x00" * 40,
    }
    expected = {
        "empty": "empty",
        "short": "only 5 bytes",
        "truncated": "truncated or corrupted",
        "half": "truncated or corrupted",
        "flipped": "CRC-32",
        "text": "not a minitorch",
        "pickle": "never unpickles",
        "zip": "corrupt or truncated zip",
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.pt"
        bad.write_bytes(blob)
        with pytest.raises(RuntimeError, match=expected[name]) as info:
            minitorch.load(bad)
        assert str(bad) in str(info.value)


@needs_safetensors
def test_corrupted_structure_is_reported(tmp_path):
    from safetensors.numpy import save as st_save

    meta = {
        "format": "minitorch",
        "version": "1",
        "crc32": serialization._crc32({}),
        "tree": json.dumps({"$": "tensor", "key": "t9"}),
    }
    (tmp_path / "bad.pt").write_bytes(st_save({}, metadata=meta))
    with pytest.raises(RuntimeError, match="corrupted structure"):
        minitorch.load(tmp_path / "bad.pt")
    # a header length that points past the end of the file
    (tmp_path / "len.pt").write_bytes(struct.pack("<Q", 1000) + b'{"a": 1}')
    with pytest.raises(RuntimeError, match="truncated or corrupted"):
        minitorch.load(tmp_path / "len.pt")


def test_torch_pickle_checkpoint_is_refused(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")
    with pytest.raises(RuntimeError, match="PyTorch pickle checkpoint"):
        minitorch.load(tmp_path / "torch.pt")


@needs_safetensors
def test_state_dict_exported_from_pytorch_as_numpy(tmp_path):
    torch = pytest.importorskip("torch")
    import safetensors.numpy

    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    arrays = {k: v.detach().cpu().numpy() for k, v in theirs.state_dict().items()}
    np.savez(tmp_path / "w.npz", **arrays)
    safetensors.numpy.save_file(arrays, str(tmp_path / "w.safetensors"))
    np.save(tmp_path / "w0.npy", arrays["0.weight"])
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    for name in ("w.npz", "w.safetensors"):
        sd = minitorch.load(tmp_path / name)
        assert sorted(sd) == sorted(arrays)
        ours = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        ours.load_state_dict(sd)
        np.testing.assert_allclose(
            ours(minitorch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6, atol=1e-6
        )
    assert list(minitorch.load(tmp_path / "w.npz")) == list(arrays)  # .npz keeps the order
    np.testing.assert_array_equal(minitorch.load(tmp_path / "w0.npy").numpy(), arrays["0.weight"])
    # and our own checkpoint loads into PyTorch through safetensors (no pickle either way)
    minitorch.save(ours.state_dict(), tmp_path / "ours.pt")
    tensors = safetensors.numpy.load_file(str(tmp_path / "ours.pt"))
    assert len(tensors) == 4


@needs_safetensors
def test_map_location_forms():
    buf = io.BytesIO()
    minitorch.save({"w": minitorch.ones(2), "n": [minitorch.zeros(1)]}, buf)
    for loc in ("cpu", minitorch.device("cpu"), {"cpu": "cpu"}, lambda t, where: t):
        buf.seek(0)
        back = minitorch.load(buf, map_location=loc)
        assert back["w"].device == minitorch.device("cpu") and back["n"][0].shape == (1,)
    buf.seek(0)
    doubled = minitorch.load(buf, map_location=lambda t, where: t * 2)
    assert doubled["w"].tolist() == [2.0, 2.0]
    buf.seek(0)
    with pytest.raises(TypeError, match="map_location returned int"):
        minitorch.load(buf, map_location=lambda t, where: 3)


def test_missing_safetensors_gives_a_clear_message(monkeypatch):
    import builtins

    buf = io.BytesIO()
    np.savez(buf, w=np.ones(2, np.float32))  # .npz files load without safetensors

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("safetensors"):
            raise ImportError("no safetensors")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'minitorch\[io\]'"):
        minitorch.save(minitorch.ones(1), io.BytesIO())
    buf.seek(0)
    assert minitorch.load(buf)["w"].tolist() == [1.0, 1.0]


@needs_safetensors
def test_saved_tensors_are_named_by_their_keys_for_other_safetensors_readers(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    path = tmp_path / "model.safetensors"
    minitorch.save(model.state_dict(), path)
    plain = safetensors.numpy.load_file(path)  # what PyTorch's safetensors.torch reads too
    assert sorted(plain) == sorted(model.state_dict())
    np.testing.assert_array_equal(plain["2.weight"], model[2].weight.detach().numpy())
    # nested paths join with dots; a path taken or empty falls back to "t<n>"
    tied = minitorch.ones(2)
    obj = {"model": {"w": tied}, "again": tied, "t1": minitorch.zeros(1), "": minitorch.ones(3)}
    minitorch.save(obj, path)
    assert sorted(safetensors.numpy.load_file(path)) == ["model.w", "t1", "t2"]
    back = minitorch.load(path)
    assert back["again"] is back["model"]["w"] and back[""].tolist() == [1.0, 1.0, 1.0]


# views saved together, built the same way in both libraries; each case's entries overlap
VIEW_CASES = {
    "tensor-and-slice": lambda t: {"a": t, "b": t[1:]},
    "tensor-and-view": lambda t: {"a": t, "b": t.view(3, 4)},
    "slices-of-an-unsaved-base": lambda t: {"a": t[0:2], "b": t[1:3, ::2]},
    "transpose-expand-index": lambda t: {
        "a": t.T,
        "b": t[:, None, 1].expand(3, 2),
        "c": t[..., 2],
        "d": [t[1]],
        "e": t[1, 2],
    },
    "tied-and-view": lambda t: {"a": t, "b": t, "c": t.reshape(-1)[5:]},
}


def _views_round_trip(lib, case, tmp_path):
    """Save the case's views of one tensor, load, write 100 into every loaded element of the
    first entry, and return every entry's values: shared storage shows the write elsewhere."""
    t = lib.arange(12.0).reshape(3, 4)
    path = tmp_path / f"{lib.__name__}.pt"
    lib.save(VIEW_CASES[case](t), path)
    back = lib.load(path)
    flat = [back[k] for k in sorted(back) if not isinstance(back[k], list)]
    flat += [x for k in sorted(back) if isinstance(back[k], list) for x in back[k]]
    flat[0].fill_(100.0)
    return [x.tolist() for x in flat]


@needs_safetensors
@pytest.mark.parametrize("case", sorted(VIEW_CASES))
def test_views_saved_together_load_sharing_storage_like_torch(case, tmp_path):
    torch = pytest.importorskip("torch")
    ours = _views_round_trip(minitorch, case, tmp_path)
    theirs = _views_round_trip(torch, case, tmp_path)
    assert ours == theirs


@needs_safetensors
def test_saved_views_stay_readable_by_other_safetensors_readers_and_old_files_load(
    tmp_path, monkeypatch
):
    t = minitorch.arange(6.0)
    path = tmp_path / "views.pt"
    minitorch.save({"a": t[:4], "b": t[2:]}, path)
    plain = safetensors.numpy.load_file(path)  # each tensor's own values, under its name
    assert plain["a"].tolist() == [0, 1, 2, 3] and plain["b"].tolist() == [2, 3, 4, 5]
    # a file written without view records (minitorch before them) loads as copies
    monkeypatch.setattr(serialization._Encoder, "_share_views", lambda self: None)
    minitorch.save({"a": t[:4], "b": t[2:]}, path)
    back = minitorch.load(path)
    back["a"].fill_(9.0)
    assert back["b"].tolist() == [2, 3, 4, 5]


@needs_safetensors
def test_a_view_record_that_disagrees_with_its_values_is_reported(tmp_path):
    t = minitorch.arange(6.0)
    path = tmp_path / "views.pt"
    minitorch.save({"a": t[:4], "b": t[2:]}, path)
    raw = path.read_bytes()
    # same length, so the header's offsets still hold: b now claims to be t[1:]
    edited = raw.replace(b'slice\\":[2,', b'slice\\":[1,', 1)
    assert edited != raw
    path.write_bytes(edited)
    with pytest.raises(RuntimeError, match="corrupted structure"):
        minitorch.load(path)
