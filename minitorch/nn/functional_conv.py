"""nn.functional: convolution, pooling, padding, interpolation and attention.

Each function normalizes PyTorch's argument forms (ints or tuples, 'same'/'valid', unbatched
inputs, 1-D variants) and calls one registered op from minitorch/ops/conv.py, or composes ops
(interpolate, scaled_dot_product_attention, multi_head_attention_forward).
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import warnings

import numpy as np

from .. import dtypes
from ..autograd.grad_mode import state as grad_state
from ..functional import cat, zeros
from ..ops import conv as C
from ..ops.registry import apply
from ..tensor import Tensor, wrap

__all__ = [
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "unfold",
    "fold",
    "max_pool1d",
    "max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "pixel_shuffle",
    "pixel_unshuffle",
    "channel_shuffle",
    "pad",
    "interpolate",
    "upsample",
    "affine_grid",
    "grid_sample",
    "scaled_dot_product_attention",
    "multi_head_attention_forward",
]


# ---- argument helpers ---------------------------------------------------------------------------
def _ntuple(value, n: int, name: str) -> tuple:
    """An int becomes (v,) * n; a sequence of length n becomes a tuple of ints."""
    if isinstance(value, (tuple, list)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n:
            raise RuntimeError(
                f"expected {name} to be a single integer value or a list of {n} "
                f"values to match the convolution dimensions, but got {name}="
                f"{list(value)}"
            )
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _batched(input: Tensor, spatial: int, op: str):
    """(input with a batch dim, whether one was added): 'unbatched' inputs get one."""
    if input.ndim == spatial + 2:
        return input, False
    if input.ndim == spatial + 1:
        return input.unsqueeze(0), True
    raise RuntimeError(
        f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input to {op}, but got "
        f"input of size: {list(input.shape)}"
    )


def _lift(value, neutral: int, name: str) -> tuple:
    """A 1-D parameter as the 2-D one of a height-1 image: (neutral, value)."""
    return (neutral,) + _ntuple(value, 1, name)


def _stride_or_kernel(stride, kernel_size):
    """Pooling's stride defaults to the kernel size (None or an empty list)."""
    return (
        kernel_size
        if stride is None or (isinstance(stride, (tuple, list)) and not stride)
        else stride
    )


def _height_1(input: Tensor, op: str) -> Tensor:
    """A 1-D op's (N, C, L) or (C, L) input as a height-1 image for its 2-D form.

    The 1-D ops run as their 2-D forms, so the tracer sees one 2-D node.
    """
    _batched(input, 1, op)
    return input.unsqueeze(-2)


def _window2d(kernel_size, dilation, padding, stride) -> dict:
    """unfold/fold's window arguments as 2-tuples (keywords of the registered op)."""
    return dict(
        kernel_size=_ntuple(kernel_size, 2, "kernel_size"),
        dilation=_ntuple(dilation, 2, "dilation"),
        padding=_ntuple(padding, 2, "padding"),
        stride=_ntuple(stride, 2, "stride"),
    )


def _pool_window2d(kernel_size, stride, padding) -> dict:
    """A 2-D pooling op's kernel_size, stride (default: the kernel) and padding as 2-tuples."""
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    return dict(
        kernel_size=kernel,
        stride=_ntuple(_stride_or_kernel(stride, kernel), 2, "stride"),
        padding=_ntuple(padding, 2, "padding"),
    )


def _pool_window1d(kernel_size, stride, padding) -> tuple:
    """A 1-D pooling op's kernel_size, stride and padding, lifted to the 2-D op's."""
    return (
        _lift(kernel_size, 1, "kernel_size"),
        _lift(_stride_or_kernel(stride, kernel_size), 1, "stride"),
        _lift(padding, 0, "padding"),
    )


