"""minitorch.utils.data: datasets, samplers, collate, DataLoader (main process and workers).

Worker tests use tiny datasets: each starts real processes (fork on Linux), so they stay
small and quick. torch is imported after minitorch (numba must load LLVM first).
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import OrderedDict, namedtuple

import numpy as np
import pytest

import minitorch
from minitorch.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    get_worker_info,
    random_split,
)
from minitorch.utils.data._worker import _tensor_source

pytestmark = pytest.mark.timeout(120)  # a hung worker fails its test instead of the whole run


# ---- module-level datasets (picklable, for the spawn test) -------------------------------------
class Squares(Dataset):
    def __init__(self, n: int = 10) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        return i, i * i


class WorkerProbe(Dataset):
    """Each sample reports which worker made it, its seed, and a draw from each generator."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        wid = -1 if info is None else info.id
        seed = -1 if info is None else info.seed
        return {
            "i": i,
            "worker": wid,
            "seed": seed,
            "torch": minitorch.rand(1).item(),
            "py": random.random(),
            "np": float(np.random.rand()),
        }


class Shards(IterableDataset):
    """range(n), split between workers by get_worker_info()."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self) -> int:
        return self.n


class Failing(Dataset):
    def __len__(self) -> int:
        return 6

    def __getitem__(self, i):
        if i == 3:
            raise ValueError(f"bad sample {i}")
        return i


class Dying(Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i):
        if get_worker_info() is not None and i == 2:
            os._exit(3)
        return i


class Slow(Dataset):
    def __len__(self) -> int:
        return 2

    def __getitem__(self, i):
        time.sleep(3)
        return i


def _ids(loader) -> list[int]:
    return [int(v) for batch in loader for v in np.asarray(batch[0]).reshape(-1)]


# ---- datasets ----------------------------------------------------------------------------------
def test_tensor_dataset_items_and_length():
    x, y = minitorch.arange(12.0).reshape(6, 2), minitorch.arange(6)
    ds = TensorDataset(x, y)
    xi, yi = ds[4]
    assert len(ds) == 6 and xi.tolist() == [8.0, 9.0] and yi.item() == 4
    with pytest.raises(AssertionError, match="Size mismatch"):
        TensorDataset(x, minitorch.arange(5))


def test_subset_concat_chain():
    base = Squares(5)
    sub = Subset(base, [4, 0, 2])
    assert [sub[i] for i in range(3)] == [(4, 16), (0, 0), (2, 4)] and len(sub) == 3
    assert sub.__getitems__([0, 2]) == [(4, 16), (2, 4)]
    cat = ConcatDataset([Squares(2), Squares(3)])
    assert len(cat) == 5 and cat.cumulative_sizes == [2, 5]
    assert [cat[i][0] for i in range(5)] == [0, 1, 0, 1, 2] and cat[-1] == (2, 4)
    assert len(Squares(2) + Squares(4)) == 6
    with pytest.raises(IndexError):
        cat[5]
    with pytest.raises(AssertionError):
        ConcatDataset([])
    chain = Shards(3) + Shards(2)
    assert isinstance(chain, ChainDataset) and list(chain) == [0, 1, 2, 0, 1] and len(chain) == 5


def test_random_split_lengths_fractions_and_seed():
    g = minitorch.Generator().manual_seed(1)
    a, b = random_split(range(10), [7, 3], generator=g)
    assert (len(a), len(b)) == (7, 3) and sorted(list(a) + list(b)) == list(range(10))
    again = random_split(range(10), [7, 3], generator=minitorch.Generator().manual_seed(1))
    assert list(again[0]) == list(a)
    # fractions: floor, then the remainder one by one from the first subset (PyTorch's rule)
    parts = random_split(range(11), [0.3, 0.3, 0.4], generator=g)
    assert [len(p) for p in parts] == [4, 3, 4]
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])


def test_random_split_sizes_match_torch():
    torch = pytest.importorskip("torch")
    for n, fracs in [(10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (100, [0.8, 0.1, 0.1])]:
        ours = [len(s) for s in random_split(range(n), fracs)]
        theirs = [len(s) for s in torch.utils.data.random_split(range(n), fracs)]
        assert ours == theirs


# ---- samplers ----------------------------------------------------------------------------------
def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = minitorch.Generator().manual_seed(3)
    order = list(RandomSampler(range(20), generator=g))
    assert sorted(order) == list(range(20)) and order != list(range(20))
    minitorch.manual_seed(5)
    first = list(RandomSampler(range(20)))
    minitorch.manual_seed(5)
    assert list(RandomSampler(range(20))) == first
    more = list(RandomSampler(range(5), num_samples=12))  # two full permutations + 2
    assert len(more) == 12 and sorted(more[:5]) == list(range(5)) == sorted(more[5:10])
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50))
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_and_weighted_samplers():
    assert sorted(SubsetRandomSampler([7, 3, 9])) == [3, 7, 9]
    g = minitorch.Generator().manual_seed(0)
    draws = list(WeightedRandomSampler([1.0, 0.0, 3.0], 4000, generator=g))
    counts = np.bincount(draws, minlength=3)
    assert counts[1] == 0 and 0.2 < counts[0] / 4000 < 0.3
    unique = list(WeightedRandomSampler([1, 1, 1, 1, 0], 4, replacement=False, generator=g))
    assert sorted(unique) == [0, 1, 2, 3]
    assert len(WeightedRandomSampler(minitorch.tensor([1.0, 2.0]), 7)) == 7
    with pytest.raises(ValueError, match="num_samples"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(RuntimeError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 2)
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0], 2, replacement=False)


def test_batch_sampler():
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(range(5), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, False)) == 3 and len(BatchSampler(range(5), 2, True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(range(5), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(5), 2, drop_last=None)


# ---- collate -----------------------------------------------------------------------------------
def test_default_collate_types():
    b = default_collate([1.5, 2.5])
    assert b.dtype == minitorch.float64 and b.tolist() == [1.5, 2.5]
    assert default_collate([1, 2]).dtype == minitorch.int64
    assert default_collate([True, False]).dtype == minitorch.bool
    assert default_collate(["a", "b"]) == ["a", "b"]
    t = default_collate([minitorch.ones(2, 3), minitorch.zeros(2, 3)])
    assert t.shape == (2, 2, 3) and t.dtype == minitorch.float32 and t[1].sum().item() == 0
    a = default_collate([np.ones(3, np.uint8), np.zeros(3, np.uint8)])
    assert a.shape == (2, 3) and a.dtype == minitorch.uint8
    s = default_collate([np.float32(1), np.float32(2)])
    assert s.dtype == minitorch.float32 and s.shape == (2,)
    d = default_collate([{"x": 1, "y": "p"}, {"x": 2, "y": "q"}])
    assert d["x"].tolist() == [1, 2] and d["y"] == ["p", "q"]
    od = default_collate([OrderedDict(a=1.0), OrderedDict(a=2.0)])
    assert isinstance(od, OrderedDict)
    Point = namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype == minitorch.float64
    tup = default_collate([(1, 2.0), (3, 4.0)])
    assert isinstance(tup, list) and tup[0].tolist() == [1, 3]
    nested = default_collate([[minitorch.ones(2), {"k": 0}], [minitorch.ones(2), {"k": 1}]])
    assert nested[0].shape == (2, 2) and nested[1]["k"].tolist() == [0, 1]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"equal size, but got \[2\] at entry 0 and \[3\]"):
        default_collate([minitorch.ones(2), minitorch.ones(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_keeps_autograd():
    w = minitorch.ones(2, requires_grad=True)
    batch = default_collate([w * 2, w * 3])
    batch.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]


def test_default_collate_dtypes_match_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    samples = [
        [1.5, 2.5],
        [1, 2],
        [True, False],
        [np.float32(1), np.float32(2)],
        [np.arange(3, dtype=np.int16), np.arange(3, dtype=np.int16)],
    ]
    for batch in samples:
        ours, theirs = default_collate(batch), torch_collate(batch)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        assert tuple(ours.shape) == tuple(theirs.shape)
    assert torch is not None


def test_default_convert():
    out = default_convert({"a": np.arange(3), "b": (np.float32(2), "s")})
    assert isinstance(out["a"], minitorch.Tensor) and out["a"].dtype == minitorch.int64
    assert isinstance(out["b"], list) and out["b"][0].shape == () and out["b"][1] == "s"


# ---- DataLoader in the main process ------------------------------------------------------------
def test_loader_batches_len_and_drop_last():
    ds = TensorDataset(minitorch.arange(10.0), minitorch.arange(10))
    loader = DataLoader(ds, batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[1].tolist() for b in batches] == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
    ]
    assert isinstance(batches[0], list) and batches[0][0].dtype == minitorch.float32
    dropped = DataLoader(ds, batch_size=4, drop_last=True)
    assert len(dropped) == 2 and len(list(dropped)) == 2
    single = list(DataLoader(ds))
    assert len(single) == 10 and single[3][0].shape == (1,)
    assert len(DataLoader(ds, batch_size=4, pin_memory=True)) == 3


def test_loader_shuffle_is_seeded():
    ds = Squares(50)
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    minitorch.manual_seed(0)
    a = _ids(loader)
    minitorch.manual_seed(0)
    b = _ids(loader)
    c = _ids(loader)  # the next epoch continues the stream: a new order
    assert a == b and a != c and sorted(a) == list(range(50)) and a != list(range(50))
    g1 = minitorch.Generator().manual_seed(7)
    g2 = minitorch.Generator().manual_seed(7)
    assert _ids(DataLoader(ds, batch_size=8, shuffle=True, generator=g1)) == _ids(
        DataLoader(ds, batch_size=8, shuffle=True, generator=g2)
    )


def test_tensor_dataset_fast_path_matches_item_by_item():
    x = minitorch.randn(30, 3)
    y = minitorch.arange(30)
    ds = TensorDataset(x, y)
    assert _tensor_source(ds) is not None
    sub = Subset(Subset(ds, list(range(29, -1, -1))), [0, 5, -1, 7])
    tensors, mapping = _tensor_source(sub)
    assert mapping.tolist() == [29, 24, 0, 22]

    class Custom(TensorDataset):
        def __getitem__(self, i):
            return super().__getitem__(i)

    assert _tensor_source(Custom(x, y)) is None
    for data in (ds, sub):
        minitorch.manual_seed(1)
        fast = list(DataLoader(data, batch_size=4, shuffle=True))
        minitorch.manual_seed(1)
        slow = list(
            DataLoader(data, batch_size=4, shuffle=True, collate_fn=lambda b: default_collate(b))
        )
        for (fx, fy), (sx, sy) in zip(fast, slow):
            assert fx.dtype == sx.dtype and fy.dtype == sy.dtype
            np.testing.assert_array_equal(fx.numpy(), sx.numpy())
            np.testing.assert_array_equal(fy.numpy(), sy.numpy())


def test_no_batching_custom_samplers_and_collate():
    ds = TensorDataset(minitorch.arange(6))
    items = list(DataLoader(ds, batch_size=None))
    assert len(items) == 6 and items[2][0].shape == () and items[2][0].item() == 2
    arrays = list(DataLoader([np.arange(2), np.arange(2) + 2], batch_size=None))
    assert isinstance(arrays[1], minitorch.Tensor) and arrays[1].tolist() == [2, 3]
    loader = DataLoader(Squares(6), batch_sampler=[[5, 0], [1]])
    assert [b[0].tolist() for b in loader] == [[5, 0], [1]] and len(loader) == 2
    loader = DataLoader(
        Squares(6), batch_size=3, sampler=[5, 4, 3, 2, 1, 0], collate_fn=lambda b: [i for i, _ in b]
    )
    assert list(loader) == [[5, 4, 3], [2, 1, 0]]


def test_loader_argument_errors():
    ds = Squares(4)
    cases = [
        (dict(sampler=[0], shuffle=True), "mutually exclusive with shuffle"),
        (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
        (dict(batch_size=None, drop_last=True), "disables auto-batching"),
        (dict(num_workers=-1), "non-negative"),
        (dict(timeout=-1), "timeout option should be non-negative"),
        (dict(prefetch_factor=2), "prefetch_factor"),
        (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
        (dict(multiprocessing_context="fork"), "num_workers > 0"),
        (dict(num_workers=1, multiprocessing_context="nope"), "valid start method"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            DataLoader(ds, **kwargs)
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Shards(3), shuffle=True)
    with pytest.raises(ValueError, match="expected unspecified sampler"):
        DataLoader(Shards(3), sampler=[0])
    loader = DataLoader(ds, batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


def test_iterable_dataset_in_main_process():
    loader = DataLoader(Shards(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert len(DataLoader(Shards(7), batch_size=3, drop_last=True)) == 2
    assert [b.tolist() for b in DataLoader(Shards(7), batch_size=3, drop_last=True)] == [
        [0, 1, 2],
        [3, 4, 5],
    ]
    assert [int(v) for v in DataLoader(Shards(3), batch_size=None)] == [0, 1, 2]
    assert get_worker_info() is None


# ---- worker processes --------------------------------------------------------------------------
def test_workers_give_the_same_batches_in_order():
    ds = TensorDataset(minitorch.arange(40.0).reshape(20, 2), minitorch.arange(20))
    minitorch.manual_seed(3)
    main = [b[1].tolist() for b in DataLoader(ds, batch_size=3, shuffle=True)]
    minitorch.manual_seed(3)
    loader = DataLoader(ds, batch_size=3, shuffle=True, num_workers=2)
    workers = [b[1].tolist() for b in loader]
    assert workers == main and len(loader) == 7
    plain = [
        b[0].tolist()
        for b in DataLoader(Squares(9), batch_size=2, num_workers=3, prefetch_factor=1)
    ]
    assert plain == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]


def test_worker_seeds_info_and_init_fn(tmp_path):
    def init(worker_id):
        (tmp_path / f"init{worker_id}").write_text(str(get_worker_info().seed))

    minitorch.manual_seed(11)
    loader = DataLoader(WorkerProbe(), batch_size=2, num_workers=2, worker_init_fn=init)
    batches = list(loader)
    rows = [
        {k: (v[j].item() if isinstance(v, minitorch.Tensor) else v[j]) for k, v in b.items()}
        for b in batches
        for j in range(2)
    ]
    by_worker = {w: [r for r in rows if r["worker"] == w] for w in (0, 1)}
    assert [r["i"] for r in rows] == list(range(8)) and all(by_worker.values())
    seeds = {w: by_worker[w][0]["seed"] for w in (0, 1)}
    assert seeds[1] == seeds[0] + 1
    assert {int((tmp_path / f"init{w}").read_text()) for w in (0, 1)} == set(seeds.values())
    for key in ("torch", "py", "np"):  # every generator is seeded differently per worker
        assert by_worker[0][0][key] != by_worker[1][0][key]
    minitorch.manual_seed(11)
    again = list(DataLoader(WorkerProbe(), batch_size=2, num_workers=2))
    assert [b["torch"].tolist() for b in again] == [b["torch"].tolist() for b in batches]
    assert get_worker_info() is None


def test_iterable_dataset_sharded_between_workers():
    loader = DataLoader(Shards(11), batch_size=2, num_workers=2)
    batches = [b.tolist() for b in loader]
    assert sorted(itertools.chain(*batches)) == list(range(11))
    assert batches[:2] == [[0, 2], [1, 3]]  # worker 0, worker 1, worker 0, ...
    items = sorted(int(v) for v in DataLoader(Shards(5), batch_size=None, num_workers=2))
    assert items == [0, 1, 2, 3, 4]


def test_worker_exception_is_reraised_with_its_type():
    loader = DataLoader(Failing(), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it).tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"Caught ValueError in DataLoader worker process 1"):
        next(it)
    del it


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = DataLoader(
        Squares(4), batch_size=2, num_workers=1, collate_fn=lambda b: lambda: b, timeout=30
    )
    with pytest.raises(Exception, match="while sending a batch"):
        next(iter(loader))


def test_dead_worker_and_timeout_are_reported():
    with pytest.raises(
        RuntimeError,
        match=r"DataLoader worker \(pid \d+ \(exit code 3\)\) "
        r"exited unexpectedly",
    ):
        list(DataLoader(Dying(), batch_size=1, num_workers=2))
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.5 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.5))
    assert time.monotonic() - start < 10


def test_workers_exit_cleanly():
    loader = DataLoader(Squares(20), batch_size=2, num_workers=2)
    it = iter(loader)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    list(it)
    assert not any(w.is_alive() for w in workers)
    it = iter(loader)  # abandoned after one batch
    next(it)
    workers = list(it._workers)
    del it
    assert not any(w.is_alive() for w in workers)


def test_persistent_workers_survive_epochs():
    loader = DataLoader(Squares(10), batch_size=3, num_workers=2, persistent_workers=True)
    first = iter(loader)
    pids = [w.pid for w in first._workers]
    next(first)  # abandon the first epoch early: its leftovers must not leak into the next
    assert _ids(loader) == list(range(10))
    assert [w.pid for w in loader._iterator._workers] == pids
    assert _ids(loader) == list(range(10))
    stream = DataLoader(Shards(6), batch_size=2, num_workers=2, persistent_workers=True)
    assert sorted(_flatten(stream)) == sorted(_flatten(stream)) == list(range(6))
    loader._iterator._shutdown_workers()
    stream._iterator._shutdown_workers()


def _flatten(loader) -> list[int]:
    return [int(v) for batch in loader for v in batch.tolist()]


def test_out_of_order_delivery_returns_everything():
    loader = DataLoader(Squares(9), batch_size=2, num_workers=2, in_order=False)
    assert sorted(_ids(loader)) == list(range(9))


def test_workers_after_a_parallel_kernel_in_the_main_process():
    big = minitorch.randn(100_000)
    assert (big * 2 + 1).exp().sum().item() > 0  # the main process opens a parallel region
    ds = TensorDataset(minitorch.randn(300, 784), minitorch.arange(300))
    loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=2, timeout=60)
    assert sorted(int(v) for _, y in loader for v in y.tolist()) == list(range(300))


class BigOps(Dataset):
    """Each sample runs kernels big enough to take their parallel (prange) path."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i):
        return (minitorch.ones(100_000) * i).sum()


def test_parallel_kernels_inside_forked_workers():
    import numba

    (minitorch.randn(100_000) * 2).exp().sum()  # the main process opens a parallel region
    loader = DataLoader(BigOps(), batch_size=2, num_workers=2, timeout=60)
    if numba.threading_layer() == "omp":  # GNU OpenMP kills a forked process that uses it
        with pytest.raises(RuntimeError, match="install tbb"):
            list(loader)
    else:
        assert [b.tolist() for b in loader] == [[0.0, 100_000.0], [200_000.0, 300_000.0]]


def test_spawn_context():
    loader = DataLoader(Squares(6), batch_size=3, num_workers=1, multiprocessing_context="spawn")
    assert _ids(loader) == list(range(6))
