"""DataLoader: batches from a dataset, in the main process or in worker processes.

Same arguments and behaviour as `torch.utils.data.DataLoader`. With `num_workers > 0`,
worker processes (multiprocessing, the platform's default start method unless
`multiprocessing_context` says otherwise) each get their own seed (base seed + worker id:
minitorch, `random` and numpy's global generator), call `worker_init_fn(worker_id)`, and
return batches that the main process hands out in sampler order.

NOTE: numba's GNU OpenMP threading layer is not fork-safe: a forked worker that runs a
parallel kernel (a big op) after the main process ran one is killed with "fork() called
from a process already using GNU OpenMP". Installing `tbb` (numba's fork-safe layer) or
passing `multiprocessing_context="spawn"` avoids it; the error message says so.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import time
from multiprocessing.connection import wait

from ... import jit_guard
from ...random import default_generator, randint
from ._collate import default_collate, default_convert
from ._worker import ExceptionWrapper, IterableEnd, make_fetcher, worker_loop
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class _InfiniteConstantSampler(Sampler):
    """None forever: an IterableDataset decides itself when a pass ends."""

    def __iter__(self):
        return itertools.repeat(None)


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style Dataset (`__getitem__`, `__len__`) or an IterableDataset.
        batch_size: samples per batch; None turns batching off (each item is converted).
        shuffle: reshuffle every epoch (a RandomSampler seeded from `generator` or from the
            default generator, so `minitorch.manual_seed` fixes the order).
        sampler, batch_sampler: custom index order / custom batches.
        num_workers: worker processes (0: load in the main process).
        collate_fn: merges a list of samples into a batch (default: `default_collate`).
        pin_memory: accepted; a no-op on the CPU.
        drop_last: drop the last incomplete batch.
        timeout: seconds to wait for a batch from the workers (0: forever).
        worker_init_fn: called as worker_init_fn(worker_id) in each worker after seeding.
        multiprocessing_context: a start method name ("fork", "spawn", "forkserver") or context.
        generator: the minitorch.Generator for shuffling and the workers' base seed.
        prefetch_factor: batches loaded in advance per worker (default 2 with workers).
        persistent_workers: keep the worker processes alive between epochs.
        in_order: hand out batches in sampler order (False: as soon as they are ready).

    Example:
        >>> import minitorch as torch
        >>> from minitorch.utils.data import TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0), torch.arange(10))
        >>> loader = DataLoader(ds, batch_size=4)
        >>> [y.tolist() for _, y in loader], len(loader)
        ([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]], 3)
    """

    def __init__(
        self,
        dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler=None,
        batch_sampler=None,
        num_workers: int = 0,
        collate_fn=None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        generator=None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        _check_options(
            num_workers, timeout, prefetch_factor, persistent_workers, multiprocessing_context
        )
        if isinstance(dataset, IterableDataset):
            if shuffle not in (None, False):
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle "
                    f"option, but got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler "
                    f"option, but got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified "
                    f"batch_sampler option, but got batch_sampler={batch_sampler}"
                )
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually "
                "exclusive with drop_last"
            )
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = num_workers
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.collate_fn = (
            collate_fn
            if collate_fn is not None
            else (default_collate if batch_sampler is not None else default_convert)
        )
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name, value) -> None:
        if getattr(self, "_initialized", False) and name in _FROZEN:
            raise ValueError(
                f"{name} attribute should not be set after {type(self).__name__} is initialized"
            )
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shutdown:
            super().__setattr__("_iterator", _MultiProcessIter(self))
        else:
            self._iterator._reset()
        return self._iterator

    def __len__(self) -> int:
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)

    def _mp_context(self):
        ctx = self.multiprocessing_context
        if ctx is None:
            return multiprocessing.get_context()
        if isinstance(ctx, str):
            return multiprocessing.get_context(ctx)
        return ctx