def _conv_padding(padding, kernel, dilation, stride, n: int, op: str) -> tuple:
    """(top, bottom, left, right) from an int, a tuple, 'valid' or 'same'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * (2 * n)
        if padding != "same":
            raise ValueError(
                f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
            )
        if any(s != 1 for s in stride):
            raise RuntimeError(f"{op}: padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]  # the odd extra goes right/bottom
        return tuple(pads)
    p = _ntuple(padding, n, "padding")
    return tuple(v for v in p for _ in range(2))


# ---- convolution --------------------------------------------------------------------------------
def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation) over (N, C_in, H, W) or (C_in, H, W) input.

    Args:
        weight: (C_out, C_in / groups, kH, kW); bias: (C_out,) or None.
        padding: int, (pH, pW), 'valid' or 'same' (stride 1 only).

    Shape:
        output (N, C_out, H_out, W_out), H_out = floor((H + 2p - d (k - 1) - 1) / s) + 1.

    Example:
        >>> import minitorch
        >>> x = minitorch.ones(1, 1, 4, 4)
        >>> conv2d(x, minitorch.ones(2, 1, 3, 3)).shape
        minitorch.Size([1, 2, 2, 2])
    """
    x, added = _batched(input, 2, "conv2d")
    if weight.ndim != 4:
        raise RuntimeError(
            f"conv2d: Expected 4-dimensional weight for 4-dimensional input {list(x.shape)}, "
            f"but got {weight.ndim}-dimensional weight of size {list(weight.shape)} instead"
        )
    stride = _ntuple(stride, 2, "stride")
    dilation = _ntuple(dilation, 2, "dilation")
    pads = _conv_padding(padding, weight.shape[2:], dilation, stride, 2, "conv2d")
    out, _ = apply(
        C.conv2d,
        x,
        weight,
        bias,
        stride=stride,
        padding=pads,
        dilation=dilation,
        groups=int(groups),
    )
    return out.squeeze(0) if added else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution over (N, C_in, L) or (C_in, L) input; weight (C_out, C_in/groups, k).

    Runs as conv2d over a height-1 image (the tracer sees one conv2d node).
    """
    x = _height_1(input, "conv1d")
    if weight.ndim != 3:
        raise RuntimeError(
            f"conv1d: Expected 3-dimensional weight for 3-dimensional input {list(input.shape)}, "
            f"but got {weight.ndim}-dimensional weight of size {list(weight.shape)} instead"
        )
    pads = padding if isinstance(padding, str) else _lift(padding, 0, "padding")
    stride, dilation = _lift(stride, 1, "stride"), _lift(dilation, 1, "dilation")
    return conv2d(x, weight.unsqueeze(-2), bias, stride, pads, dilation, groups).squeeze(-2)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed 2-D convolution (the gradient of conv2d in its input).

    Args:
        weight: (C_in, C_out / groups, kH, kW).
        output_padding: extra size added to one side of the output (< stride or dilation).

    Shape:
        H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1.
    """
    x, added = _batched(input, 2, "conv_transpose2d")
    if weight.ndim != 4:
        raise RuntimeError(
            f"conv_transpose2d: Expected 4-dimensional weight, but got weight of size "
            f"{list(weight.shape)}"
        )
    stride, dilation = _ntuple(stride, 2, "stride"), _ntuple(dilation, 2, "dilation")
    padding = _ntuple(padding, 2, "padding")
    output_padding = _ntuple(output_padding, 2, "output_padding")
    for extra, s, d in zip(output_padding, stride, dilation):
        if extra >= s and extra >= d:
            raise RuntimeError(
                f"conv_transpose2d: output padding must be smaller than either stride or "
                f"dilation, but got output_padding={output_padding}, stride={stride}, "
                f"dilation={dilation}"
            )
    size = tuple(
        (h - 1) * s - 2 * p + d * (k - 1) + o + 1
        for h, s, p, d, k, o in zip(
            x.shape[2:], stride, padding, dilation, weight.shape[2:], output_padding
        )
    )
    out = apply(
        C.conv_transpose2d,
        x,
        weight,
        bias,
        stride=stride,
        padding=tuple(v for v in padding for _ in range(2)),
        dilation=dilation,
        groups=int(groups),
        output_size=size,
    )
    return out.squeeze(0) if added else out


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups: int = 1,
    dilation=1,
) -> Tensor:
    """Transposed 1-D convolution; weight (C_in, C_out / groups, k) (2-D on height 1)."""
    out = conv_transpose2d(
        _height_1(input, "conv_transpose1d"),
        weight.unsqueeze(-2),
        bias,
        _lift(stride, 1, "stride"),
        _lift(padding, 0, "padding"),
        _lift(output_padding, 0, "output_padding"),
        groups,
        _lift(dilation, 1, "dilation"),
    )
    return out.squeeze(-2)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks: (N, C, H, W) -> (N, C * kH * kW, L) (im2col)."""
    x, added = _batched(input, 2, "unfold")
    out = apply(C.unfold, x, **_window2d(kernel_size, dilation, padding, stride))
    return out.squeeze(0) if added else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding blocks back into an image: (N, C * kH * kW, L) -> (N, C, H, W) (col2im)."""
    x, added = (input, False) if input.ndim == 3 else (input.unsqueeze(0), True)
    out = apply(
        C.fold,
        x,
        output_size=_ntuple(output_size, 2, "output_size"),
        **_window2d(kernel_size, dilation, padding, stride),
    )
    return out.squeeze(0) if added else out


# ---- pooling ------------------------------------------------------------------------------------
def max_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """2-D max pooling; with return_indices also the flat (h * W + w) argmax of each window."""
    x, added = _batched(input, 2, "max_pool2d")
    out, idx = apply(
        C.max_pool2d,
        x,
        **_pool_window2d(kernel_size, stride, padding),
        dilation=_ntuple(dilation, 2, "dilation"),
        ceil_mode=bool(ceil_mode),
        indices=bool(return_indices or (grad_state.enabled and x.requires_grad)),
    )
    if added:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def max_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """1-D max pooling over (N, C, L) or (C, L) (as 2-D pooling of a height-1 image)."""
    out = max_pool2d(
        _height_1(input, "max_pool1d"),
        *_pool_window1d(kernel_size, stride, padding),
        _lift(dilation, 1, "dilation"),
        ceil_mode,
        return_indices,
    )
    return tuple(o.squeeze(-2) for o in out) if return_indices else out.squeeze(-2)


