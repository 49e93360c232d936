"""The Tensor API with PyTorch semantics: dtypes, creation, conversion, shapes and views,
indexing, operators, repr. No torch needed: expected values are written out."""

import math
import pickle

import numpy as np
import pytest

import minitorch

mt = minitorch


def arr(t):
    return np.asarray(t.detach()._data)


def same(t, expected, dtype=None):
    """t has exactly these values (and dtype, when given)."""
    np.testing.assert_array_equal(arr(t), np.asarray(expected))
    assert tuple(t.shape) == np.asarray(expected).shape
    if dtype is not None:
        assert t.dtype is dtype, f"dtype {t.dtype} != {dtype}"


# ---- dtypes --------------------------------------------------------------------------------
def test_dtype_attributes_and_aliases():
    assert mt.float is mt.float32 and mt.double is mt.float64
    assert mt.long is mt.int64 and mt.int is mt.int32
    assert isinstance(mt.float32, mt.dtype)
    assert mt.float32.is_floating_point and not mt.int64.is_floating_point
    assert not mt.bool.is_floating_point
    assert mt.float32.itemsize == 4 and mt.int64.itemsize == 8 and mt.uint8.itemsize == 1
    assert repr(mt.float32) == "minitorch.float32"
    assert pickle.loads(pickle.dumps(mt.int32)) is mt.int32


@pytest.mark.parametrize(
    "data,dtype",
    [
        ([1.0, 2.0], mt.float32),
        ([1, 2], mt.int64),
        ([True, False], mt.bool),
        ([1, 2.5], mt.float32),
        ([True, 2], mt.int64),
        (3.0, mt.float32),
        (7, mt.int64),
        (np.array([1, 2], np.int32), mt.int32),
        (np.array([1.0], np.float64), mt.float64),
        (np.array([1], np.uint8), mt.uint8),
    ],
)
def test_tensor_infers_dtype(data, dtype):
    assert mt.tensor(data).dtype is dtype


@pytest.mark.parametrize("dtype", [mt.float32, mt.float64, mt.int64, mt.int32, mt.bool, mt.uint8])
def test_every_dtype_round_trips(dtype):
    t = mt.tensor([0, 1, 1], dtype=dtype)
    assert t.dtype is dtype
    assert t.numpy().dtype == dtype.np
    assert t.tolist() == [dtype.np.type(v).item() for v in (0, 1, 1)]
    assert mt.zeros(2, dtype=dtype).dtype is dtype
    assert t.to(mt.float32).dtype is mt.float32


