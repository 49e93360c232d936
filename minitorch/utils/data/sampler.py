"""Samplers: which dataset indices a DataLoader visits, and in which order.

Random samplers draw from a minitorch.Generator. Without one they seed a fresh generator
from the default generator at the start of each pass, so `minitorch.manual_seed(s)` fixes
every epoch's order, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from ... import dtypes
from ...random import Generator, default_generator, rand, randint, randperm

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


def _fresh_generator(generator: Generator | None) -> Generator:
    """generator itself, or a new one seeded by one draw from the default generator."""
    if generator is not None:
        return generator
    seed = int(randint(0, 2**62, (), generator=default_generator).item())
    return Generator().manual_seed(seed)


class Sampler:
    """Base class: subclasses implement `__iter__` (indices) and usually `__len__`."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self) -> Iterator:
        raise NotImplementedError


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each pass, or `num_samples` draws with replacement.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw with replacement (then `num_samples` may exceed the length).
        num_samples: how many indices per pass (default: len(data_source)).
        generator: a minitorch.Generator; default: seeded from the default generator.

    Example:
        >>> import minitorch as torch
        >>> g = torch.Generator().manual_seed(0)
        >>> sorted(RandomSampler(range(5), generator=g))
        [0, 1, 2, 3, 4]
    """

    def __init__(
        self,
        data_source,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(replacement, bool):
            raise TypeError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        if not isinstance(self.num_samples, int) or self.num_samples <= 0:
            raise ValueError(
                "num_samples should be a positive integer value, but got "
                f"num_samples={self.num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = _fresh_generator(self.generator)
        if self.replacement:
            yield from randint(0, n, (self.num_samples,), generator=generator).tolist()
            return
        for _ in range(self.num_samples // n):
            yield from randperm(n, generator=generator).tolist()
        yield from randperm(n, generator=generator).tolist()[: self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order each pass (without replacement)."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        for i in randperm(len(self.indices), generator=self.generator).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices 0..len(weights)-1 drawn with probability proportional to `weights`.

    Args:
        weights: non-negative weights (need not sum to 1), one per sample.
        num_samples: how many indices per pass.
        replacement: with replacement (default), or without (num_samples <= len(weights)).
        generator: a minitorch.Generator.

    Example:
        >>> import minitorch as torch
        >>> s = WeightedRandomSampler([0.0, 0.0, 1.0], 4, generator=torch.Generator())
        >>> list(s)
        [2, 2, 2, 2]
    """

    def __init__(
        self,
        weights,
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"num_samples should be a positive integer value, but got num_samples={num_samples}"
            )
        if not isinstance(replacement, bool):
            raise ValueError(
                f"replacement should be a boolean value, but got replacement={replacement}"
            )
        w = np.asarray(weights, np.float64)
        if w.ndim != 1:
            raise ValueError(
                f"weights should be a 1d sequence but given weights have shape {tuple(w.shape)}"
            )
        if w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError(
                "WeightedRandomSampler: weights must be finite, non-negative and "
                "have a positive sum"
            )
        if not replacement and num_samples > int((w > 0).sum()):
            raise RuntimeError(
                "WeightedRandomSampler: cannot draw num_samples="
                f"{num_samples} without replacement from {int((w > 0).sum())} "
                "samples with non-zero weight"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        u = rand(
            self.num_samples if self.replacement else len(self.weights),
            generator=_fresh_generator(self.generator),
            dtype=dtypes.float64,
        ).numpy()
        if self.replacement:  # inverse CDF: O((n + k) log n), not O(n k)
            cdf = np.cumsum(self.weights)
            picked = np.searchsorted(cdf, u * cdf[-1], side="right")
            picked = np.minimum(picked, len(cdf) - 1)
        else:  # Efraimidis-Spirakis: the k largest u ** (1 / w) are a weighted draw w/o replacement
            with np.errstate(divide="ignore"):
                keys = np.where(self.weights > 0, np.log(u) / self.weights, -np.inf)
            picked = np.argsort(-keys, kind="stable")[: self.num_samples]
        return iter(picked.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of `batch_size`.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(5)), batch_size=2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