def avg_pool2d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override=None,
) -> Tensor:
    """2-D average pooling (PyTorch's divisor rules for padding and ceil_mode)."""
    x, added = _batched(input, 2, "avg_pool2d")
    out = apply(
        C.avg_pool2d,
        x,
        **_pool_window2d(kernel_size, stride, padding),
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )
    return out.squeeze(0) if added else out


def avg_pool1d(
    input: Tensor,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L)."""
    return avg_pool2d(
        _height_1(input, "avg_pool1d"),
        *_pool_window1d(kernel_size, stride, padding),
        ceil_mode,
        count_include_pad,
    ).squeeze(-2)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (None in output_size keeps that input size)."""
    x, added = _batched(input, 2, "adaptive_avg_pool2d")
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    size = tuple(int(x.shape[2 + i]) if s is None else int(s) for i, s in enumerate(size))
    out = apply(C.adaptive_avg_pool2d, x, output_size=size)
    return out.squeeze(0) if added else out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling over (N, C, L) or (C, L) to a fixed length."""
    x = _height_1(input, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(x, _lift(output_size, 1, "output_size")).squeeze(-2)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed output size; with return_indices also the flat (h * W + w)
    position of each maximum (the first one in row-major order, as PyTorch).

    Window i along a dim of size n covers [floor(i * n / out), ceil((i + 1) * n / out)).
    Composed of slices, max and gather (autograd and tracing come free): the max is taken
    over the window's columns first, then its rows, which keeps PyTorch's choice among ties.
    """
    x, added = _batched(input, 2, "adaptive_max_pool2d")
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    height, width = int(x.shape[2]), int(x.shape[3])
    out_h, out_w = (n if s is None else int(s) for s, n in zip(size, (height, width)))
    # NOTE: columns first: the row maxima of the window then pick the earliest row, and in it
    # the earliest column, i.e. PyTorch's first maximum in row-major order
    col_values, col_index = _window_max(x, width, out_w, dim=3)
    values, row_index = _window_max(col_values, height, out_h, dim=2)
    indices = row_index * width + col_index.gather(2, row_index)
    if added:
        values, indices = values.squeeze(0), indices.squeeze(0)
    return (values, indices) if return_indices else values