def test_type_promotion_rules():
    i64, i32 = mt.tensor([1, 2]), mt.tensor([1, 2], dtype=mt.int32)
    f32, f64 = mt.tensor([1.0, 2.0]), mt.tensor([1.0, 2.0], dtype=mt.float64)
    b, u8 = mt.tensor([True, False]), mt.tensor([1, 2], dtype=mt.uint8)
    assert (i64 + 2.5).dtype is mt.float32  # a Python float makes an int tensor float
    assert (i64 * 2).dtype is mt.int64
    assert (i32 + 2).dtype is mt.int32  # a Python int keeps the tensor's int dtype
    assert (i32 + i64).dtype is mt.int64
    assert (f32 + f64).dtype is mt.float64
    assert (f32 + mt.tensor(2.0, dtype=mt.float64)).dtype is mt.float32  # 0-d loses to n-d
    assert (i32 + mt.tensor(2)).dtype is mt.int32
    assert (i64 + mt.tensor(2.0, dtype=mt.float64)).dtype is mt.float64  # higher category
    assert (mt.tensor(1) + mt.tensor(2.0, dtype=mt.float64)).dtype is mt.float64
    assert (b + b).dtype is mt.bool
    assert (b + 1).dtype is mt.int64
    assert (b * 1.5).dtype is mt.float32
    assert (u8 + mt.tensor([1], dtype=mt.int8)).dtype is mt.int16
    assert (i64 / i64).dtype is mt.float32  # true division always floats
    assert (i64 // i64).dtype is mt.int64
    assert (i64 < 2.5).dtype is mt.bool
    assert (f32 + i64).dtype is mt.float32
    assert mt.promote_types(mt.int32, mt.float32) is mt.float32
    assert mt.promote_types(mt.uint8, mt.int8) is mt.int16
    assert mt.result_type(i32, 1.0) is mt.float32


def test_python_int_wraps_like_torch_for_small_int_dtypes():
    same(mt.tensor([1, 2], dtype=mt.uint8) + 300, [45, 46], mt.uint8)


def test_set_default_dtype():
    assert mt.get_default_dtype() is mt.float32
    mt.set_default_dtype(mt.float64)
    try:
        assert mt.tensor([1.5]).dtype is mt.float64
        assert mt.zeros(2).dtype is mt.float64
        assert mt.randn(2).dtype is mt.float64
        assert mt.arange(0.0, 1.0, 0.5).dtype is mt.float64
        assert (mt.tensor([1, 2]) / 2).dtype is mt.float64
        assert mt.tensor([1, 2]).dtype is mt.int64
    finally:
        mt.set_default_dtype(mt.float32)
    assert mt.tensor([1.5]).dtype is mt.float32
    with pytest.raises(TypeError):
        mt.set_default_dtype(mt.int64)


# ---- creation ------------------------------------------------------------------------------
def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = mt.tensor(a)
    a[0, 0] = 100
    assert t[0, 0].item() == 0  # a copy
    shared = mt.from_numpy(a)
    shared[1, 1] = -1.0
    assert a[1, 1] == -1.0  # writes go through both ways
    a[0, 1] = 42
    assert shared[0, 1].item() == 42
    assert mt.as_tensor(a)._data is a or np.shares_memory(mt.as_tensor(a)._data, a)
    assert not np.shares_memory(mt.as_tensor(a, dtype=mt.float64)._data, a)
    assert mt.as_tensor(t) is t
    assert mt.as_tensor([1, 2]).dtype is mt.int64
    with pytest.raises(TypeError):
        mt.from_numpy([1, 2])


def test_from_numpy_keeps_strides_and_dtype():
    a = np.arange(12, dtype=np.int32).reshape(3, 4).T
    t = mt.from_numpy(a)
    assert t.dtype is mt.int32 and t.shape == (4, 3)
    assert t.stride() == (1, 4)
    same(t, a)


def test_zeros_ones_full_empty():
    same(mt.zeros(2, 3), np.zeros((2, 3)), mt.float32)
    same(mt.zeros((2, 3)), np.zeros((2, 3)))
    same(mt.zeros([2]), np.zeros(2))
    same(mt.ones(2, dtype=mt.int64), [1, 1], mt.int64)
    same(mt.full((2, 2), 7), np.full((2, 2), 7), mt.int64)
    same(mt.full((2,), 1.5), [1.5, 1.5], mt.float32)
    same(mt.full((2,), True), [True, True], mt.bool)
    same(mt.full((1,), 2, dtype=mt.float64), [2.0], mt.float64)
    assert mt.empty(3, 4).shape == (3, 4) and mt.empty(3, 4).dtype is mt.float32
    assert mt.empty((0, 2)).shape == (0, 2)
    assert mt.zeros(()).shape == () and mt.zeros(()).ndim == 0
    assert mt.zeros(2, requires_grad=True).requires_grad


def test_like_constructors():
    base = mt.ones(2, 3, dtype=mt.int32)
    same(mt.zeros_like(base), np.zeros((2, 3)), mt.int32)
    same(mt.ones_like(base, dtype=mt.float64), np.ones((2, 3)), mt.float64)
    same(mt.full_like(base, 5), np.full((2, 3), 5), mt.int32)
    assert mt.empty_like(base).shape == (2, 3) and mt.empty_like(base).dtype is mt.int32
    assert mt.rand_like(mt.zeros(4)).shape == (4,)
    assert mt.randn_like(mt.zeros(4, dtype=mt.float64)).dtype is mt.float64
    assert base.new_zeros(3).dtype is mt.int32 and base.new_ones((1, 2)).shape == (1, 2)
    same(base.new_full((2,), 9), [9, 9], mt.int32)
    same(base.new_tensor([1.7]), [1], mt.int32)


def test_arange_linspace_eye():
    same(mt.arange(5), [0, 1, 2, 3, 4], mt.int64)
    same(mt.arange(2, 8, 3), [2, 5], mt.int64)
    same(mt.arange(5, 0, -2), [5, 3, 1], mt.int64)
    same(mt.arange(0, 1, 0.25), [0, 0.25, 0.5, 0.75], mt.float32)
    same(mt.arange(3, dtype=mt.float64), [0.0, 1.0, 2.0], mt.float64)
    assert mt.arange(0).shape == (0,)
    assert mt.arange(0.0, 1.0, 0.1).shape == (10,)
    np.testing.assert_allclose(arr(mt.linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1.0])
    assert mt.linspace(0, 1, 5).dtype is mt.float32
    same(mt.linspace(2, 2, 1), [2.0])
    same(mt.eye(3), np.eye(3), mt.float32)
    same(mt.eye(2, 3, dtype=mt.int64), np.eye(2, 3), mt.int64)


def test_legacy_constructors():
    same(mt.FloatTensor([1, 2]), [1.0, 2.0], mt.float32)
    same(mt.LongTensor([1, 2]), [1, 2], mt.int64)
    same(mt.DoubleTensor([1]), [1.0], mt.float64)
    same(mt.BoolTensor([1, 0]), [True, False], mt.bool)
    assert mt.FloatTensor(2, 3).shape == (2, 3)
    assert mt.LongTensor(4).shape == (4,) and mt.LongTensor(4).dtype is mt.int64
    assert mt.Tensor(2, 3).shape == (2, 3) and mt.Tensor([1, 2]).dtype is mt.float32
    assert isinstance(mt.tensor(1), mt.Tensor)
    assert mt.is_tensor(mt.zeros(1)) and not mt.is_tensor(np.zeros(1))


def test_tensor_from_nested_tensors_and_numpy_scalars():
    same(mt.tensor([mt.tensor(1.5), mt.tensor(2.5)]), [1.5, 2.5], mt.float32)
    same(mt.tensor([[1, 2], [3, 4]]), [[1, 2], [3, 4]], mt.int64)
    same(mt.tensor(np.float64(2.0)), 2.0)
    assert mt.tensor([]).shape == (0,) and mt.tensor([]).dtype is mt.float32
    with pytest.raises(ValueError):
        mt.tensor([[1, 2], [3]])


# ---- conversion ----------------------------------------------------------------------------
def test_numpy_shares_memory_both_ways():
    t = mt.zeros(2, 3)
    a = t.numpy()
    a[0, 0] = 5
    assert t[0, 0].item() == 5
    t[1, 2] = 7
    assert a[1, 2] == 7
    assert t.detach().numpy() is not None
    with pytest.raises(RuntimeError, match="detach"):
        mt.zeros(2, requires_grad=True).numpy()
    np.testing.assert_array_equal(np.asarray(t), a)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert np.add(t, 1).shape == (2, 3)


def test_tolist_item_and_python_numbers():
    assert mt.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert mt.tensor(2.5).tolist() == 2.5
    assert mt.tensor([True]).tolist() == [True]
    item = mt.tensor([3.5]).item()
    assert item == 3.5 and type(item) is float
    assert type(mt.tensor(3).item()) is int
    assert type(mt.tensor(True).item()) is bool
    assert float(mt.tensor(2)) == 2.0 and int(mt.tensor(2.9)) == 2
    assert bool(mt.tensor([1.0])) and not bool(mt.tensor(0))
    assert [1, 2, 3][mt.tensor(1)] == 2  # __index__
    assert f"{mt.tensor(3.14159):.2f}" == "3.14"
    assert math.isclose(mt.tensor([2.0]).sum().item(), 2.0)
    with pytest.raises(RuntimeError, match="elements"):
        mt.tensor([1, 2]).item()
    with pytest.raises(TypeError):
        [1, 2][mt.tensor(1.0)]


def test_dtype_conversions():
    x = mt.tensor([1.7, -1.7, 0.0])
    same(x.long(), [1, -1, 0], mt.int64)  # truncation toward zero
    same(x.int(), [1, -1, 0], mt.int32)
    same(x.bool(), [True, True, False], mt.bool)
    same(x.double(), np.array([1.7, -1.7, 0.0], np.float32).astype(np.float64), mt.float64)
    same(x.long().float(), [1.0, -1.0, 0.0], mt.float32)
    same(x.to(mt.uint8), [1, 255, 0], mt.uint8)
    same(x.byte(), [1, 255, 0], mt.uint8)
    assert x.to(mt.float32) is x  # no conversion needed: the same tensor
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(mt.tensor([1])).dtype is mt.int64
    assert x.to("cpu", mt.float64).dtype is mt.float64
    assert x.to(dtype=mt.float64).dtype is mt.float64
    assert x.to(mt.float32, copy=True) is not x
    assert x.type() == "torch.FloatTensor" and x.long().type() == "torch.LongTensor"
    assert x.type("torch.DoubleTensor").dtype is mt.float64
    assert x.type(mt.float64).dtype is mt.float64
    assert x.device == mt.device("cpu") and str(x.device) == "cpu"
    assert x.is_floating_point() and not x.long().is_floating_point()


def test_clone_detach_contiguous():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c._data, x._data) and c.requires_grad and not c.is_leaf
    d = x.detach()
    assert np.shares_memory(d._data, x._data) and not d.requires_grad
    d[0] = 10.0  # detach shares storage (and its version counter)
    assert x[0].item() == 10.0
    t = mt.arange(6).reshape(2, 3).t()
    assert not t.is_contiguous()
    c = t.contiguous()
    assert c.is_contiguous() and c.stride() == (2, 1)
    same(c, [[0, 3], [1, 4], [2, 5]])
    contiguous = mt.zeros(3)
    assert contiguous.contiguous() is contiguous


