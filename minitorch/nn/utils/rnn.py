"""Sequence helpers for recurrent models: pad_sequence.

Packed sequences (pack_padded_sequence) are not supported yet: pad the batch and pass the
lengths to your own masking instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...functional import cat, full, stack
from ...tensor import Tensor

__all__ = ["pad_sequence"]


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