def _window_max(x: Tensor, size: int, out: int, dim: int) -> tuple[Tensor, Tensor]:
    """Max (and its position along dim) over each of the `out` adaptive windows of dim."""
    values, indices = [], []
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        best = x.narrow(dim, start, end - start).max(dim=dim, keepdim=True)
        values.append(best.values)
        indices.append(best.indices + start)
    if out == 1:
        return values[0], indices[0]
    return cat(values, dim), cat(indices, dim)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling over (N, C, L) or (C, L) to a fixed length (see adaptive_max_pool2d)."""
    x = _height_1(input, "adaptive_max_pool1d")
    out = adaptive_max_pool2d(x, _lift(output_size, 1, "output_size"), return_indices)
    return tuple(o.squeeze(-2) for o in out) if return_indices else out.squeeze(-2)


# ---- rearranging channels ------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r * r, H, W) -> (*, C, H * r, W * r): sub-pixel convolution's upsampling."""
    r = int(upscale_factor)
    *batch, channels, height, width = _image_shape(input, "pixel_shuffle")
    if r <= 0 or channels % (r * r):
        raise RuntimeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the "
            f"square of upscale_factor, but input.size(-3)={channels} is not divisible by {r * r}"
        )
    c, n = channels // (r * r), len(batch)
    x = input.reshape(*batch, c, r, r, height, width)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, c, H, r, W, r)
    return x.reshape(*batch, c, height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r * r, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    *batch, channels, height, width = _image_shape(input, "pixel_unshuffle")
    for name, dim, n in (("height", -2, height), ("width", -1, width)):
        if r <= 0 or n % r:
            raise RuntimeError(
                f"pixel_unshuffle expects {name} to be divisible by downscale_factor, but "
                f"input.size({dim})={n} is not divisible by {r}"
            )
    n = len(batch)
    x = input.reshape(*batch, channels, height // r, r, width // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return x.reshape(*batch, channels * r * r, height // r, width // r)


def _image_shape(input: Tensor, op: str) -> tuple:
    if input.ndim < 3:
        raise RuntimeError(
            f"{op} expects input to have at least 3 dimensions, but got input with "
            f"{input.ndim} dimension(s)"
        )
    return tuple(int(n) for n in input.shape)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, g * k, *) -> channels reordered as (N, k, g, *): ShuffleNet's mixing of groups."""
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError(
            f"Number of groups to divide channels in must be positive. Value of groups:{groups}"
        )
    if input.ndim < 3:
        raise RuntimeError(
            f"channel_shuffle expects input with > 2 dims, but got input with sizes "
            f"{list(input.shape)}"
        )
    batch, channels, *rest = (int(n) for n in input.shape)
    if channels % groups:
        raise RuntimeError(
            "Number of channels must be divisible by groups. Got "
            f"{channels} channels and {groups} groups."
        )
    x = input.reshape(batch, groups, channels // groups, *rest).transpose(1, 2)
    return x.reshape(batch, channels, *rest)


# ---- padding ------------------------------------------------------------------------------------
def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last len(pad) // 2 dims; pad lists (left, right) pairs from the last dim back.

    mode: 'constant' (negative pads crop), 'reflect', 'replicate' or 'circular'.
    """
    pads = tuple(int(p) for p in pad)
    if mode == "constant":
        return apply(C.constant_pad_nd, input, pad=pads, value=0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(
            f"pad: unsupported mode {mode!r}; use 'constant', 'reflect', 'replicate' or 'circular'"
        )
    if value is not None and value != 0:
        raise ValueError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if len(pads) % 2 or len(pads) // 2 > input.ndim - 1:
        raise NotImplementedError(
            f"pad: mode {mode!r} pads at most input.dim() - 1 dims; got pad={pads} for input "
            f"of size {list(input.shape)}"
        )
    out, copied = input, False
    for k in range(len(pads) // 2):
        d = input.ndim - 1 - k
        runs = _runs(_pad_index(input.shape[d], pads[2 * k], pads[2 * k + 1], mode, d, input))
        if runs == [slice(0, input.shape[d])]:
            continue  # neither padded nor cropped along d
        pieces = [out[(slice(None),) * d + (run,)] for run in runs]
        out = cat(pieces, dim=d) if len(pieces) > 1 else pieces[0]  # one piece: a crop (a view)
        copied = copied or len(pieces) > 1
    return out if copied else out.clone()  # a new tensor, as PyTorch's, never a view of input


def _runs(index: np.ndarray) -> list[slice]:
    """index (increasing by one within runs) as the slices of its runs: a padded dim is then
    slices of the input (views) joined by one cat. Views and cat run on every device with no
    index array to upload, and their gradients are basic-index adds (no np.add.at)."""
    if len(index) == 0:
        return [slice(0, 0)]
    breaks = np.flatnonzero(np.diff(index) != 1) + 1
    bounds = zip(np.r_[0, breaks], np.r_[breaks, len(index)])
    return [slice(int(index[a]), int(index[b - 1]) + 1) for a, b in bounds]


def _pad_index(size: int, lo: int, hi: int, mode: str, dim: int, input: Tensor) -> np.ndarray:
    """Source positions of a padded dim of `size` (reflect excludes the edge, like PyTorch)."""
    if mode == "reflect" and (lo >= size or hi >= size):
        raise RuntimeError(
            f"pad: Argument #4: Padding size should be less than the corresponding input "
            f"dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
            f"{list(input.shape)}"
        )
    if mode == "circular" and (lo > size or hi > size):
        raise RuntimeError(
            f"pad: Padding value causes wrapping around more than once (padding ({lo}, {hi}) at "
            f"dimension {dim} of input {list(input.shape)})"
        )
    if mode == "replicate" and size == 0:
        raise RuntimeError(f"pad: cannot replicate-pad an empty dimension {dim}")
    pos = np.arange(-lo, size + hi)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    if mode == "circular":
        return pos % size
    pos = np.abs(pos)
    return (size - 1) - np.abs((size - 1) - pos)


# ---- interpolation ------------------------------------------------------------------------------
def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias: bool = False,
):
    """Resize the spatial dims of (N, C, L) or (N, C, H, W) input.

    mode: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear' or 'bicubic' (4-D), or 'area'.
    Linear and cubic modes are products with constant interpolation matrices (A_h @ x @ A_w^T),
    so they are exact adjoints and differentiable to any order.
    """
    spatial = input.ndim - 2
    if spatial not in (1, 2):
        raise NotImplementedError(
            f"interpolate: input must be 3-D or 4-D (got {input.ndim}-D); 5-D is not supported"
        )
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic", "trilinear"):
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    in_sizes = tuple(input.shape[2:])
    out_sizes, scales = _resize_sizes(in_sizes, size, scale_factor, recompute_scale_factor)
    if mode in ("nearest", "nearest-exact"):
        idx = [
            _nearest_index(i, o, s, mode == "nearest-exact")
            for i, o, s in zip(in_sizes, out_sizes, scales)
        ]
        return input[(slice(None), slice(None)) + tuple(np.ix_(*idx))]
    if mode == "area":
        if spatial == 1:
            return adaptive_avg_pool1d(input, out_sizes)
        return adaptive_avg_pool2d(input, out_sizes)
    expected = {"linear": 1, "bilinear": 2, "bicubic": 2}.get(mode)
    if expected is None:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported")
    if expected != spatial:
        raise NotImplementedError(
            f"Got {input.ndim}D input, but {mode} mode needs {expected + 2}D input"
        )
    matrix = _cubic_matrix if mode == "bicubic" else _linear_matrix
    out = input
    for k, (i, o, s) in enumerate(zip(in_sizes, out_sizes, scales)):
        m = wrap(matrix(i, o, s, bool(align_corners)).astype(input.dtype.np), input.dtype)
        out = out.matmul(m.t()) if k == spatial - 1 else m.matmul(out)
    return out


def upsample(
    input: Tensor, size=None, scale_factor=None, mode: str = "nearest", align_corners=None
) -> Tensor:
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def _resize_sizes(in_sizes, size, scale_factor, recompute):
    """Output sizes, and the scale (in / out) the source-index formulas use (None = sizes)."""
    n = len(in_sizes)
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        out = _ntuple(size, n, "size")
        return out, (None,) * n
    factors = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    if len(factors) != n:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial "
            f"dimensions, but got input with spatial dimensions of {list(in_sizes)}"
            f" and scale_factor of shape {list(factors)}."
        )
    out = tuple(int(math.floor(float(s) * float(f))) for s, f in zip(in_sizes, factors))
    if recompute:
        return out, (None,) * n
    return out, tuple(1.0 / float(f) for f in factors)


def _nearest_index(in_size, out_size, scale, exact) -> np.ndarray:
    # NOTE: float32 arithmetic like PyTorch's CPU kernel, so rounding at the edges agrees.
    s = np.float32(in_size / out_size if scale is None else scale)
    dst = np.arange(out_size, dtype=np.float32)
    src = np.floor(((dst + np.float32(0.5)) if exact else dst) * s).astype(np.int64)
    return np.minimum(src, in_size - 1)


def _source_index(in_size, out_size, scale, align_corners) -> np.ndarray:
    """Where each output position samples the input (PyTorch's area_pixel_compute_source_index,
    before its clamp at 0, which the linear modes apply and the cubic one does not)."""
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        return dst * ((in_size - 1) / (out_size - 1) if out_size > 1 else 0.0)
    s = in_size / out_size if scale is None else scale
    return s * (dst + 0.5) - 0.5


def _matrix_of(in_size, out_size, taps, weights) -> np.ndarray:
    """A (out, in) adding weights[o, k] at input index taps[o, k] (clamped into the input)."""
    a = np.zeros((out_size, in_size), np.float64)
    rows = np.repeat(np.arange(out_size), taps.shape[1])
    np.add.at(a, (rows, np.clip(taps, 0, in_size - 1).ravel()), weights.ravel())
    return a


def _linear_matrix(in_size, out_size, scale, align_corners) -> np.ndarray:
    """A (out, in) with out = A @ x the 1-D linear interpolation of PyTorch's index rule."""
    src = _source_index(in_size, out_size, scale, align_corners)
    if not align_corners:
        src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = src - i0
    taps = np.stack([i0, np.minimum(i0 + 1, in_size - 1)], axis=1)
    return _matrix_of(in_size, out_size, taps, np.stack([1.0 - w1, w1], axis=1))


_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) cubic convolution coefficient


def _cubic_near(d):
    """Keys' cubic convolution weight of a tap at distance d <= 1 (numpy arrays or tensors)."""
    return ((_CUBIC_A + 2) * d - (_CUBIC_A + 3)) * d * d + 1


def _cubic_far(d):
    """The weight of a tap at distance 1 < d < 2."""
    a = _CUBIC_A
    return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a


def _cubic_matrix(in_size, out_size, scale, align_corners) -> np.ndarray:
    """A (out, in) of 1-D cubic convolution (Keys, a = -0.75) over the 4 inputs around each
    source position, indices past an edge reading the edge (PyTorch's bicubic)."""
    src = _source_index(in_size, out_size, scale, align_corners)
    i0 = np.floor(src)
    t = (src - i0)[:, None]
    distance = np.abs(t - np.arange(-1, 3))  # to the taps at i0 - 1 .. i0 + 2
    weights = np.where(distance <= 1, _cubic_near(distance), _cubic_far(distance))
    taps = i0.astype(np.int64)[:, None] + np.arange(-1, 3)
    return _matrix_of(in_size, out_size, taps, weights)


# ---- spatial transformers -----------------------------------------------------------------------
def affine_grid(theta: Tensor, size, align_corners=None) -> Tensor:
    """Sampling grid (N, H, W, 2) of the 2-D affine maps theta (N, 2, 3) for an output of size
    (N, C, H, W), or (N, D, H, W, 3) of theta (N, 3, 4) for (N, C, D, H, W): the (x, y[, z], 1)
    coordinates of each output pixel in [-1, 1], times theta^T."""
    align_corners = _default_align_corners(align_corners)
    size = tuple(int(s) for s in size)
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) not in (4, 5):
        raise NotImplementedError(
            "affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {list(size)}."
        )
    k = len(size) - 2  # spatial dims
    if theta.ndim != 3 or tuple(theta.shape[1:]) != (k, k + 1):
        raise ValueError(
            f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for size "
            f"{list(size)}. Got {list(theta.shape)}."
        )
    if theta.shape[0] != size[0]:  # a RuntimeError, as PyTorch's (from its bmm)
        raise RuntimeError(
            f"affine_grid: theta holds {theta.shape[0]} matrices but size {list(size)} asks "
            f"for a batch of {size[0]}; pass size=(theta.shape[0], C, ...)"
        )
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    if align_corners and min(size[2:]) == 1:
        warnings.warn(
            "Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
            "align_corners=True. This is not an intended use case of affine_grid. See the "
            "documentation of affine_grid for details.",
            stacklevel=2,
        )
    axes = [_grid_axis(n, align_corners) for n in size[2:]]
    coords = list(np.meshgrid(*axes, indexing="ij"))[::-1]  # x (the last dim) first
    base = np.stack(coords + [np.ones_like(coords[0])], axis=-1).reshape(1, -1, k + 1)
    base = wrap(base.astype(theta.dtype.np), theta.dtype).to(theta.device)
    return base.matmul(theta.transpose(1, 2)).reshape(size[0], *size[2:], k)