# ---- shapes and views ----------------------------------------------------------------------
def test_shape_queries():
    x = mt.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, mt.Size)
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.shape.numel() == 24
    assert repr(x.shape) == "minitorch.Size([2, 3, 4])"
    assert mt.numel(x) == 24 and x.element_size() == 4
    assert x.stride() == (12, 4, 1) and x.stride(0) == 12
    with pytest.raises(IndexError):
        x.size(3)


def test_view_shares_storage_and_version():
    base = mt.arange(12.0)
    v = base.view(3, 4)
    assert v._base is base and np.shares_memory(v._data, base._data)
    v[1, 1] = 100.0
    assert base[5].item() == 100.0  # a write through a view shows in the base
    assert v._version == base._version == 1
    base.add_(1)
    assert v[1, 1].item() == 101.0 and v._version == 2
    same(base.view(-1, 6), arr(base).reshape(2, 6))
    same(base.view((2, 6)), arr(base).reshape(2, 6))
    assert base.view(mt.int32).dtype is mt.int32  # reinterpreting the bytes
    with pytest.raises(RuntimeError, match="view"):
        v.t().view(12)  # non-contiguous: PyTorch refuses and says use reshape
    with pytest.raises(RuntimeError):
        base.view(5, 2)


def test_reshape_copies_only_when_needed():
    x = mt.arange(6).reshape(2, 3)
    r = x.reshape(3, 2)
    assert np.shares_memory(r._data, x._data)
    t = x.t().reshape(6)
    assert not np.shares_memory(t._data, x._data)
    same(t, [0, 3, 1, 4, 2, 5])
    same(x.reshape(-1), [0, 1, 2, 3, 4, 5])
    assert x.reshape(3, -1).shape == (3, 2)
    same(x.view_as(mt.zeros(3, 2)), [[0, 1], [2, 3], [4, 5]])
    same(x.reshape_as(mt.zeros(6)), [0, 1, 2, 3, 4, 5])


