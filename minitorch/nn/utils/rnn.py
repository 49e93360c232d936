"""Sequence helpers for recurrent models, as torch.nn.utils.rnn: pad_sequence, PackedSequence,
pack_padded_sequence / pad_packed_sequence, pack_sequence / unpack_sequence, unpad_sequence.

A PackedSequence holds a batch of variable-length sequences without padding, time-major as
PyTorch lays it out: `data` holds every sequence's step 0, then step 1 of those still running,
...; `batch_sizes[t]` (an int64 CPU tensor) is how many sequences have a step t. Sequences are
packed longest first; `sorted_indices` (None when the batch came sorted) maps packed position to
batch position and `unsorted_indices` back. nn.RNN / GRU / LSTM take one and stop each sequence's
recurrence at its own length.

Packing and unpacking are index_select gathers, so gradients flow from padded outputs through
`data` back to the padded input. The lengths are read into Python (they decide shapes): under
minitorch.compile, lengths given as a Python list are part of the trace's guard key (other
lengths trace again), while a lengths *tensor*, or a PackedSequence passed into the step, is
refused with the tracer's error (pass `lengths.tolist()` into the compiled step and pack there).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence

import numpy as np

from ... import dtypes, jit_guard
from ...functional import cat, full, stack, tensor
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


def pad_sequence(
    sequences: Sequence[Tensor] | Tensor,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack variable-length (L_i, *) tensors into one (L_max, B, *) tensor (or (B, L_max, *)).

    Each sequence is padded with padding_value on padding_side ("right" or "left").

    Example:
        >>> import minitorch as torch
        >>> seqs = [torch.ones(3, 2), torch.ones(1, 2)]
        >>> torch.nn.utils.rnn.pad_sequence(seqs, batch_first=True).shape
        minitorch.Size([2, 3, 2])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    max_len = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        n = max_len - s.shape[0]
        if n == 0:
            padded.append(s)
            continue
        pad = full((n,) + tuple(s.shape[1:]), padding_value, dtype=s.dtype)
        padded.append(cat([s, pad] if padding_side == "right" else [pad, s]))
    return stack(padded, 0 if batch_first else 1)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation tensor (None stays None)."""
    return None if permutation is None else permutation.argsort()


_Fields = namedtuple(
    "PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
)


class PackedSequence(_Fields):
    """A packed batch of variable-length sequences (see the module docstring for the layout).

    Made by pack_padded_sequence / pack_sequence; a named tuple (data, batch_sizes,
    sorted_indices, unsorted_indices) as PyTorch's.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as torch accepts
            data, batch_sizes = data
        if batch_sizes.is_cuda:
            raise ValueError(
                "PackedSequence: batch_sizes should always be on CPU; make packed sequences "
                "with pack_padded_sequence or pack_sequence instead of by hand."
            )
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """data.to(*args, **kwargs); the indices follow data's device, batch_sizes stays on CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return self._with_data(data)

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda")

    def cpu(self, *args, **kwargs) -> PackedSequence:
        return self.to("cpu")

    def double(self) -> PackedSequence:
        return self.to(dtype=dtypes.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=dtypes.float32)

    def long(self) -> PackedSequence:
        return self.to(dtype=dtypes.int64)

    def int(self) -> PackedSequence:
        return self.to(dtype=dtypes.int32)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False

    def _with_data(self, data: Tensor) -> PackedSequence:
        def move(t):
            return None if t is None else t.to(device=data.device)

        packed = type(self)(
            data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices)
        )
        if hasattr(self, "_sizes"):
            packed._sizes = self._sizes
        return packed


def _make_packed(data: Tensor, sizes: list, sorted_indices: Tensor | None) -> PackedSequence:
    """A PackedSequence that also keeps its batch sizes as Python ints (`_sizes`), so that
    unpacking and the RNN layers need not read the batch_sizes tensor (a read a trace refuses).
    """
    packed = PackedSequence(data, tensor(sizes, dtype=dtypes.int64), sorted_indices)
    packed._sizes = (jit_guard.capture[0], tuple(sizes))
    return packed


def _batch_sizes(sequence: PackedSequence) -> tuple:
    """The batch sizes of a packed sequence as Python ints.

    The kept copy serves only where it was made: outside a trace, or in the trace that made it
    (from lengths the trace's key holds). A PackedSequence made outside and passed into a
    compiled step reads batch_sizes, which the trace refuses: its key holds only the shape.
    """
    made_in, sizes = getattr(sequence, "_sizes", (None, None))
    if sizes is not None and made_in is jit_guard.capture[0]:
        return sizes
    return tuple(sequence.batch_sizes.tolist())


def _lengths(sizes: Sequence[int]) -> np.ndarray:
    """Each sequence's length (packed order) from the batch sizes."""
    return (np.asarray(sizes)[None, :] > np.arange(sizes[0])[:, None]).sum(1)


