"""What runs inside a DataLoader worker process, and the fetchers both sides share.

A worker reads tasks `(epoch, idx, index)` from its own index queue, fetches and collates
the batch, and sends `(epoch, idx, batch)` back over its own pipe. Sending pickles in the
worker itself, so a batch that cannot be pickled becomes an error the main process sees
(an mp.Queue would drop it in a feeder thread and the main process would wait forever).
"""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

from ...random import manual_seed
from ...tensor import Tensor
from ._collate import default_collate
from .dataset import IterableDataset, Subset, TensorDataset

__all__ = ["WorkerInfo", "get_worker_info"]

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """Inside a worker: its id, how many workers there are, its seed, and its dataset copy."""

    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """This worker's WorkerInfo inside a DataLoader worker process; None in the main process.

    Use it in an IterableDataset's `__iter__` to give each worker its own shard:

        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        yield from itertools.islice(self.source, start, None, step)
    """
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process as type + traceback text."""

    def __init__(self, where: str) -> None:
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type
        self.msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.msg}"
        if self.exc_type is KeyError:  # KeyError's str() would show the message as a repr
            msg = _KeyErrorMessage(msg)
        try:
            exc = self.exc_type(msg)
        except Exception:  # an exception class that does not take one message argument
            raise RuntimeError(msg) from None
        raise exc

    def __reduce__(self):
        # The exception class may not be importable in the main process (defined in a closure).
        exc_type = self.exc_type
        try:
            import pickle  # noqa: PLC0415

            pickle.dumps(exc_type)
        except Exception:
            exc_type = RuntimeError
        return (_rebuild_wrapper, (exc_type, self.msg, self.where))


def _rebuild_wrapper(exc_type, msg, where) -> ExceptionWrapper:
    w = object.__new__(ExceptionWrapper)
    w.exc_type, w.msg, w.where = exc_type, msg, where
    return w


class _KeyErrorMessage(str):
    def __repr__(self):
        return str(self)


@dataclass(frozen=True)
class IterableEnd:
    """A worker's iterable dataset copy is exhausted."""

    worker_id: int


# ---- fetchers -------------------------------------------------------------------------------
class MapFetcher:
    """Fetches `dataset[i]` for each index of a batch and collates them."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.tensors = _tensor_source(dataset) if collate_fn is default_collate else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.tensors is not None:
            tensors, mapping = self.tensors
            idx = np.asarray(index, np.int64)
            if mapping is not None:
                idx = mapping[idx]
            return [t[idx] for t in tensors]  # one gather per tensor: the TensorDataset fast path
        getitems = getattr(self.dataset, "__getitems__", None)
        data = getitems(index) if callable(getitems) else [self.dataset[i] for i in index]
        return self.collate_fn(data)


def _tensor_source(dataset):
    """(tensors, index map or None) when dataset is a TensorDataset, maybe through Subsets."""
    mapping = None
    while type(dataset) is Subset:
        inner = np.asarray(dataset.indices, np.int64)
        if inner.ndim != 1:
            return None
        mapping = inner if mapping is None else inner[mapping]
        dataset = dataset.dataset
    if type(dataset).__getitem__ is not TensorDataset.__getitem__ or not hasattr(
        dataset, "tensors"
    ):
        return None
    if not all(isinstance(t, Tensor) for t in dataset.tensors):
        return None
    return dataset.tensors, mapping


class IterableFetcher:
    """Takes the next `batch_size` items of the dataset's iterator and collates them."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        """index: a list of batch_size placeholders (auto-collation), or None (one item)."""
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        batch_size = len(index)
        data = []
        for _ in range(batch_size):
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < batch_size):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(dataset, auto_collation, collate_fn, drop_last):
    kind = IterableFetcher if isinstance(dataset, IterableDataset) else MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last)


# ---- the worker process ---------------------------------------------------------------------
def worker_loop(
    dataset,
    index_queue,
    result_conn,
    auto_collation,
    collate_fn,
    drop_last,
    base_seed,
    init_fn,
    worker_id,
    num_workers,
    parent_pid,
) -> None:
    """Serve tasks until told to stop (None), the parent dies, or the result pipe closes."""
    global _worker_info
    try:
        seed = base_seed + worker_id
        _seed_everything(seed)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        init_error = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        epoch, ended = None, False
        while True:
            try:
                task = index_queue.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent_pid:  # the main process is gone
                    return
                continue
            if task is None:
                return
            task_epoch, idx, index = task
            if task_epoch != epoch:  # a new pass (persistent workers): restart the iterator
                epoch, ended, fetcher = task_epoch, False, None
            if ended:
                continue  # the main process knows; it skips this worker's remaining tasks
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    if fetcher is None:
                        fetcher = make_fetcher(dataset, auto_collation, collate_fn, drop_last)
                    data = fetcher.fetch(index)
                except StopIteration:
                    data, ended = IterableEnd(worker_id), True
                except Exception:
                    data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
            if not _send(result_conn, (task_epoch, idx, data), worker_id):
                return
            del data
    except KeyboardInterrupt:
        pass  # the main process sees the interrupt too and shuts the workers down


def _send(conn, message, worker_id) -> bool:
    try:
        conn.send(message)
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return False
    except Exception:  # the batch could not be pickled: report that instead
        epoch, idx, _ = message
        error = ExceptionWrapper(
            f"in DataLoader worker process {worker_id} while sending a batch to the main process"
        )
        try:
            conn.send((epoch, idx, error))
        except Exception:
            return False
    return True


def _seed_everything(seed: int) -> None:
    """Seed minitorch, `random` and numpy's global generator differently in every worker.

    NOTE: PyTorch leaves numpy's global generator alone, so forked workers draw identical
    numpy augmentations; we seed it too (a worker_init_fn may still reseed everything).
    """
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        import minitorch  # noqa: PLC0415

        set_threads = getattr(minitorch, "set_num_threads", None)
        if set_threads is not None:
            set_threads(1)  # as PyTorch's workers do: parallelism comes from the processes
    except Exception:
        pass