def test_flatten_unflatten():
    x = mt.zeros(2, 3, 4)
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.flatten(-2, -1).shape == (2, 12)
    assert mt.tensor(3).flatten().shape == (1,)
    assert x.unflatten(2, (2, 2)).shape == (2, 3, 2, 2)
    assert x.unflatten(-1, (-1, 2)).shape == (2, 3, 2, 2)
    assert mt.flatten(x, 1).shape == (2, 12)


def test_permute_transpose_t_T_mT():
    x = mt.arange(24).reshape(2, 3, 4)
    p = x.permute(2, 0, 1)
    assert p.shape == (4, 2, 3) and np.shares_memory(p._data, x._data)
    same(p, np.transpose(arr(x), (2, 0, 1)))
    assert x.permute((1, 0, 2)).shape == (3, 2, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2)
    assert x.transpose(-1, -2).shape == (2, 4, 3)
    assert x.mT.shape == (2, 4, 3)
    assert x.T.shape == (4, 3, 2)
    m = mt.arange(6).reshape(2, 3)
    same(m.t(), arr(m).T)
    same(m.T, arr(m).T)
    same(mt.arange(3).t(), [0, 1, 2])
    same(mt.transpose(m, 0, 1), arr(m).T)
    with pytest.raises(RuntimeError):
        x.t()


def test_squeeze_unsqueeze():
    x = mt.zeros(1, 3, 1, 2)
    assert x.squeeze().shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # not size 1: unchanged
    assert x.squeeze(-2).shape == (1, 3, 2)
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.unsqueeze(0).shape == (1, 1, 3, 1, 2)
    assert x.unsqueeze(-1).shape == (1, 3, 1, 2, 1)
    assert mt.tensor(1.0).unsqueeze(0).shape == (1,)
    assert np.shares_memory(x.unsqueeze(1)._data, x._data)
    with pytest.raises(IndexError):
        x.unsqueeze(6)


def test_expand_repeat_tile():
    x = mt.tensor([[1], [2]])
    e = x.expand(2, 3)
    same(e, [[1, 1, 1], [2, 2, 2]])
    assert e.stride() == (1, 0) and np.shares_memory(e._data, x._data)
    assert x.expand(4, -1, 3).shape == (4, 2, 3)
    assert x.expand_as(mt.zeros(2, 5)).shape == (2, 5)
    same(x.repeat(2, 2), [[1, 1], [2, 2], [1, 1], [2, 2]])
    same(mt.tensor([1, 2]).repeat(2), [1, 2, 1, 2])
    assert mt.tensor([1, 2]).repeat(3, 2).shape == (3, 4)
    same(mt.tensor([1, 2]).tile(2), [1, 2, 1, 2])
    with pytest.raises(RuntimeError):
        x.expand(3, 3)
    with pytest.raises(RuntimeError, match="clone"):
        e.add_(1)  # writing to an expanded tensor would write one element many times


