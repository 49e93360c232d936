"""Convolution, pooling and padding ops (registry entries; kernels in kernels/cpu/conv.py).

conv2d is one op (so the tracer sees one node): im2col + one BLAS product per group. Its
gradients are two more ops, and the three are closed under differentiation:

    conv2d(x, w)            out = W @ im2col(x)
    conv_transpose2d(g, w)  out = col2im(W^T @ g)           d conv2d / dx   (adjoint in x)
    conv2d_weight(x, g)     dW  = (im2col(x) @ g^T)^T       d conv2d / dw   (adjoint in w)

All spatial parameters arrive normalized by nn/functional_conv.py: stride, dilation
(sh, sw); padding (top, bottom, left, right), so 'same' with an even kernel needs no copy.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import dtypes
from ..kernels.cpu import blas
from ..kernels.cpu import conv as K
from .registry import Meta, Op, apply, into, keeping_workspace, register


def _list(shape) -> list:
    return list(shape)


def conv_out_size(size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> int:
    """floor((size + pads - dilation * (kernel - 1) - 1) / stride) + 1."""
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _check_same_dtype(op, x, w, b):
    if x.dtype is not w.dtype:
        raise RuntimeError(
            f"{op}: Input type ({x.dtype.name}) and weight type ({w.dtype.name}) should be the "
            f"same; convert one with .to({w.dtype})"
        )
    if b is not None and b.dtype is not x.dtype:
        raise RuntimeError(
            f"{op}: Input type ({x.dtype.name}) and bias type ({b.dtype.name}) should be the same"
        )
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {x.dtype}")


def _check_geometry(op, x, w, groups, channels_dim_name="input"):
    if x.ndim != 4:
        raise RuntimeError(
            f"{op}: Expected 3D (unbatched) or 4D (batched) input, but got input of size: "
            f"{_list(x.shape)}"
        )
    if w.ndim != 4:
        raise RuntimeError(
            f"{op}: Expected 4-dimensional weight for 4-dimensional input {_list(x.shape)}, but "
            f"got {w.ndim}-dimensional weight of size {_list(w.shape)} instead"
        )
    if groups < 1:
        raise RuntimeError(f"{op}: non-positive groups is not supported (groups={groups})")


def _check_params(op, stride, padding, dilation):
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{op}: non-positive stride is not supported (stride={stride})")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{op}: dilation should be greater than zero (dilation={dilation})")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"{op}: negative padding is not supported (padding={padding})")


def check_groups(op, x, w, groups) -> None:
    """PyTorch's checks that `groups` divides the weight's output channels and that x has
    the weight's input channels times groups (any number of spatial dims)."""
    if w.shape[0] % groups:
        raise RuntimeError(
            f"{op}: Given groups={groups}, expected weight to be divisible by {groups} "
            f"at dimension 0, but got weight of size {_list(w.shape)} instead"
        )
    if x.shape[1] != w.shape[1] * groups:
        raise RuntimeError(
            f"{op}: Given groups={groups}, weight of size {_list(w.shape)}, expected "
            f"input{_list(x.shape)} to have {w.shape[1] * groups} channels, but got "
            f"{x.shape[1]} channels instead"
        )


def check_kernel_fits(op, sizes, padding, kernel, dilation) -> None:
    """PyTorch's check that each dilated kernel dim fits its padded input dim (padding: a
    (before, after) pair per dim, flat)."""
    padded = [n + padding[2 * i] + padding[2 * i + 1] for i, n in enumerate(sizes)]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < k for p, k in zip(padded, eff)):
        raise RuntimeError(
            f"{op}: Calculated padded input size per channel: ({' x '.join(map(str, padded))})."
            f" Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
            "actual input size"
        )


def _conv_out_hw(op, x_hw, kernel, stride, padding, dilation):
    pt, pb, pl, pr = padding
    check_kernel_fits(op, x_hw, padding, kernel, dilation)
    return (
        conv_out_size(x_hw[0], pt + pb, kernel[0], stride[0], dilation[0]),
        conv_out_size(x_hw[1], pl + pr, kernel[1], stride[1], dilation[1]),
    )