def _grid_axis(n: int, align_corners: bool) -> np.ndarray:
    """The n pixel positions along one dim in [-1, 1]: their centres, or corners if aligned."""
    if n == 1:
        return np.zeros(1)
    axis = np.linspace(-1.0, 1.0, n)
    return axis if align_corners else axis * (n - 1) / n


def _default_align_corners(align_corners) -> bool:
    if align_corners is None:
        warnings.warn(
            "Default grid_sample and affine_grid behavior has changed to align_corners=False "
            "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
            "See the documentation of grid_sample for details.",
            stacklevel=3,
        )
    return bool(align_corners)


def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners=None,
) -> Tensor:
    """Sample (N, C, H_in, W_in) input at the (x, y) points of grid (N, H_out, W_out, 2) in
    [-1, 1] (x along W), giving (N, C, H_out, W_out); or (N, C, D_in, H_in, W_in) input at the
    (x, y, z) points of grid (N, D_out, H_out, W_out, 3) (z along D), giving (N, C, D_out, H_out,
    W_out): trilinear ("bilinear") or nearest, no bicubic (as PyTorch).

    Composed from differentiable ops: the grid is unnormalised to pixel coordinates, padded
    (border: clipped; reflection: reflected, then clipped), and the corners around each point
    are gathered from the flattened image, corners outside the image reading zero. Gradients
    reach input (through gather) and grid (through the interpolation weights), as PyTorch's.
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(
            "nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or "
            f"'bicubic', but got: '{mode}'"
        )
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(
            "nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
            f"'reflection', but got: '{padding_mode}'"
        )
    align_corners = _default_align_corners(align_corners)
    _check_grid_sample(input, grid, mode)
    n, c, *spatial = (int(s) for s in input.shape)
    sizes = spatial[::-1]  # (W, H[, D]): the order of the grid's (x, y[, z])
    flat = input.reshape(n, c, math.prod(spatial))
    coords = [
        _source_coordinate(grid[..., i], size, padding_mode, align_corners, mode)
        for i, size in enumerate(sizes)
    ]
    if mode == "nearest":
        # round() passes a zero gradient: weighting by 1 built from it gives grid a zero
        # gradient (not None), as PyTorch's nearest mode does
        coords = [x.round() for x in coords]
        return _corner(flat, coords, coords[0] - coords[0] + 1, sizes)
    floors = [x.floor() for x in coords]
    fractions = [x - x0 for x, x0 in zip(coords, floors)]
    if mode == "bilinear":
        weights = [[1 - t, t] for t in fractions]
    else:
        weights = [_cubic_weights(t) for t in fractions]
    first = 0 if mode == "bilinear" else -1  # the taps start at x0, or x0 - 1 for bicubic
    taps = [
        [_tap(x0 + (first + i), size, mode, padding_mode, align_corners) for i in range(len(w))]
        for x0, size, w in zip(floors, sizes, weights)
    ]
    # the corners with z outermost, then y, x innermost (PyTorch's order of the sum)
    terms = []
    for corner in itertools.product(*[range(len(w)) for w in weights[::-1]]):
        corner = corner[::-1]  # (x tap, y tap[, z tap])
        at = [axis[i] for axis, i in zip(taps, corner)]
        weight = functools.reduce(operator.mul, [axis[i] for axis, i in zip(weights, corner)])
        terms.append(_corner(flat, at, weight, sizes))
    return sum(terms[1:], terms[0])


def _tap(coord: Tensor, size: int, mode: str, padding_mode: str, align_corners) -> Tensor:
    """An integer tap position: bilinear's lie around an already padded point, bicubic's are
    padded one by one (PyTorch's get_value_bounded)."""
    if mode == "bilinear":
        return coord
    return _pad_coordinate(coord, size, padding_mode, align_corners)


def _check_grid_sample(input: Tensor, grid: Tensor, mode: str) -> None:
    """PyTorch's grid_sampler checks (its messages), and ours for what is not supported."""
    shapes = f"input with sizes {list(input.shape)} and grid with sizes {list(grid.shape)}"
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise RuntimeError(
            "grid_sampler(): expected 4D or 5D input and grid with same number of "
            f"dimensions, but got {shapes}"
        )
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(
            f"grid_sampler(): expected grid and input to have same batch size, but got {shapes}"
        )
    if grid.shape[-1] != input.ndim - 2:
        raise RuntimeError(
            f"grid_sampler(): expected grid to have size {input.ndim - 2} in last dimension, "
            f"but got grid with sizes {list(grid.shape)}"
        )
    for d in range(2, input.ndim):
        if input.shape[d] == 0:
            raise RuntimeError(
                "grid_sampler(): expected input to have non-empty spatial dimensions, but "
                f"input has sizes {list(input.shape)} with dimension {d} being empty"
            )
    if input.dtype is not grid.dtype:
        raise RuntimeError(
            "grid_sampler(): expected input and grid to have same dtype, but input has "
            f"{input.dtype} and grid has {grid.dtype}"
        )
    if mode == "bicubic" and input.ndim == 5:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")


def _source_coordinate(coord: Tensor, size: int, padding_mode: str, align_corners, mode):
    """Grid coordinates in [-1, 1] as pixel positions in the input, padded as asked (bicubic
    pads its integer taps instead, see _tap)."""
    if align_corners:
        coord = (coord + 1) * ((size - 1) / 2)
    else:
        coord = (coord + 1) * (size / 2) - 0.5
    if mode == "bicubic":
        return coord
    return _pad_coordinate(coord, size, padding_mode, align_corners)


def _pad_coordinate(coord: Tensor, size: int, padding_mode: str, align_corners) -> Tensor:
    if padding_mode == "reflection":
        coord = _reflect(coord, size, align_corners)
    if padding_mode == "zeros":
        return coord
    # clip with strict comparisons: the clipped points (the edges too) get a zero gradient,
    # as PyTorch's clip_coordinates_set_grad
    return coord.where(coord > 0, 0.0).where(coord < size - 1, float(size - 1))


def _reflect(coord: Tensor, size: int, align_corners) -> Tensor:
    """Fold coordinates into [low, high] (the edge pixel centres, or the image borders when
    not align_corners) by reflecting at both ends repeatedly, as PyTorch's reflect_coordinates."""
    low, span = (0.0, size - 1.0) if align_corners else (-0.5, float(size))
    if span <= 0:
        return coord * 0
    d = coord - low
    d = d.where(d >= 0, -d)  # |d|, with gradient -1 left of low (PyTorch's choice at 0: +1)
    flips = (d / span).floor()
    extra = d - flips * span
    odd = flips - ((flips / 2).floor() * 2) != 0
    return (span - extra).where(odd, extra) + low


def _cubic_weights(t: Tensor) -> list:
    """Weights of the 4 taps at x0 - 1 .. x0 + 2 for a point t past x0 (PyTorch's cubic
    convolution, a = -0.75, as interpolate's bicubic)."""
    return [_cubic_far(t + 1), _cubic_near(t), _cubic_near(1 - t), _cubic_far(2 - t)]


def _corner(flat: Tensor, coords: list, weight: Tensor, sizes: list) -> Tensor:
    """weight * input[n, :, (z,) y, x] for integer-valued pixel positions coords = [x, y(, z)]
    (N, *out), sizes = [W, H(, D)], zero where the point lies outside the image: (N, C, *out)."""
    n, c = flat.shape[:2]
    inside = functools.reduce(
        operator.and_, [(x >= 0) & (x <= size - 1) for x, size in zip(coords, sizes)]
    )
    index, stride = None, 1
    for x, size in zip(coords, sizes):
        x = x.where(inside, 0.0).long() * stride  # (int: exact past 2**24)
        index = x if index is None else index + x
        stride *= size
    index = index.reshape(n, 1, -1).expand(n, c, -1)
    values = flat.gather(2, index).reshape(n, c, *coords[0].shape[1:])
    return (values * weight.unsqueeze(1)).where(inside.unsqueeze(1), 0.0)


# ---- attention ----------------------------------------------------------------------------------
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask=None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale=None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q @ k^T * scale + mask) @ v over (..., L, E) queries and (..., S, E) keys.

    attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to
    (..., L, S). is_causal masks keys after each query. dropout_p drops attention weights.
    """
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "scaled_dot_product_attention: Explicit attn_mask should not be set when is_causal=True"
        )
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        key, value = _repeat_heads(key, query.shape[-3]), _repeat_heads(value, query.shape[-3])
    e = query.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    scores = (query * scale).matmul(key.transpose(-2, -1))
    if is_causal:
        n_q, n_k = scores.shape[-2:]
        allowed = np.tril(np.ones((n_q, n_k), dtype=bool))
        attn_mask = wrap(allowed, dtypes.bool_).to(scores.device)
    if attn_mask is not None:
        scores = _add_mask(scores, attn_mask, allow_true=True)
    attn = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        attn = _dropout(attn, dropout_p)
    return attn.matmul(value)


def _repeat_heads(x: Tensor, heads: int) -> Tensor:
    """(..., Hkv, S, E) -> (..., heads, S, E), each kv head repeated heads // Hkv times."""
    *lead, hkv, s, e = x.shape
    x = x.unsqueeze(-3).expand(*lead, hkv, heads // hkv, s, e)
    return x.reshape(*lead, heads, s, e)


def _add_mask(scores: Tensor, mask: Tensor, allow_true: bool) -> Tensor:
    """scores + mask (float) or scores masked to -inf (bool; allow_true: True means keep)."""
    if mask.dtype is dtypes.bool_:
        return scores.masked_fill(~mask if allow_true else mask, -math.inf)
    return scores + mask


def _dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    from . import functional as F  # noqa: PLC0415  (functional imports this module)

    return F.dropout(x, p=p, training=training)


def _linear(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    from . import functional as F  # noqa: PLC0415

    return F.linear(x, weight, bias)


def _float_mask(mask, name: str, dtype) -> Tensor | None:
    """PyTorch's _canonical_mask: bool True -> -inf, False -> 0; float masks unchanged."""
    if mask is None:
        return None
    if mask.dtype is dtypes.bool_:
        return zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, -math.inf)
    if not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias,
    training: bool = True,
    key_padding_mask=None,
    need_weights: bool = True,
    attn_mask=None,
    use_separate_proj_weight: bool = False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
):
    """The math of nn.MultiheadAttention on (L, N, E) / unbatched (L, E) inputs.

    Returns (output (L, N, E), weights (N, L, S) averaged over heads, or (N, heads, L, S),
    or None when need_weights is False).
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v")
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the "
            "Transformer module method `generate_square_subsequent_mask` to "
            "create this mask."
        )
    q, k, v = _in_projection(
        query,
        key,
        value,
        in_proj_weight,
        in_proj_bias,
        use_separate_proj_weight,
        q_proj_weight,
        k_proj_weight,
        v_proj_weight,
        embed_dim,
    )
    attn_mask = _float_mask(attn_mask, "attn_mask", q.dtype)
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", q.dtype)
    if attn_mask is not None:
        attn_mask = _check_attn_mask(attn_mask, tgt_len, key.shape[0], bsz * num_heads)
    if bias_k is not None and bias_v is not None:
        from ..functional import cat  # noqa: PLC0415

        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        k = pad(k, (0, 0, 0, 1))
        v = pad(v, (0, 0, 0, 1))
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(
                f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                f"got {tuple(key_padding_mask.shape)}"
            )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    scores = (q * (1.0 / math.sqrt(head_dim))).matmul(k.transpose(-2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    attn = scores.softmax(dim=-1)
    if dropout_p > 0.0 and training:
        attn = _dropout(attn, dropout_p)
    out = attn.matmul(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = _linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    weights = None
    if need_weights:
        weights = attn.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = weights.squeeze(0)
    if not batched:
        out = out.squeeze(1)
    return out, weights


def _in_projection(query, key, value, w, b, separate, w_q, w_k, w_v, embed_dim):
    """q, k, v projections: one matmul when query, key and value are the same tensor."""
    if not separate:
        if query is key and key is value:
            qkv = _linear(query, w, b)
            return qkv.chunk(3, dim=-1)
        w_q, w_k, w_v = w.chunk(3)
    bq = bk = bv = None
    if b is not None:
        bq, bk, bv = b.chunk(3)
    return _linear(query, w_q, bq), _linear(key, w_k, bk), _linear(value, w_v, bv)


def _check_attn_mask(mask: Tensor, tgt_len: int, src_len: int, batch_heads: int) -> Tensor:
    if mask.ndim == 2:
        if tuple(mask.shape) != (tgt_len, src_len):
            raise RuntimeError(
                f"The shape of the 2D attn_mask is {tuple(mask.shape)}, but "
                f"should be {(tgt_len, src_len)}."
            )
        return mask.unsqueeze(0)
    if mask.ndim == 3:
        if tuple(mask.shape) != (batch_heads, tgt_len, src_len):
            raise RuntimeError(
                f"The shape of the 3D attn_mask is {tuple(mask.shape)}, but "
                f"should be {(batch_heads, tgt_len, src_len)}."
            )
        return mask
    raise RuntimeError(f"attn_mask's dimension {mask.ndim} is not supported")