def test_split_chunk_unbind_narrow():
    x = mt.arange(10)
    assert [t.tolist() for t in x.split(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [t.tolist() for t in x.split([3, 7])] == [[0, 1, 2], list(range(3, 10))]
    assert [len(t) for t in x.chunk(3)] == [4, 4, 2]
    assert [len(t) for t in mt.arange(6).chunk(4)] == [2, 2, 2]
    m = mt.arange(6).reshape(2, 3)
    assert [t.tolist() for t in m.unbind(1)] == [[0, 3], [1, 4], [2, 5]]
    same(m.narrow(1, 1, 2), [[1, 2], [4, 5]])
    parts = m.split(1, dim=1)
    assert all(np.shares_memory(p._data, m._data) for p in parts)  # views
    same(mt.narrow(m, 0, 1, 1), [[3, 4, 5]])


def test_cat_stack():
    a, b = mt.tensor([[1, 2]]), mt.tensor([[3, 4], [5, 6]])
    same(mt.cat([a, b]), [[1, 2], [3, 4], [5, 6]])
    same(mt.cat((a, a), dim=1), [[1, 2, 1, 2]])
    same(mt.cat([a, a], -1), [[1, 2, 1, 2]])
    same(mt.concat([a, b]), [[1, 2], [3, 4], [5, 6]])
    same(mt.cat([mt.tensor([1.5]), mt.tensor([2])]), [1.5, 2.0], mt.float32)  # promotes
    same(mt.stack([a[0], b[0]]), [[1, 2], [3, 4]])
    same(mt.stack([a[0], b[0]], dim=1), [[1, 3], [2, 4]])
    assert mt.stack([mt.zeros(2, 3)] * 4, dim=-1).shape == (2, 3, 4)
    with pytest.raises(RuntimeError):
        mt.cat([a, mt.zeros(1, 3, dtype=mt.int64)])
    with pytest.raises(RuntimeError):
        mt.stack([a, b])
    with pytest.raises(RuntimeError):
        mt.cat([])


def test_flip_roll():
    x = mt.arange(6).reshape(2, 3)
    same(x.flip(0), [[3, 4, 5], [0, 1, 2]])
    same(x.flip(1), [[2, 1, 0], [5, 4, 3]])
    same(x.flip((0, 1)), [[5, 4, 3], [2, 1, 0]])
    same(x.flip(-1), [[2, 1, 0], [5, 4, 3]])
    same(mt.flip(x, [0]), [[3, 4, 5], [0, 1, 2]])
    same(x.roll(1, 1), [[2, 0, 1], [5, 3, 4]])
    same(x.roll(1), [[5, 0, 1], [2, 3, 4]])


# ---- indexing ------------------------------------------------------------------------------
X = np.arange(24).reshape(2, 3, 4)


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        (1, 2),
        (1, 2, 3),
        (-1, -2, -3),
        slice(1, None),
        (slice(None), slice(None, None, 2)),
        (slice(None), slice(1, None, 2), slice(None, None, 3)),
        (Ellipsis, -3),
        (..., slice(-3, -1)),
        None,
        (slice(None), None, 1),
        (0, ..., None),
        (Ellipsis,),
        (slice(0, 10),),
    ],
    ids=str,
)
def test_basic_indexing_is_a_view(index):
    x = mt.tensor(X)
    y = x[index]
    same(y, X[index])
    assert np.shares_memory(y._data, x._data)
    assert y._version_counter is x._version_counter


def test_int_index_gives_0d_view():
    x = mt.tensor(X)
    y = x[1, 2, 3]
    assert y.shape == () and y.item() == 23
    assert np.shares_memory(y._data, x._data)
    y.fill_(-1)
    assert x[1, 2, 3].item() == -1


@pytest.mark.parametrize(
    "make_index",
    [
        lambda: mt.tensor([1, 0, 1]),
        lambda: mt.tensor([[0, 1], [1, 1]]),
        lambda: mt.tensor([-1, 0], dtype=mt.int32),
        lambda: [0, 1, 1],
        lambda: (slice(None), mt.tensor([2, 0])),
        lambda: (mt.tensor([0, 1]), mt.tensor([2, 0])),
        lambda: (mt.tensor([0, 1]), slice(None), mt.tensor([3, 0])),
        lambda: (1, mt.tensor([True, False, True])),
        lambda: mt.tensor(X % 3 == 0),
        lambda: mt.tensor([True, False]),
        lambda: (Ellipsis, mt.tensor([1, 1])),
    ],
)
def test_advanced_indexing_matches_numpy(make_index):
    index = make_index()
    np_index = _to_numpy_index(index)
    x = mt.tensor(X)
    same(x[index], X[np_index])


def _to_numpy_index(index):
    if isinstance(index, tuple):
        return tuple(_to_numpy_index(i) for i in index)
    if isinstance(index, mt.Tensor):
        return arr(index)
    return index


def test_indexing_errors():
    x = mt.zeros(3, 4)
    with pytest.raises(IndexError):
        x[3]
    with pytest.raises(IndexError):
        x[0, -5]
    with pytest.raises(IndexError):
        x[0, 0, 0]
    with pytest.raises(IndexError):
        x[mt.tensor([0, 3])]
    with pytest.raises(IndexError):
        x[mt.tensor([0.0])]
    with pytest.raises(IndexError):
        x[mt.tensor([True, False])]  # mask shape does not match


def test_iteration():
    rows = list(mt.arange(6).reshape(3, 2))
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError):
        iter(mt.tensor(1.0)).__next__()


@pytest.mark.parametrize(
    "index,value",
    [
        (1, 0),
        (-1, 5),
        ((0, slice(None, None, 2)), -1),
        ((Ellipsis, 0), 9),
        ((None, 1), 7),
        (slice(1, None), np.array([[1, 2, 3, 4], [5, 6, 7, 8]])),
        ("mask", 0),
        ("index", np.array([[9, 9, 9, 9], [8, 8, 8, 8]])),
        ((slice(None), [0, 3]), 4),
        ("pair", np.array([100, 200])),
        (slice(None), np.array([1, 2, 3, 4])),  # broadcast a row
    ],
    ids=str,
)
def test_setitem(index, value):
    ref = np.arange(12).reshape(3, 4)
    x = mt.tensor(ref.copy())
    key, np_key = index, index
    if index == "mask":
        key, np_key = x > 5, ref > 5
    elif index == "index":
        key, np_key = mt.tensor([2, 0]), np.array([2, 0])
    elif index == "pair":
        key, np_key = (mt.tensor([0, 2]), mt.tensor([1, 3])), (np.array([0, 2]), np.array([1, 3]))
    v = mt.tensor(value) if isinstance(value, np.ndarray) else value
    before = x._version
    x[key] = v
    ref[np_key] = value
    same(x, ref)
    assert x._version == before + 1