# Stride-1 weight gradients with at most SHIFT_MAX_OUT_CHANNELS output channels per group run
# as shifted runs (kernels/cpu/conv.py) instead of im2col + GEMM: BLAS runs such skinny
# products far from its peak. NOTE: measured (us, shifted in register tiles vs im2col + GEMM,
# same process, alternating): 150 taps, 16 outputs (100x6x14x14): 956 vs 1395; 250 taps, 20
# (64x10x12x12): 1132 vs 1173; 144 taps, 32 (64x16x16x16): 1662 vs 4485; 800 taps, 32
# (32x32x16x16): 4016 vs 3968; 75 taps, 32: 3905 vs 13291; but 288 taps, 64 outputs: 9597 vs
# 7083.
SHIFT_MAX_OUT_CHANNELS = 32

# Stride-1 forward convolutions with at most this many output channels per group run as a direct
# kernel (kernels/cpu/conv.py direct_conv2d) instead of im2col + GEMM + a transposing copy.
# NOTE: same-process A/B, im2col path -> direct: LeNet/CIFAR's 5x5 convs (6-20 channels)
# 0.3-0.7x the time (benchmarks/conv.py); with 32 channels still 0.4-0.5x (16->32 3x3 on
# 64x16x16: 5.8 -> 1.4 ms; 32->32 5x5 on 32x16x16: 7.2 -> 3.0 ms); larger ones are unmeasured.
# The weight gradient then recomputes im2col; the traced lenet and cifar_cnn steps still got
# faster (suite: 5.17 -> 4.65 and 8.70 -> 7.62 ms).
DIRECT_MAX_OUT_CHANNELS = 32
DIRECT_T_MIN = 4  # conv_transpose2d's fewest outputs per group for the direct kernel


def _shifted(stride, out_ch: int, groups: int) -> bool:
    """Whether a weight gradient runs as shifted runs (see SHIFT_MAX_OUT_CHANNELS)."""
    return tuple(stride) == (1, 1) and out_ch // groups <= SHIFT_MAX_OUT_CHANNELS


def _direct(stride, out_ch: int, groups: int) -> bool:
    return tuple(stride) == (1, 1) and out_ch // groups <= DIRECT_MAX_OUT_CHANNELS


# conv2d keeps its im2col columns for the weight gradient when they hold at most this many
# elements (like PyTorch's former `finput`); larger ones are recomputed in backward.
KEEP_COLS_MAX = 1 << 24