def _packed_positions(sizes: Sequence[int], steps: int, batch_first: bool) -> np.ndarray:
    """For each row of packed data, its flat position in a padded (steps, B) array
    ((B, steps) when batch_first), B = sizes[0]."""
    batch = sizes[0]
    rows = [
        t + np.arange(n) * steps if batch_first else t * batch + np.arange(n)
        for t, n in enumerate(sizes)
    ]
    return np.concatenate(rows).astype(np.int64)


def _index(positions: np.ndarray, like: Tensor) -> Tensor:
    return tensor(positions, dtype=dtypes.int64, device=like.device)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded (T, B, *) batch (B, T, * when batch_first) of sequences of `lengths`.

    With enforce_sorted=True the lengths must be in decreasing order; enforce_sorted=False
    sorts the batch (the PackedSequence remembers the order, and pad_packed_sequence and the
    RNN layers give results back in the input's order).

    Example:
        >>> import minitorch as torch
        >>> from minitorch.nn.utils.rnn import pack_padded_sequence
        >>> packed = pack_padded_sequence(torch.zeros(3, 2, 4), [3, 1])
        >>> packed.data.shape, packed.batch_sizes.tolist()
        (minitorch.Size([4, 4]), [2, 1, 1])
    """
    name = "pack_padded_sequence()"
    if input.ndim < 2:
        raise IndexError(
            f"{name}: expected a padded (T, B, *) or batch_first (B, T, *) input, got shape "
            f"{list(input.shape)}"
        )
    if input.numel() == 0:
        raise RuntimeError(f"{name}: Cannot pack empty tensors (input shape {list(input.shape)}).")
    if isinstance(lengths, Tensor):
        lengths = lengths.tolist()  # shapes depend on them: a host read
    lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
    batch_dim, time_dim = (0, 1) if batch_first else (1, 0)
    batch, steps = input.shape[batch_dim], input.shape[time_dim]
    if len(lengths) != batch:
        raise RuntimeError(
            f"{name}: Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
            f"(batch_size={batch}); input shape {list(input.shape)}, batch_first={batch_first}"
        )
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _index(order, input)
        input = input.index_select(batch_dim, sorted_indices)
    if lengths[-1] <= 0:
        raise RuntimeError(
            f"{name}: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0 (lengths={lengths.tolist()}); drop empty sequences first"
        )
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
            "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
            "sidestep this requirement if you do not need ONNX exportability."
        )
    if lengths[0] > steps:
        raise RuntimeError(
            f"{name}: a length of {lengths[0]} is longer than the input's {steps} time steps "
            f"(input shape {list(input.shape)}, batch_first={batch_first})"
        )
    sizes = [int(n) for n in (lengths[:, None] > np.arange(lengths[0])).sum(0)]
    flat = input.reshape((batch * steps,) + tuple(input.shape[2:]))
    data = flat.index_select(0, _index(_packed_positions(sizes, steps, batch_first), input))
    return _make_packed(data, sizes, sorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths int64).

    T is the longest length, or total_length when given; the batch is in the original order.
    """
    sizes = _batch_sizes(sequence)
    steps = len(sizes)
    if total_length is not None:
        if total_length < steps:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{steps}"
            )
        steps = total_length
    data = sequence.data
    rows, batch, rest = data.shape[0], sizes[0], tuple(data.shape[1:])
    # every padded position reads data's row, or an appended padding row
    source = np.full(batch * steps, rows, dtype=np.int64)
    source[_packed_positions(sizes, steps, batch_first)] = np.arange(rows)
    padding = full((1,) + rest, padding_value, dtype=data.dtype, device=data.device)
    padded = cat([data, padding]).index_select(0, _index(source, data))
    padded = padded.reshape(((batch, steps) if batch_first else (steps, batch)) + rest)
    lengths = tensor(_lengths(sizes), dtype=dtypes.int64)
    unsorted = sequence.unsorted_indices
    if unsorted is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted)
        lengths = lengths.index_select(0, unsorted.to(device=lengths.device))
    return padded, lengths


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) tensors (longest first unless enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """Inverse of pack_sequence: the list of (L_i, *) tensors, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [seq[:n] for seq, n in zip(padded.unbind(0), lengths.tolist())]


def unpad_sequence(
    padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False
) -> list[Tensor]:
    """Inverse of pad_sequence: the list of (L_i, *) tensors cut from a padded batch.

    Unlike torch, the input is not transposed in place when batch_first=False.
    """
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    lengths = lengths.tolist() if isinstance(lengths, Tensor) else list(lengths)
    return [seq[:n] for seq, n in zip(padded_sequences.unbind(0), lengths)]