def test_setitem_through_views_and_casting():
    x = mt.zeros(2, 3)
    x[0][1] = 5  # a write into a view lands in the base
    x[:, 2][1] = 7
    same(x, [[0, 5, 0], [0, 0, 7]])
    x[1] = mt.tensor([1, 2, 3])  # int values into a float tensor are cast
    same(x[1], [1.0, 2.0, 3.0], mt.float32)
    i = mt.zeros(3, dtype=mt.int64)
    i[0] = 2.7  # truncated like PyTorch
    same(i, [2, 0, 0])


def test_gather_scatter_index_select():
    x = mt.tensor([[1, 2, 3], [4, 5, 6]])
    idx = mt.tensor([[2, 0], [1, 1]])
    same(x.gather(1, idx), [[3, 1], [5, 5]])
    same(mt.gather(x, 0, mt.tensor([[1, 0, 1]])), [[4, 2, 6]])
    z = mt.zeros(2, 3, dtype=mt.int64)
    same(z.scatter(1, idx, x[:, :2]), [[2, 0, 1], [0, 5, 0]])
    same(z.scatter(1, idx, 7), [[7, 0, 7], [0, 7, 0]])
    same(z.scatter_add(1, idx, mt.ones(2, 2, dtype=mt.int64)), [[1, 0, 1], [0, 2, 0]])
    z2 = z.clone()
    z2.scatter_(1, idx, x)
    same(z2, [[2, 0, 1], [0, 5, 0]])
    z2.scatter_add_(0, mt.tensor([[0, 0, 0]]), mt.tensor([[10, 10, 10]]))
    same(z2, [[12, 10, 11], [0, 5, 0]])
    same(x.index_select(1, mt.tensor([2, 2, 0])), [[3, 3, 1], [6, 6, 4]])
    same(x.index_select(0, mt.tensor([1])), [[4, 5, 6]])
    same(mt.index_select(x, -1, mt.tensor([0])), [[1], [4]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_gather_scatter_kernel_path_gives_numpys_bits(dtype, monkeypatch):
    """The loop kernels (index with the input's sizes off dim) against the numpy path."""
    from minitorch.kernels.cpu import index as K

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4, 6, 5)) * 100).astype(dtype)
    x_t = mt.from_numpy(x).transpose(0, 2)  # a strided input: (5, 6, 4)
    for dim, size in [(0, 9), (1, 3), (2, 1)]:
        shape = list(x_t.shape)
        shape[dim] = size
        idx = mt.from_numpy(rng.integers(0, x_t.shape[dim], shape))
        src = mt.from_numpy((rng.standard_normal(shape) * 100).astype(dtype))

        def three():
            gathered = x_t.gather(dim, idx)
            return [gathered, x_t.scatter_add(dim, idx, src), x_t.scatter(dim, idx, src)]

        fast = three()
        with monkeypatch.context() as m:
            m.setattr(K, "fits", lambda *a: False)  # the numpy path
            slow = three()
        for a, b in zip(fast, slow):
            assert a.dtype == b.dtype and np.array_equal(a.numpy(), b.numpy()), dim
    for bad in (6, -1):  # (negative indices too, as PyTorch: gather does not wrap them)
        with monkeypatch.context() as m:
            for fits in (K.fits, lambda *a: False):  # the kernel and the numpy path
                m.setattr(K, "fits", fits)
                with pytest.raises(RuntimeError, match=f"index {bad} is out of bounds for dim"):
                    x_t.gather(1, mt.zeros(5, 2, 4, dtype=mt.int64) + bad)
    assert tuple(x_t.gather(1, mt.zeros(5, 0, 4, dtype=mt.int64)).shape) == (5, 0, 4)


def test_masked_fill_where_nonzero():
    x = mt.tensor([[1.0, -2.0], [3.0, -4.0]])
    same(x.masked_fill(x < 0, 0.0), [[1, 0], [3, 0]])
    same(x.masked_fill(mt.tensor([True, False]), 9), [[9, -2], [9, -4]])  # broadcast mask
    y = x.clone()
    y.masked_fill_(y > 2, -1)
    same(y, [[1, -2], [-1, -4]])
    same(mt.where(x > 0, x, mt.zeros(1)), [[1, 0], [3, 0]])
    same(mt.where(x > 0, 1.0, -1.0), [[1, -1], [1, -1]])
    same(x.where(x > 0, 5), [[1, 5], [3, 5]])
    same((x > 0).nonzero(), [[0, 0], [1, 0]], mt.int64)
    rows, cols = (x > 0).nonzero(as_tuple=True)
    same(rows, [0, 1])
    same(cols, [0, 0])
    r, c = mt.where(x < 0)
    same(r, [0, 1])
    same(c, [1, 1])
    same(mt.tensor([0, 3, 0, 1]).nonzero(), [[1], [3]])
    same(x.masked_select(x > 0), [1.0, 3.0])
    with pytest.raises(RuntimeError):
        x.masked_fill(x, 0.0)  # float mask