def _check_options(num_workers, timeout, prefetch_factor, persistent_workers, mp_context):
    if num_workers < 0:
        raise ValueError(
            "num_workers option should be non-negative; use num_workers=0 to "
            "disable multiprocessing."
        )
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(
            "prefetch_factor option could only be specified in multiprocessing."
            "let num_workers > 0 to enable multiprocessing, otherwise set "
            "prefetch_factor to None."
        )
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    if mp_context is not None:
        if num_workers == 0:
            raise ValueError(
                "multiprocessing_context can only be used with multi-process "
                f"loading (num_workers > 0), but got num_workers={num_workers}"
            )
        methods = multiprocessing.get_all_start_methods()
        if isinstance(mp_context, str) and mp_context not in methods:
            raise ValueError(
                "multiprocessing_context option should specify a valid start "
                f"method in {methods!r}, but got "
                f"multiprocessing_context={mp_context!r}"
            )


def _base_seed(generator) -> int:
    """One draw per pass, as PyTorch does; worker k gets base seed + k."""
    return int(randint(0, 2**62, (), generator=generator or default_generator).item())


class _SingleProcessIter:
    """Loads every batch in the main process."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._base_seed = _base_seed(loader.generator)
        self._sampler_iter = iter(loader._index_sampler)
        self._fetcher = make_fetcher(
            loader.dataset, loader._auto_collation, loader.collate_fn, loader.drop_last
        )

    def __iter__(self):
        return self

    def __next__(self):
        jit_guard.unreplayable("next batch")  # (a replay would not advance the iterator)
        return self._fetcher.fetch(next(self._sampler_iter))

    def __len__(self) -> int:
        return len(self._loader)


class _MultiProcessIter:
    """Sends index batches to worker processes and hands their batches out in order.

    Each task is (epoch, idx, index); `idx` numbers tasks within a pass and `epoch` numbers
    passes, so results from an abandoned pass of persistent workers are recognised and dropped.
    """

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._n = loader.num_workers
        self._prefetch = max(1, loader.prefetch_factor) * self._n
        self._timeout = loader.timeout
        self._shutdown = False
        self._epoch = -1
        self._base_seed = _base_seed(loader.generator)
        ctx = loader._mp_context()
        self._workers, self._index_queues, self._readers = [], [], []
        self._closed = set()  # readers that reached end of file
        for wid in range(self._n):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()
            reader, writer = ctx.Pipe(duplex=False)
            w = ctx.Process(
                target=worker_loop,
                args=(
                    loader.dataset,
                    index_queue,
                    writer,
                    loader._auto_collation,
                    loader.collate_fn,
                    loader.drop_last,
                    self._base_seed,
                    loader.worker_init_fn,
                    wid,
                    self._n,
                    os.getpid(),
                ),
                daemon=True,
            )
            w.start()
            writer.close()
            self._workers.append(w)
            self._index_queues.append(index_queue)
            self._readers.append(reader)
        self._reset()

    def _reset(self) -> None:
        self._epoch += 1
        self._sampler_iter = iter(self._loader._index_sampler)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._tasks = {}  # idx -> [worker id] or [worker id, batch]
        self._active = [True] * self._n
        self._cycle = itertools.cycle(range(self._n))
        for _ in range(self._prefetch):
            self._put_index()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _put_index(self) -> None:
        if not any(self._active):
            return
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        wid = next(self._cycle)
        while not self._active[wid]:
            wid = next(self._cycle)
        self._index_queues[wid].put((self._epoch, self._send_idx, index))
        self._tasks[self._send_idx] = [wid]
        self._send_idx += 1

    def __next__(self):
        jit_guard.unreplayable("next batch")  # (a replay would not advance the iterator)
        while True:
            ready = self._next_ready()
            if ready is not None:
                return ready
            epoch, idx, data = self._get_result()
            if epoch != self._epoch or idx not in self._tasks:
                continue  # left over from an abandoned pass
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
                if not self._loader.persistent_workers:
                    self._index_queues[data.worker_id].put(None)
                self._put_index()
                continue
            self._tasks[idx].append(data)

    def _next_ready(self):
        """The next batch if it has arrived; None to wait; StopIteration when the pass is done."""
        order = range(self._rcvd_idx, self._send_idx)
        if not self._loader.in_order:
            order = sorted(self._tasks, key=lambda i: len(self._tasks[i]) < 2)
        for idx in order:
            task = self._tasks.get(idx)
            if task is None:
                continue
            if len(task) == 2:
                del self._tasks[idx]
                self._advance()
                self._put_index()
                return _unwrap(task[1])
            if self._active[task[0]]:
                if self._loader.in_order:
                    return None
                continue
            del self._tasks[idx]  # its worker's iterable is exhausted: no batch will come
        self._advance()
        if self._tasks:
            return None
        if not self._loader.persistent_workers:
            self._shutdown_workers()
        raise StopIteration

    def _advance(self) -> None:
        while self._rcvd_idx < self._send_idx and self._rcvd_idx not in self._tasks:
            self._rcvd_idx += 1

    def _get_result(self):
        """One (epoch, idx, data) message from any worker; errors on timeout or a dead worker."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            # NOTE: one snapshot of the exit codes serves both the death check and the wait:
            # a worker whose pipe closed (EOF) one round and whose exit completed since must
            # either raise here or be waited on below, else wait() blocks on the others forever
            # (seen once in CI with a worker that os._exit()s).
            codes = [w.exitcode for w in self._workers]
            self._raise_if_a_worker_died(codes)
            alive = [w.sentinel for w, code in zip(self._workers, codes) if code is None]
            readers = [r for r in self._readers if r not in self._closed]
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait(readers + alive, timeout=remaining)
            if not ready:
                self._shutdown_workers(grace=0.5)  # a worker that is this late may be stuck
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            for reader in readers:
                if reader in ready:
                    try:
                        return reader.recv()
                    except EOFError:
                        self._closed.add(reader)  # the worker is gone; its sentinel tells how
            dead = [w for w in self._workers if w.sentinel in ready or not w.is_alive()]
            for w in dead:
                w.join(timeout=1.0)

    def _raise_if_a_worker_died(self, codes: list) -> None:
        """RuntimeError naming the workers that exited (exit codes `codes`) with work left."""
        unexpected = [
            w
            for w, active, code in zip(self._workers, self._active, codes)
            if active and code is not None
        ]
        if unexpected:
            self._shutdown_workers(grace=0.5)
            raise RuntimeError(_death_message(unexpected))

    def _shutdown_workers(self, grace: float = 5.0) -> None:
        """Ask every worker to stop; terminate those still running after `grace` seconds."""
        if self._shutdown:
            return
        self._shutdown = True
        for q in self._index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + grace
        for w, reader in zip(self._workers, self._readers):
            while w.is_alive() and time.monotonic() < deadline:
                _drain(reader)  # a worker blocked sending a batch cannot see the stop signal
                w.join(timeout=0.05)
            if w.is_alive():
                w.terminate()
                w.join(timeout=1.0)
        for q in self._index_queues:
            q.close()
        for reader in self._readers:
            reader.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass


def _unwrap(data):
    if isinstance(data, ExceptionWrapper):
        data.reraise()
    return data


def _drain(reader) -> None:
    try:
        while reader.poll(0):
            reader.recv()
    except (EOFError, OSError):
        pass


def _death_message(workers) -> str:
    parts = []
    for w in workers:
        code = w.exitcode
        how = f"exit code {code}"
        if code is not None and code < 0:
            try:
                how = f"signal {signal.Signals(-code).name}"
            except ValueError:
                pass
        parts.append(f"pid {w.pid} ({how})")
    return (
        f"DataLoader worker ({', '.join(parts)}) exited unexpectedly. If it printed "
        "'fork() called from a process already using GNU OpenMP', a parallel numba kernel "
        "ran in a forked worker: install tbb (`pip install tbb`; numba then uses its "
        "fork-safe layer) or pass multiprocessing_context='spawn' to the DataLoader. "
        "Otherwise see the worker's own error output above (out of memory, a crash in "
        "native code, os._exit)."
    )