class Conv2d(Op):
    """out[n, o] = bias[o] + sum_{c, i, j} w[o, c, i, j] * x_pad[n, g*C/G + c, y*s + i*d, ...].

    The second output holds the flattened im2col columns (or nothing when they are large):
    backward reads them instead of recomputing im2col for the weight gradient.
    """

    name = "conv2d"
    save = (0, 1)
    n_outputs = 2
    writes_out = True

    def infer(self, x, w, b=None, *, stride, padding, dilation, groups):
        _check_geometry(self.name, x, w, groups)
        _check_params(self.name, stride, padding, dilation)
        _check_same_dtype(self.name, x, w, b)
        out_ch = w.shape[0]
        check_groups(self.name, x, w, groups)
        if b is not None and (b.ndim != 1 or b.shape[0] != out_ch):
            raise RuntimeError(
                f"{self.name}: Given weight of size {_list(w.shape)}, expected bias to be "
                f"1-dimensional with {out_ch} elements, but got bias of size {_list(b.shape)} "
                "instead"
            )
        oh, ow = _conv_out_hw(self.name, x.shape[2:], w.shape[2:], stride, padding, dilation)
        n_cols = x.shape[1] * w.shape[2] * w.shape[3] * x.shape[0] * oh * ow
        keep = n_cols <= KEEP_COLS_MAX and not _direct(stride, out_ch, groups)
        cols = (n_cols,) if keep else (0,)
        return Meta((x.shape[0], out_ch, oh, ow), x.dtype), Meta(cols, x.dtype)

    def forward(self, meta, x, w, b=None, *, stride, padding, dilation, groups, out=None):
        n, out_ch, oh, ow = meta[0].shape
        image, kept = (None, None) if out is None else out
        keep = meta[1].shape[0] > 0  # the columns go to the weight gradient (never if direct)
        if not keep and kept is None:
            kept = np.empty(0, x.dtype)
        if _direct(stride, out_ch, groups):
            return K.direct_conv2d(x, w, b, padding, dilation, groups, (oh, ow), image), kept
        into_cols = kept if keep else None
        cols = K.im2col(x, w.shape[2:], stride, padding[::2], dilation, (oh, ow), into_cols)
        prod = _group_matmul(w.reshape(groups, out_ch // groups, -1), cols, groups)
        # (O, N, L) -> (N, O, L); the bias add rides along with the transposing copy
        moved = prod.reshape(out_ch, n, oh * ow).transpose(1, 0, 2)
        shape = (n, out_ch, oh * ow)
        image = np.empty(shape, dtype=x.dtype) if image is None else image.reshape(shape)
        if b is not None:
            np.add(moved, b.reshape(1, out_ch, 1), out=image)
        else:
            image[...] = moved
        return image.reshape(meta[0].shape), cols.reshape(-1) if keep else kept

    def backward(self, ctx, grad):
        from ..tensor import wrap  # noqa: PLC0415

        x, w, b = _three(ctx.inputs)
        need = ctx.needs_input_grad + (False,) * 3
        p = ctx.params
        gx = gw = gb = None
        if need[0]:
            gx = apply(conv_transpose2d, grad, w, None, output_size=tuple(x.shape[2:]), **p)
        if need[1]:
            cols = ctx.saved[0] if ctx.saved and ctx.saved[0].size else None
            hint = None if cols is None else wrap(cols, grad.dtype)
            gw = apply(conv2d_weight, x, grad, hint, kernel_size=tuple(w.shape[2:]), **p)
        if b is not None and need[2]:
            gb = grad.sum(dim=(0, 2, 3))
        return gx, gw, gb


def _three(inputs):
    return tuple(inputs) + (None,) * (3 - len(inputs))


def _group_matmul(wm: np.ndarray, cols: np.ndarray, groups: int) -> np.ndarray:
    """(G, O/G, K/G) @ (G, K/G, N*L) for cols (K, N, L): one BLAS call per group."""
    return blas.matmul(wm, _cols_by_group(cols, groups))


def _grad_by_group(g: np.ndarray, groups: int) -> np.ndarray:
    """(N, O, OH, OW) -> (G, O/G, N*L) contiguous: the layout the weight-side GEMMs read."""
    n, out_ch = g.shape[:2]
    plane = g.shape[2] * g.shape[3]  # NOTE: explicit sizes, not -1: N may be 0
    moved = np.ascontiguousarray(g.reshape(n, out_ch, plane).transpose(1, 0, 2))
    return moved.reshape(groups, out_ch // groups, n * plane)


def _cols_by_group(cols: np.ndarray, groups: int) -> np.ndarray:
    """(K, N, L) -> (G, K/G, N*L)."""
    k, n, plane = cols.shape
    return cols.reshape(groups, k // groups, n * plane)


conv2d = register(Conv2d())


class ConvTranspose2d(Op):
    """The adjoint of conv2d in its input: out = col2im(W^T @ g) (+ bias), sized output_size.

    With stride 1 and at most DIRECT_MAX_OUT_CHANNELS outputs per group it is the direct
    kernel's correlation of g, padded by dilation*(k-1) - padding, with the flipped weights.
    NOTE: same-process A/B, col2im(W^T @ g) -> direct: LeNet's conv2 input gradient (64x20x8x8
    -> 10 channels) 1197 -> 804 us, CIFAR's (100x16x10x10 -> 6) 1569 -> 1149 us, though the
    correlation also multiplies the padding's zeros (2x the multiply-adds on CIFAR's); but
    into 1 channel (LeNet's conv1, 64x10x24x24) 805 -> 933 us: 3 of a tile's 4 rows are
    padding. Hence DIRECT_T_MIN (channel counts 2-3 are unmeasured).
    """

    name = "conv_transpose2d"
    save = (0, 1)
    writes_out = True

    def infer(self, g, w, b=None, *, stride, padding, dilation, groups, output_size):
        _check_geometry(self.name, g, w, groups)
        _check_params(self.name, stride, padding, dilation)
        _check_same_dtype(self.name, g, w, b)
        if g.shape[1] != w.shape[0]:
            raise RuntimeError(
                f"{self.name}: Given transposed=1, weight of size {_list(w.shape)}, expected "
                f"input{_list(g.shape)} to have {w.shape[0]} channels, but got {g.shape[1]} "
                "channels instead"
            )
        if w.shape[0] % groups:
            raise RuntimeError(
                f"{self.name}: Given groups={groups}, expected weight to be divisible by {groups} "
                f"at dimension 0, but got weight of size {_list(w.shape)} instead"
            )
        out_ch = w.shape[1] * groups
        if b is not None and (b.ndim != 1 or b.shape[0] != out_ch):
            raise RuntimeError(
                f"{self.name}: Given transposed=1, weight of size {_list(w.shape)}, expected bias "
                f"to be 1-dimensional with {out_ch} elements, but got bias of size "
                f"{_list(b.shape)} instead"
            )
        back = tuple(
            conv_out_size(s, pt + pb, k, st, d) if s + pt + pb >= d * (k - 1) + 1 else -1
            for s, pt, pb, k, st, d in zip(
                output_size, padding[::2], padding[1::2], w.shape[2:], stride, dilation
            )
        )
        if back != tuple(g.shape[2:]) or min(output_size) < 0:
            raise RuntimeError(
                f"{self.name}: output size {tuple(output_size)} is not reachable from input "
                f"{_list(g.shape)} with stride {stride}, padding {padding}, dilation {dilation} "
                f"and kernel {tuple(w.shape[2:])}"
            )
        return Meta((g.shape[0], out_ch) + tuple(output_size), g.dtype)

    def forward(
        self, meta, g, w, b=None, *, stride, padding, dilation, groups, output_size, out=None
    ):
        n, out_ch, h, wd = meta.shape
        in_ch = w.shape[0]
        kh, kw = w.shape[2:]
        full = (dilation[0] * (kh - 1),) * 2 + (dilation[1] * (kw - 1),) * 2
        pads = tuple(f - p for f, p in zip(full, padding))
        # NOTE: the correlation multiplies w by g's zero padding, so an inf in w would give
        # NaNs where PyTorch's col2im gives none: such weights (checking w is cheap) take col2im
        direct = _direct(stride, out_ch, groups) and out_ch // groups >= DIRECT_T_MIN
        if direct and min(pads) >= 0 and np.isfinite(w).all():
            return K.direct_conv2d(
                g, _correlation_weight(w, groups), b, pads, dilation, groups, (h, wd), out
            )
        wm = w.reshape(groups, in_ch // groups, -1).transpose(0, 2, 1)  # (G, K/G, O/G)
        cols = blas.matmul(wm, _grad_by_group(g, groups))  # (G, K/G, N*L)
        cols = cols.reshape(out_ch * kh * kw, n, g.shape[2] * g.shape[3])
        sizes = g.shape[2:]
        out = K.col2im(cols, meta.shape, (kh, kw), stride, padding[::2], dilation, sizes, out)
        if b is not None:
            out += b.reshape(1, out_ch, 1, 1)
        return out

    def backward(self, ctx, grad):
        g, w, b = _three(ctx.inputs)
        need = ctx.needs_input_grad + (False,) * 3
        p = {k: v for k, v in ctx.params.items() if k != "output_size"}
        gg = gw = gb = None
        if need[0]:
            gg = apply(conv2d, grad, w, None, **p)[0]
        if need[1]:
            gw = apply(conv2d_weight, grad, g, kernel_size=tuple(w.shape[2:]), **p)
        if b is not None and need[2]:
            gb = grad.sum(dim=(0, 2, 3))
        return gg, gw, gb


conv_transpose2d = register(ConvTranspose2d())


def _correlation_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """conv_transpose2d's weight (C_in, C_out/G, kh, kw) as the conv2d weight (C_out,
    C_in/G, kh, kw) of the same map with stride 1: each group's two channel axes swapped and
    the taps flipped (with the padding dilation*(k-1) - p)."""
    in_ch, og, kh, kw = w.shape
    by_group = w.reshape(groups, in_ch // groups, og, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(by_group[..., ::-1, ::-1]).reshape(groups * og, -1, kh, kw)


class Conv2dWeight(Op):
    """dW = g @ im2col(x)^T: conv2d's gradient in its weight (bilinear in x and g)."""

    name = "conv2d_weight"
    save = (0, 1)
    writes_out = True

    def infer(self, x, g, cols=None, *, kernel_size, stride, padding, dilation, groups):
        shape = (g.shape[1], x.shape[1] // groups) + tuple(kernel_size)
        return Meta(shape, x.dtype)

    def forward(
        self,
        meta,
        x,
        g,
        cols=None,
        *,
        kernel_size,
        stride,
        padding,
        dilation,
        groups,
        out=None,
        work=None,
    ):
        """cols, when given, is im2col(x) kept by the forward conv2d (saves recomputing it);
        work: scratch arrays kept between calls (keeping_workspace)."""
        # NOTE: the shifted kernel also multiplies x outside the windows by a zero gradient, so
        # an inf there makes NaNs in taps whose windows never see it. Any non-finite x it reads
        # makes some tap non-finite, so a non-finite result is redone by im2col, which spreads
        # inf/NaN exactly as PyTorch does (checking the result, not x: 60 us on CIFAR's conv1).
        if cols is None and _shifted(stride, g.shape[1], groups):
            dw = K.shifted_conv2d_weight(x, g, kernel_size, padding, dilation, groups, out, work)
            if np.isfinite(dw).all():
                return dw
        if cols is None:
            cols = K.im2col(x, kernel_size, stride, padding[::2], dilation, g.shape[2:])
        else:
            k = x.shape[1] * kernel_size[0] * kernel_size[1]
            cols = cols.reshape(k, x.shape[0], g.shape[2] * g.shape[3])
        # NOTE: dW^T = cols @ g^T, transposed after: OpenBLAS ran this orientation of the long,
        # skinny product 1.7-2.4x faster than g @ cols^T (LeNet's conv2: 0.42 vs 0.88 ms)
        g_t = _grad_by_group(g, groups).transpose(0, 2, 1)  # (G, N*L, O/G)
        dw_t = blas.matmul(_cols_by_group(cols, groups), g_t)  # (G, K/G, O/G)
        return into(out, np.ascontiguousarray(dw_t.transpose(0, 2, 1)).reshape(meta.shape))

    plan = keeping_workspace  # the replay keeps forward's scratch arrays between calls

    def backward(self, ctx, grad):
        x, g = ctx.inputs[:2]
        need = ctx.needs_input_grad
        p = {k: v for k, v in ctx.params.items() if k != "kernel_size"}
        gx = gg = None
        if need[0]:
            gx = apply(conv_transpose2d, g, grad, None, output_size=tuple(x.shape[2:]), **p)
        if need[1]:
            gg = apply(conv2d, x, grad, None, **p)[0]
        return gx, gg


conv2d_weight = register(Conv2dWeight())


# ---- unfold / fold ------------------------------------------------------------------------------
class Unfold(Op):
    """F.unfold: (N, C, H, W) -> (N, C*kh*kw, L) sliding blocks (im2col per sample)."""

    name = "im2col"

    def infer(self, x, *, kernel_size, dilation, padding, stride):
        if x.ndim != 4:
            raise RuntimeError(
                f"unfold: Expected 3D or 4D (batch mode) tensor for input with possibly 0 batch "
                f"size and non-zero dimensions, but got input of size {_list(x.shape)}"
            )
        _check_params("unfold", stride, padding, dilation)
        pads = (padding[0], padding[0], padding[1], padding[1])
        oh, ow = _conv_out_hw("unfold", x.shape[2:], kernel_size, stride, pads, dilation)
        return Meta((x.shape[0], x.shape[1] * kernel_size[0] * kernel_size[1], oh * ow), x.dtype)

    def forward(self, meta, x, *, kernel_size, dilation, padding, stride):
        h, w = x.shape[2:]
        out_hw = _block_grid((h, w), kernel_size, dilation, padding, stride)
        cols = K.im2col(np.ascontiguousarray(x), kernel_size, stride, padding, dilation, out_hw)
        return np.ascontiguousarray(cols.transpose(1, 0, 2))

    def backward(self, ctx, grad):
        x = ctx.inputs[0]
        return apply(fold, grad, output_size=tuple(x.shape[2:]), **ctx.params)


def _block_grid(hw, kernel_size, dilation, padding, stride):
    return tuple(
        conv_out_size(s, 2 * p, k, st, d)
        for s, k, d, p, st in zip(hw, kernel_size, dilation, padding, stride)
    )


unfold = register(Unfold())


class Fold(Op):
    """F.fold: (N, C*kh*kw, L) -> (N, C, H, W), summing overlapping blocks (col2im)."""

    name = "col2im"

    def infer(self, c, *, output_size, kernel_size, dilation, padding, stride):
        if c.ndim != 3:
            raise RuntimeError(
                f"fold: Expected 2D or 3D (batch mode) input tensor with possibly 0 batch size "
                f"and non-zero dimensions for input, but got: {_list(c.shape)}"
            )
        _check_params("fold", stride, padding, dilation)
        k = kernel_size[0] * kernel_size[1]
        if c.shape[1] % k:
            raise RuntimeError(
                f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                f"kernel_size, but got input.size(1)={c.shape[1]} and kernel_size={kernel_size}"
            )
        grid = _block_grid(output_size, kernel_size, dilation, padding, stride)
        if grid[0] * grid[1] != c.shape[2] or min(grid) < 1:
            raise RuntimeError(
                f"fold: Given output_size={tuple(output_size)}, kernel_size={kernel_size}, "
                f"dilation={dilation}, padding={padding}, stride={stride}, expected size of "
                f"input's dimension 2 to match the calculated number of sliding blocks "
                f"{grid[0]} * {grid[1]} = {grid[0] * grid[1]}, but got input.size(2)="
                f"{c.shape[2]}."
            )
        return Meta((c.shape[0], c.shape[1] // k) + tuple(output_size), c.dtype)

    def forward(self, meta, c, *, output_size, kernel_size, dilation, padding, stride):
        grid = _block_grid(output_size, kernel_size, dilation, padding, stride)
        return K.col2im(
            c.transpose(1, 0, 2), meta.shape, kernel_size, stride, padding, dilation, grid
        )

    def backward(self, ctx, grad):
        p = {k: v for k, v in ctx.params.items() if k != "output_size"}
        return apply(unfold, grad, **p)


fold = register(Fold())


# ---- max pooling --------------------------------------------------------------------------------
def pool_out_size(size, kernel, pad, stride, dilation, ceil_mode) -> int:
    """PyTorch's pooling_output_shape: with ceil_mode the last window must start in bounds."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def check_pool_window(op, kernel, stride, padding, dilation, verb="must") -> None:
    """PyTorch's checks of a pooling window (2-D pools say "must", 3-D ones "should"):
    positive sizes, and padding at most half the dilated kernel."""
    if min(stride) <= 0 or min(kernel) <= 0 or min(dilation) <= 0:
        raise RuntimeError(
            f"{op}: kernel_size, stride and dilation {verb} be greater than zero, but got "
            f"kernel_size={kernel}, stride={stride}, dilation={dilation}"
        )
    for p, k, d in zip(padding, kernel, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise RuntimeError(
                f"{op}: pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )


def _pool_out_hw(op, x, kernel, stride, padding, dilation, ceil_mode):
    if x.ndim != 4:
        raise RuntimeError(
            f"{op}: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
            f"input, but got: {_list(x.shape)}"
        )
    check_pool_window(op, kernel, stride, padding, dilation)
    out = tuple(
        pool_out_size(s, k, p, st, d, ceil_mode)
        for s, k, p, st, d in zip(x.shape[2:], kernel, padding, stride, dilation)
    )
    if min(out) < 1:
        raise RuntimeError(
            f"{op}: Given input size: ({x.shape[1]}x{x.shape[2]}x{x.shape[3]}). Calculated "
            f"output size: ({x.shape[1]}x{out[0]}x{out[1]}). Output size is too small"
        )
    return out


class MaxPool2d(Op):
    """(values, indices): max over each window; indices are flat h*W + w within the plane.

    With indices=False (no gradient and no return_indices wanted) the indices are an empty
    array and the common 2x2 pooling runs a kernel that computes none.
    """

    name = "max_pool2d"
    n_outputs = 2
    writes_out = True

    def infer(self, x, *, kernel_size, stride, padding, dilation, ceil_mode, indices=True):
        oh, ow = _pool_out_hw(self.name, x, kernel_size, stride, padding, dilation, ceil_mode)
        shape = (x.shape[0], x.shape[1], oh, ow)
        return Meta(shape, x.dtype), Meta(shape if indices else (0,), dtypes.int64)

    def forward(
        self, meta, x, *, kernel_size, stride, padding, dilation, ceil_mode, indices=True, out=None
    ):
        shape = meta[0].shape
        n, c, h, w = x.shape
        planes = np.ascontiguousarray(x).reshape(n * c, h, w)
        dest = (None, None)
        if out is not None:
            dest = (
                out[0].reshape(n * c, *shape[2:]),
                out[1].reshape(n * c, *shape[2:]) if indices else None,
            )
        values, idx = K.max_pool2d(
            planes, kernel_size, stride, padding, dilation, shape[2:], indices=indices, out=dest
        )
        if not indices:
            idx = np.empty(meta[1].shape, np.int64) if out is None else out[1]
        return values.reshape(shape), idx.reshape(meta[1].shape)

    def backward(self, ctx, grad):
        from ..tensor import wrap  # noqa: PLC0415

        x = ctx.inputs[0]
        idx = wrap(ctx.saved[0], dtypes.int64)
        return apply(max_pool2d_backward, grad, idx, input_size=tuple(x.shape[2:]))


max_pool2d = register(MaxPool2d())


class MaxPool2dBackward(Op):
    """out[n, c].flat[idx[n, c, k]] += grad[n, c].flat[k]: max pooling's input gradient."""

    name = "max_pool2d_backward"
    writes_out = True

    def infer(self, grad, idx, *, input_size):
        return Meta(tuple(grad.shape[:2]) + tuple(input_size), grad.dtype)

    def forward(self, meta, grad, idx, *, input_size, out=None):
        n, c = grad.shape[:2]
        size = input_size[0] * input_size[1]
        planes = (n * c, grad.shape[2] * grad.shape[3])
        g = np.ascontiguousarray(grad).reshape(planes)
        dest = None if out is None else out.reshape(n * c, size)
        out = K.plane_index_add(g, np.ascontiguousarray(idx).reshape(planes), size, dest)
        return out.reshape(meta.shape)

    def backward(self, ctx, grad):
        g, idx = ctx.inputs
        n, c = g.shape[:2]
        flat = grad.reshape(n, c, grad.shape[2] * grad.shape[3])
        picked = flat.gather(2, idx.reshape(n, c, g.shape[2] * g.shape[3]))
        return picked.reshape(g.shape), None


max_pool2d_backward = register(MaxPool2dBackward())


# ---- average pooling (plain and adaptive) as scaled window sums ------------------------------
@functools.lru_cache(maxsize=256)
def avg_windows(
    in_hw, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    """(hs, he, ws, we, scale) of avg_pool2d, with PyTorch's divisor rules."""
    out_hw = tuple(
        pool_out_size(s, k, p, st, 1, ceil_mode)
        for s, k, p, st in zip(in_hw, kernel_size, padding, stride)
    )
    rows, cols = (
        [K.avg_window.py_func(o, s, k, st, p) for o in range(n)]
        for s, k, st, p, n in zip(in_hw, kernel_size, stride, padding, out_hw)
    )
    return _window_arrays(rows, cols, count_include_pad, divisor_override or 0)


@functools.lru_cache(maxsize=256)
def adaptive_windows(in_hw, output_size):
    """(hs, he, ws, we, scale): window o covers [floor(o*in/out), ceil((o+1)*in/out))."""
    rows, cols = (
        [K.adaptive_window.py_func(o, s, n) for o in range(n)] for s, n in zip(in_hw, output_size)
    )
    return _window_arrays(rows, cols, False, 0)


def _window_arrays(rows, cols, count_include_pad, divisor_override):
    """The CPU kernels' arrays from per-dim (lo, hi, span) windows (kernels/cpu/conv.py's scalar
    functions, which the CUDA kernels call per element): bounds and the (oh, ow) scales."""
    scale = np.array(
        [
            [K.window_scale.py_func(r, c, count_include_pad, divisor_override) for c in cols]
            for r in rows
        ],
        dtype=np.float64,
    ).reshape(len(rows), len(cols))
    hs, he, ws, we = (
        np.array([w[k] for w in windows], dtype=np.int64)
        for windows in (rows, cols)
        for k in (0, 1)
    )
    return hs, he, ws, we, scale


class WindowPool(Op):
    """out[n, c, y, x] = scale[y, x] * sum of x[n, c] over window (y, x): average pooling."""

    def __init__(self, name, windows, check):
        self.name = name
        self.windows = windows
        self.check = check

    def infer(self, x, **params):
        out_hw = self.check(x, **params)
        return Meta(tuple(x.shape[:2]) + tuple(out_hw), x.dtype)

    def forward(self, meta, x, **params):
        n, c, h, w = x.shape
        hs, he, ws, we, scale = self.windows((h, w), **params)
        planes = np.ascontiguousarray(x).reshape(n * c, h, w)
        return K.window_sum(planes, hs, he, ws, we, scale).reshape(meta.shape)

    def backward(self, ctx, grad):
        x = ctx.inputs[0]
        return apply(self.spread, grad, input_size=tuple(x.shape[2:]), **ctx.params)


class WindowSpread(Op):
    """The adjoint of a WindowPool: each output gradient spreads scaled over its window."""

    def __init__(self, pool):
        self.name = pool.name + "_backward"
        self.pool = pool

    def infer(self, grad, *, input_size, **params):
        return Meta(tuple(grad.shape[:2]) + tuple(input_size), grad.dtype)

    def forward(self, meta, grad, *, input_size, **params):
        n, c = grad.shape[:2]
        hs, he, ws, we, scale = self.pool.windows(tuple(input_size), **params)
        g = np.ascontiguousarray(grad).reshape(n * c, *grad.shape[2:])
        return K.window_spread(g, input_size, hs, he, ws, we, scale).reshape(meta.shape)

    def backward(self, ctx, grad):
        p = {k: v for k, v in ctx.params.items() if k != "input_size"}
        return apply(self.pool, grad, **p)


def _check_avg(x, *, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor must be not zero")
    for p, k in zip(padding, kernel_size):
        if p > k // 2:
            raise RuntimeError(
                f"avg_pool2d: pad should be smaller than or equal to half of kernel size, but "
                f"got pad={p}, kernel_size={k}"
            )
    return _pool_out_hw("avg_pool2d", x, kernel_size, stride, padding, (1, 1), ceil_mode)


def _check_adaptive(x, *, output_size):
    if x.ndim != 4 or min(x.shape[2:], default=0) < 1:
        raise RuntimeError(
            f"adaptive_avg_pool2d(): Expected 3D or 4D tensor with non-zero spatial sizes, but "
            f"got input of size {_list(x.shape)}"
        )
    if min(output_size) < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: invalid output_size {tuple(output_size)}")
    return output_size


def _avg_windows_of(
    in_hw, *, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    return avg_windows(
        tuple(in_hw),
        tuple(kernel_size),
        tuple(stride),
        tuple(padding),
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def _adaptive_windows_of(in_hw, *, output_size):
    return adaptive_windows(tuple(in_hw), tuple(output_size))


avg_pool2d = register(WindowPool("avg_pool2d", _avg_windows_of, _check_avg))
adaptive_avg_pool2d = register(
    WindowPool("adaptive_avg_pool2d", _adaptive_windows_of, _check_adaptive)
)
for _pool in (avg_pool2d, adaptive_avg_pool2d):
    _pool.spread = register(WindowSpread(_pool))


# ---- constant padding ---------------------------------------------------------------------------
def pad_slices(in_shape: tuple, out_shape: tuple, pad: tuple) -> tuple:
    """(src, dst): constant_pad_nd copies x[src] into out[dst] (both devices use this)."""
    src, dst = [slice(None)] * len(in_shape), [slice(None)] * len(in_shape)
    for k in range(len(pad) // 2):
        d = len(in_shape) - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        src[d] = slice(max(-lo, 0), in_shape[d] - max(-hi, 0))
        dst[d] = slice(max(lo, 0), out_shape[d] - max(hi, 0))
    return tuple(src), tuple(dst)


class ConstantPad(Op):
    """F.pad(mode='constant'): pad (last dim first, PyTorch order); negative pads crop."""

    name = "constant_pad_nd"

    def infer(self, x, *, pad, value=0.0):
        if len(pad) % 2 or len(pad) // 2 > x.ndim:
            raise RuntimeError(
                f"pad: Padding length must be divisible by 2 and at most twice the number of "
                f"dimensions of the input; got pad={tuple(pad)} for input of size "
                f"{_list(x.shape)}"
            )
        shape = list(x.shape)
        for k in range(len(pad) // 2):
            d = x.ndim - 1 - k
            new = shape[d] + pad[2 * k] + pad[2 * k + 1]
            if new < 0:
                raise RuntimeError(
                    f"pad: The input size {shape[d]}, plus negative padding {pad[2 * k]} and "
                    f"{pad[2 * k + 1]} resulted in a negative output size, which is invalid. "
                    f"Check dimension {d} of your input."
                )
            if shape[d] - max(-pad[2 * k], 0) - max(-pad[2 * k + 1], 0) < 0:
                raise RuntimeError(  # PyTorch narrows x by the negative pads: same message
                    f"pad: narrow(): length must be non-negative (negative padding "
                    f"({pad[2 * k]}, {pad[2 * k + 1]}) crops more than the size {shape[d]} of "
                    f"dimension {d})."
                )
            shape[d] = new
        return Meta(tuple(shape), x.dtype)

    def forward(self, meta, x, *, pad, value=0.0):
        out = np.full(meta.shape, value, dtype=meta.dtype.np)
        src, dst = pad_slices(x.shape, meta.shape, pad)
        out[dst] = x[src]
        return out

    def backward(self, ctx, grad):
        return apply(self, grad, pad=tuple(-p for p in ctx.params["pad"]), value=0.0)


constant_pad_nd = register(ConstantPad())