# ---- operators -----------------------------------------------------------------------------
def test_arithmetic_operators_and_reflected():
    a = mt.tensor([1.0, 2.0, 4.0])
    same(a + 1, [2, 3, 5])
    same(1 + a, [2, 3, 5])
    same(a - 1, [0, 1, 3])
    same(10 - a, [9, 8, 6])
    same(a * 2, [2, 4, 8])
    same(2 * a, [2, 4, 8])
    same(a / 2, [0.5, 1, 2])
    same(4 / a, [4, 2, 1])
    same(a**2, [1, 4, 16])
    same(2**a, [2, 4, 16])
    same(a**a, [1, 4, 256])
    flags = mt.tensor([True, False])
    same(flags**2, [1, 0], mt.int64)  # bool ** int is int64 in PyTorch (bool * bool is bool)
    same(flags**1, [1, 0], mt.int64)
    same(-a, [-1, -2, -4])
    same(+a, [1, 2, 4])
    same(abs(-a), [1, 2, 4])
    same(a // 3, [0, 0, 1])
    same(7 // a, [7, 3, 1])
    same(a % 3, [1, 2, 1])
    same(mt.tensor([-7, 7]) % 3, [2, 1])  # Python's sign rule, like PyTorch
    same(mt.tensor([-7, 7]) // 2, [-4, 3])
    same(mt.tensor([-7.5]) % 2, [0.5])
    same(np.float32(2) * a, [2, 4, 8])
    same(np.float64(1) + a, [2, 3, 5])
    m = mt.tensor([[1.0, 2.0], [3.0, 4.0]])
    same(m @ m, [[7, 10], [15, 22]])
    same(m @ mt.tensor([1.0, 1.0]), [3, 7])
    same(mt.matmul(m, m), [[7, 10], [15, 22]])


def test_comparison_and_bitwise_operators():
    a, b = mt.tensor([1, 2, 3]), mt.tensor([3, 2, 1])
    same(a < b, [True, False, False], mt.bool)
    same(a <= b, [True, True, False])
    same(a > b, [False, False, True])
    same(a >= 2, [False, True, True])
    same(a == b, [False, True, False])
    same(a != 2, [True, False, True])
    same(2 < a, [False, False, True])  # reflected comparison
    t, f = mt.tensor([True, True, False]), mt.tensor([True, False, False])
    same(t & f, [True, False, False], mt.bool)
    same(t | f, [True, True, False], mt.bool)
    same(t ^ f, [False, True, False], mt.bool)
    same(~t, [False, False, True], mt.bool)
    same(a & 1, [1, 0, 1], mt.int64)
    same(a | 4, [5, 6, 7])
    same(~a, [-2, -3, -4])
    same(True & t, [True, True, False])


def test_inplace_operators():
    a = mt.tensor([1.0, 2.0])
    ident, version = id(a), a._version
    a += 1
    a -= 0.5
    a *= 4
    a /= 2
    a **= 2
    assert id(a) == ident and a._version == version + 5
    same(a, [9.0, 25.0])
    m = alias = mt.eye(2)
    m @= mt.tensor([[1.0, 2.0], [3.0, 4.0]])  # as in PyTorch: a new tensor, m rebound
    same(m, [[1, 2], [3, 4]])
    assert m is not alias and alias.tolist() == [[1, 0], [0, 1]]
    r = alias = mt.tensor([7, -7, 9])
    r //= 2  # in place, as PyTorch's __ifloordiv__ and __imod__: aliases see it
    r %= 3
    assert r is alias
    same(alias, [0, 2, 1], mt.int64)
    b = mt.tensor([True, False])
    b &= mt.tensor([True, True])
    b |= mt.tensor([False, True])
    same(b, [True, True])
    i = mt.tensor([1, 2])
    i += 1
    same(i, [2, 3], mt.int64)
    with pytest.raises(RuntimeError):
        i += 0.5  # a float result cannot be stored in an int tensor
    with pytest.raises(RuntimeError):
        i /= 2
    f = mt.zeros(2)
    f += mt.tensor([1, 2])  # int into float: fine
    same(f, [1.0, 2.0], mt.float32)
    with pytest.raises(RuntimeError):
        f += mt.zeros(3, 2)  # the result would have another shape


def test_inplace_methods_return_self():
    a = mt.tensor([1.0, -2.0])
    assert a.add_(1) is a and a.mul_(2) is a and a.neg_() is a and a.abs_() is a
    same(a, [4.0, 2.0])
    assert a.clamp_(max=3) is a
    same(a, [3.0, 2.0])
    assert a.zero_() is a
    same(a, [0.0, 0.0])
    assert a.fill_(2) is a
    same(a, [2.0, 2.0])
    a.copy_(mt.tensor([5, 6]))
    same(a, [5.0, 6.0], mt.float32)
    a.copy_(mt.tensor(1.0))  # broadcast
    same(a, [1.0, 1.0])


def test_max_min_named_pairs():
    x = mt.tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 7.0]])
    out = x.max(dim=1)
    same(out.values, [5.0, 7.0])
    same(out.indices, [1, 0], mt.int64)  # the first of ties
    values, indices = x.min(0)
    same(values, [1.0, 2.0, 3.0])
    same(indices, [0, 1, 0])
    assert type(out).__name__ == "max_return" and out._fields == ("values", "indices")
    k = x.max(dim=1, keepdim=True)
    assert k.values.shape == (2, 1) and k.indices.shape == (2, 1)
    assert x.max().item() == 7.0 and x.min().item() == 1.0
    same(x.max(mt.tensor(4.0)), [[4, 5, 4], [7, 4, 7]])
    s = x.sort(dim=1, descending=True)
    same(s.values, [[5, 3, 1], [7, 7, 2]])
    same(s.indices, [[1, 2, 0], [0, 2, 1]])
    top = x.topk(1)
    same(top.values, [[5.0], [7.0]])
    same(mt.max(x, 1).indices, [1, 0])
    same(x.argmax(), np.int64(3))
    same(x.argmax(dim=0), [1, 0, 1])


