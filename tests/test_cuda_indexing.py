"""Advanced indexing on the CUDA backend against the CPU backend: getitem with several integer
index tensors or bool masks, index_put (x[index] = v, accumulate) through them, scatter and
gather with an index smaller than their input, and their gradients; and that integer index
arrays are never read on the host. Without a GPU these run on numba's CUDA simulator
(tests/conftest.py): tiny shapes.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba_cuda", reason="the CUDA backend needs numba-cuda: pip install '.[cuda]'")

from cuda_compare import both as _both  # noqa: E402
from cuda_compare import close as _close  # noqa: E402

import minitorch as mt  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
ROWS = np.array([0, 2, -1, 2])  # a repeat and a negative index
COLS = np.array([[1], [3]])  # broadcasts against ROWS to (2, 4)
ROW_MASK = np.array([True, False, True])  # 2 of dim 0
COL_MASK = np.array([False, True, True, False, True])  # 3 of dim 2


GETS = {
    "x[i, j] broadcast": (lambda x, i, j: x[i, j], [ROWS, COLS]),
    "x[:, i, j]": (lambda x, i, j: x[:, i, j], [np.array([1, -1]), np.array([0, 4])]),
    "x[..., i]": (lambda x, i: x[..., i], [ROWS]),
    "x[mask] 3-D": (lambda x, m: x[m], [X > 0.3]),
    "x[:, mask] 2-D": (lambda x, m: x[:, m], [X[0] > 0]),
    "x[..., mask] 2-D": (lambda x, m: x[..., m], [X[0] > 0]),
    "x[mask] none set": (lambda x, m: x[m], [X > 9]),
    # ints first, then the index tensors (PyTorch's order; numpy would move the dims)
    "x[0, :, i]": (lambda x, i: x[0, :, i], [ROWS]),
    "x[1:, i] slice first": (lambda x, i: x[1:, i], [ROWS]),
    "x[None, i, 1::2]": (lambda x, i: x[None, i, 1::2], [ROWS]),
    # index tensors on dims apart: the broadcast index dims come first
    "x[i, :, j] apart": (lambda x, i, j: x[i, :, j], [ROWS, COLS]),
    "x[i, 1:3, j] apart": (lambda x, i, j: x[i, 1:3, j], [ROWS, np.array([4, 0, 1, 1])]),
    # a bool mask beside index tensors: its nonzero() index tensors broadcast with them
    "x[mask, i]": (lambda x, m, i: x[m, i], [ROW_MASK, np.array([3, -1])]),
    "x[mask, i] count 1 broadcasts": (lambda x, m, i: x[m, i], [X[:, 0, 0] > 0.5, ROWS]),
    "x[i, :, mask] apart": (lambda x, i, m: x[i, :, m], [np.array([[2], [0]]), COL_MASK]),
    "x[mask 2-D, i]": (lambda x, m, i: x[m, i], [X[:, :, 0] > 0, np.array([4])]),
    "x[1, mask, i] int first": (lambda x, m, i: x[1, m, i], [X[0, :, 0] > -5, np.array([0])]),
    "x[mask, :, mask]": (lambda x, m, n: x[m, :, n], [ROW_MASK, np.array([0, 1, 0, 0, 1], bool)]),
    "x[mask none set, i]": (lambda x, m, i: x[m, i], [X[:, 0, 0] > 9, np.array([0])]),
}


@pytest.mark.parametrize("name", list(GETS))
def test_getitem_with_index_tensors_matches_cpu(name):
    """Values, and the gradient (index_put with accumulate: repeated indices add up)."""
    fn, indices = GETS[name]
    cpu = mt.tensor(X, requires_grad=True)
    gpu = mt.tensor(X, device="cuda", requires_grad=True)
    want = fn(cpu, *[mt.tensor(i) for i in indices])
    got = fn(gpu, *[mt.tensor(i, device="cuda") for i in indices])
    _close(got, want, "values")
    seed = RNG.uniform(-1, 1, tuple(want.shape)).astype(np.float32)
    want.backward(mt.tensor(seed))
    got.backward(mt.tensor(seed, device="cuda"))
    _close(gpu.grad, cpu.grad, "gradient")


def _set_rows(x, i, j):
    x[i, j] = 7.0


def _zero_masked(x, m):
    x[m] = 0.0


def _number_masked(x, m):
    x[m] = mt.arange(int(m.sum().item()), dtype=mt.float32, device=x.device)


def _accumulate(x, i, j):
    x.index_put_((i, j), mt.ones(4, 5, device=x.device), accumulate=True)


def _set_strided(x, i):
    x[:, 1:3, i] = mt.arange(4, dtype=mt.float32, device=x.device)  # through a strided view


def _add_beside_int(x, i):
    x.index_put_((mt.tensor(1, device=x.device), i), mt.ones(5, device=x.device), True)


def _set_apart(x, i, j):
    x[i, :, j] = mt.arange(4, dtype=mt.float32, device=x.device)[:, None]  # (4, 4) result


def _set_mask_and_rows(x, m, i):
    x[m, i] = mt.arange(5, dtype=mt.float32, device=x.device)  # (2, 5) result, values broadcast


def _add_apart_mask(x, i, m):
    x.index_put_((i, slice(None), m), mt.ones(3, 4, device=x.device), accumulate=True)


PUTS = {
    "x[mask, i] = values": (_set_mask_and_rows, [ROW_MASK, np.array([1, -1])]),
    "x[i, :, mask] += accumulate": (_add_apart_mask, [np.array([2, 2, 0]), COL_MASK]),
    "x[i, :, j] = values apart": (_set_apart, [np.array([0, 2, 1, 2]), np.array([1, 3, 0, 4])]),
    "x[:, 1:3, i] = values": (_set_strided, [ROWS]),
    "x[1, i] += accumulate": (_add_beside_int, [ROWS]),
    "x[i, j] = number": (_set_rows, [ROWS, np.array([1, 3, 0, 3])]),
    "x[mask] = number": (_zero_masked, [X > 0.3]),
    "x[mask] = values": (_number_masked, [X > 0.3]),
    "index_put_ accumulate": (_accumulate, [ROWS, np.array([1, 3, 0, 3])]),
}


@pytest.mark.parametrize("name", list(PUTS))
def test_index_put_with_index_tensors_matches_cpu(name):
    fn, indices = PUTS[name]
    results = []
    for device in ("cpu", "cuda"):
        x = mt.tensor(X, device=device)
        fn(x, *[mt.tensor(i, device=device) for i in indices])
        results.append(x)
    _close(results[1], results[0], name)


# index smaller than the input off dim (and than src anywhere), as PyTorch allows; repeats
# add up in scatter_add and gather's backward; values in [0, size) (PyTorch rejects negative
# ones here, unlike x[i])
SMALL = np.array([[0, 3, 1], [3, 3, 0]])  # (2, 3) into (3, 4) along dim 1
SCATTERS = {
    "scatter_add index (2, 3) of (3, 4), src (3, 5)": (
        lambda x, s, i: x.scatter_add(1, i, s),
        [(3, 4), (3, 5)],
        SMALL,
    ),
    "scatter index (2, 3) of (3, 4), src (2, 3)": (
        lambda x, s, i: x.scatter(1, i, s),
        [(3, 4), (2, 3)],
        np.array([[0, 3, 1], [2, 1, 0]]),  # no repeats: the winner is defined
    ),
    "scatter a number, index (2, 2) along dim 0": (
        lambda x, i: x.scatter(0, i, 2.5),
        [(3, 4)],
        np.array([[2, 0], [1, 2]]),
    ),
    "scatter_add index (2, 1, 2) of (3, 2, 4) along dim 2": (
        lambda x, s, i: x.scatter_add(2, i, s),
        [(3, 2, 4), (2, 2, 3)],
        np.array([[[3, 3]], [[0, 3]]]),
    ),
    "gather index (2, 3) of (3, 4), backward scatter_add": (
        lambda x, i: x.gather(1, i),
        [(3, 4)],
        SMALL,
    ),
    "gather index (2, 2) of (3, 4) along dim 0": (
        lambda x, i: x.gather(0, i),
        [(3, 4)],
        np.array([[2, 0], [2, 2]]),
    ),
    "scatter_add 0-d": (lambda x, s, i: x.scatter_add(0, i, s), [(), ()], np.array(0)),
}


@pytest.mark.parametrize("name", list(SCATTERS))
def test_scatter_and_gather_with_a_smaller_index_match_cpu(name):
    """Values, and the gradients of the input and of src."""
    fn, shapes, index = SCATTERS[name]
    pairs = [_both(RNG.uniform(-1, 1, s).astype(np.float32), True) for s in shapes]
    i_cpu, i_gpu = _both(index)
    want = fn(*[cpu for cpu, _ in pairs], i_cpu)
    got = fn(*[gpu for _, gpu in pairs], i_gpu)
    _close(got, want, "values")
    seed = RNG.uniform(-1, 1, tuple(want.shape)).astype(np.float32)
    want.backward(mt.tensor(seed))
    got.backward(mt.tensor(seed, device="cuda"))
    for k, (cpu, gpu) in enumerate(pairs):
        _close(gpu.grad, cpu.grad, f"gradient of input {k}")


def test_scatter_index_larger_than_its_input_names_both_shapes():
    """Checked by the meta rule on both devices (the kernel would write out of bounds)."""
    for device in ("cpu", "cuda"):
        x = mt.zeros(3, 4, device=device)
        index = mt.zeros(4, 2, dtype=mt.long, device=device)
        with pytest.raises(RuntimeError, match=r"index \[4, 2\] to be no larger than self"):
            x.scatter_add(1, index, mt.ones(4, 4, device=device))


def test_mask_beside_index_tensors_reads_only_its_count(monkeypatch):
    """x[mask, i] on cuda copies one number to the host, the mask's count (PyTorch's nonzero
    syncs the same way); the integer index tensor is never read there."""
    from minitorch.backend import cuda as runtime  # noqa: PLC0415

    copied, real = [], runtime.to_host
    monkeypatch.setattr(runtime, "to_host", lambda a: copied.append(a.size) or real(a))
    x = mt.tensor(X, device="cuda")
    out = x[mt.tensor(ROW_MASK, device="cuda"), mt.tensor([3, 1], device="cuda")]
    assert tuple(out.shape) == (2, 5)
    assert copied == [1], f"host copies of sizes {copied}; expected the mask's count only"


@pytest.fixture
def host_reads(monkeypatch):
    """The device arrays that numpy or numba copies to the host, recorded: a real GPU's
    DeviceNDArray copies itself to the host through __array__ (numpy's conversion) and
    copy_to_host. The simulator's arrays hand numpy their host memory through attributes
    forwarded to it, so those are refused and counted here the same way."""
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray  # noqa: PLC0415

    reads = []
    forwarded = FakeCUDAArray.__getattr__

    def getattr_refusing_numpy(self, name):
        if name in ("__array__", "__array_interface__", "__array_struct__"):
            reads.append(tuple(self._ary.shape))
            raise AttributeError(name)  # numpy then fails, as it would not on a GPU: loudly
        return forwarded(self, name)

    def copy_to_host(self, *args, **kwargs):
        reads.append(tuple(self._ary.shape))
        return np.array(self._ary)

    monkeypatch.setattr(FakeCUDAArray, "__getattr__", getattr_refusing_numpy)
    monkeypatch.setattr(FakeCUDAArray, "copy_to_host", copy_to_host)
    return reads


def test_embedding_never_reads_its_indices_on_the_host(host_reads):
    """An embedding lookup's shape comes from the indices' shape alone: reading their values
    (for bounds, say) would be a device-to-host copy and a sync per lookup on a GPU."""
    emb = mt.nn.Embedding(6, 3).to("cuda")
    ids = mt.tensor([[0, 5, 2], [2, 2, 1]], device="cuda")
    out = emb(ids)
    out.sum().backward()
    assert host_reads == [], f"device arrays read on the host, shapes {host_reads}"
    assert tuple(out.shape) == (2, 3, 3) and tuple(emb.weight.grad.shape) == (6, 3)