def test_reductions():
    x = mt.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert x.sum().item() == 10 and x.sum().shape == ()
    same(x.sum(0), [4, 6])
    same(x.sum(-1, keepdim=True), [[3], [7]])
    same(x.sum((0, 1)), 10.0)
    same(x.mean(1), [1.5, 3.5])
    same(x.prod(), 24.0)
    same(x.amax(0), [3, 4])
    np.testing.assert_allclose(arr(x.var()), np.var(arr(x), ddof=1))
    np.testing.assert_allclose(arr(x.std(0, correction=0)), [1.0, 1.0])
    same(x.cumsum(1), [[1, 3], [3, 7]])
    same(mt.tensor([1, 2, 3]).sum(), 6, mt.int64)
    same(mt.tensor([True, True]).sum(), 2, mt.int64)
    same(mt.tensor([1, 2], dtype=mt.int32).sum(), 3, mt.int64)
    same(x.sum(dtype=mt.float64), 10.0, mt.float64)
    assert mt.tensor([True, False]).any().item() is True
    assert mt.tensor([True, False]).all().item() is False
    same(mt.zeros(0, 3).sum(0), [0, 0, 0])
    assert math.isnan(mt.zeros(0).mean().item())
    np.testing.assert_allclose(arr(x.softmax(1).sum(1)), [1, 1], rtol=1e-6)
    np.testing.assert_allclose(arr(x.logsumexp(1)), np.log(np.exp(arr(x)).sum(1)), rtol=1e-6)


# ---- repr ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda: mt.tensor([1.0, 2.5]), "tensor([1.0000, 2.5000])"),
        (lambda: mt.tensor([1.0, 2.0, 100.0]), "tensor([  1.,   2., 100.])"),
        (lambda: mt.tensor([[1, -20], [3, 4]]), "tensor([[  1, -20],\n        [  3,   4]])"),
        (
            lambda: mt.tensor([[0.5, -1.25], [3.0, 4.0]]),
            "tensor([[ 0.5000, -1.2500],\n        [ 3.0000,  4.0000]])",
        ),
        (lambda: mt.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
        (lambda: mt.tensor(3.5), "tensor(3.5000)"),
        (lambda: mt.tensor(2), "tensor(2)"),
        (lambda: mt.tensor([True, False]), "tensor([ True, False])"),
        (lambda: mt.tensor([1, 2], dtype=mt.int32), "tensor([1, 2], dtype=minitorch.int32)"),
        (lambda: mt.tensor([1.5], dtype=mt.float64), "tensor([1.5000], dtype=minitorch.float64)"),
        (lambda: mt.zeros(0), "tensor([])"),
        (lambda: mt.zeros(0, 3), "tensor([], size=(0, 3))"),
        (lambda: mt.tensor([1.0], requires_grad=True), "tensor([1.], requires_grad=True)"),
        (lambda: mt.tensor([1.0], requires_grad=True) * 2, "tensor([2.], grad_fn=<MulBackward0>)"),
        (lambda: mt.tensor([float("nan"), float("inf"), 1.0]), "tensor([nan, inf, 1.])"),
        (lambda: mt.tensor([float("nan"), 1.5, -2.0]), "tensor([    nan,  1.5000, -2.0000])"),
    ],
)
def test_repr_looks_like_pytorch(make, expected):
    assert repr(make()) == expected
    assert str(make()) == expected


def test_repr_summarises_large_tensors():
    text = repr(mt.arange(2000.0))
    assert "..." in text and text.startswith("tensor([") and text.count("\n") <= 3
