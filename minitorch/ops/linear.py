"""linear(x, weight[, bias]) = x @ weight.T + bias as one op.

Composing it as matmul(x, weight.T) + bias gives weight a gradient that is a transposed
view (non-contiguous), so every later op on `.grad` (accumulation, optimizer updates) takes
the slow strided path. Here the weight gradient is computed directly in weight's layout,
grad_out.T @ x, by BLAS on transposed views (no copies), and the bias is added in place.
"""

from __future__ import annotations

import math

import numpy as np

from ..kernels import cpu
from ..kernels.cpu import blas, mkl
from ..kernels.cpu import linear as tiled
from .registry import Meta, Op, register


def blas_matmul(a: np.ndarray, b: np.ndarray, out=None) -> np.ndarray:
    """np.matmul (into `out`, C-ordered, where given), shaped so that numpy hands the work to
    BLAS in as few calls as it can.

    NOTE: numpy loops over the batch of an N-d @ 2-d product (one small GEMM per matrix) and
    falls back to its own slow loop for matrices with no unit stride (a permuted view); an
    (8, 64, 128) @ (128, 384) product measured 2.7 ms that way against 0.2 ms as one GEMM.
    Stacks of matrices run on MKL where it is installed, a matrix per thread at a time (the
    same kernel a traced step's replay calls: mkl.epilogue_plan), else numpy's loop, one BLAS
    call per matrix on the calling thread (the transformer's (32, 64, 32) @ (32, 32, 64)
    attention scores: ~114 us inside a step that way, ~71 us on MKL).
    """
    if b.ndim == 2 and a.ndim > 2:
        rows = None if out is None else out.reshape(-1, b.shape[-1])
        product = blas_matmul(a.reshape(-1, a.shape[-1]), b, rows)
        return product.reshape(a.shape[:-1] + b.shape[-1:])
    if a.ndim == b.ndim > 2 and _stack_size(a, b) >= mkl.EPILOGUE_MIN and mkl.library():
        stacked = matmul_plan(a, b)  # on MKL, a matrix per thread at a time
        if stacked is not None:
            return stacked(a, b, out=out)
    return blas.matmul(_blasable(a), _blasable(b), out)


def _stack_size(a: np.ndarray, b: np.ndarray) -> int:
    """The number of elements of a @ b for stacks a and b of one batch shape (or 3-D)."""
    return max(a.shape[0], b.shape[0]) * math.prod(a.shape[1:-1]) * b.shape[-1]


def matmul_plan(a: np.ndarray, b: np.ndarray, epilogue: tuple | None = None):
    """blas_matmul for operands laid out as a and b, as a function of them that goes straight
    to MKL (mkl.product_plan, mkl.epilogue_plan), or None where MKL does not take them: a 2-D
    or N-d a (its rows merged, a copy where they are not one run, as blas_matmul does) times
    a 2-D b, or two stacks of matrices (N-d, the same batch dims, or 3-D with a batch of 1).
    For a traced step's replay.

    epilogue: (expr, operands) finishing each element of the product in the same kernel
    (mkl.epilogue_plan): operands[k] is None for the product, a number, an array of the
    product's shape or one repeated along its rows. The function then takes the arrays among
    the operands after b: planned(a, b, *arrays, out=None)."""
    shape = rows = None  # the result's shape, where the kernel's differs; a's merged rows
    if a.ndim > 2 and b.ndim == 2:
        shape, rows = a.shape[:-1] + b.shape[-1:], (-1, a.shape[-1])
    elif a.ndim == b.ndim > 3:  # stacks of the same batch dims, merged into one
        if a.shape[:-2] != b.shape[:-2]:
            return None
        shape, rows = a.shape[:-1] + b.shape[-1:], (-1, *a.shape[-2:])
    elif not (a.ndim == b.ndim and a.ndim in (2, 3)):
        return None
    merged = a if rows is None else _stack(a) if b.ndim > 2 else a.reshape(rows)
    b_kernel = _stack(b) if b.ndim > 2 else b
    if merged is None or b_kernel is None:
        return None
    kernel_shape = mkl.product_shape(merged, b_kernel)
    if kernel_shape is None:
        return None
    if epilogue is None and b.ndim == 2:
        product, layouts = mkl.product_plan(merged, b), ()
    else:
        expr, operands = epilogue or ("{0}", [None])
        layouts = [_layout(x, kernel_shape) for x in operands if x is not None]
        if () in layouts:
            return None
        given = iter(layouts)
        operands = [x if x is None else _reshaped(x, next(given)) for x in operands]
        product = mkl.epilogue_plan(merged, b_kernel, expr, operands)
    if product is None:
        return None
    # rows that are not one run are merged by a copy: into an array of the plan's own
    scratch = None if np.may_share_memory(merged, a) else merged
    # the epilogue's expression and where the product goes in it: holding this call's
    # operands would keep the first replay's arrays alive
    finish = epilogue and (epilogue[0], tuple(x is None for x in epilogue[1]))
    b_stack = b_kernel.shape

    def planned(a, b, *inputs, out=None):
        dest = out if out is None or rows is None else out.reshape(kernel_shape)
        if scratch is not None:
            np.copyto(scratch.reshape(a.shape), a)
            a_rows = scratch
        else:
            a_rows = a if rows is None else a.reshape(rows)
        b_rows = b.reshape(b_stack) if b.ndim > 2 else b
        c = product(a_rows, b_rows, *map(_reshaped, inputs, layouts), out=dest)
        if c is None:  # rows not contiguous after all: numpy's way
            return _unplanned(a, b, finish, inputs)
        return c if shape is None else c.reshape(shape)

    planned.takes_out = True  # the replay's memory plan may hand it an array to fill
    return planned


def _stack(x: np.ndarray) -> np.ndarray | None:
    """x (..., rows, cols) as one stack of matrices (batch, rows, cols), a view, or None
    where its batch dims do not merge without a copy."""
    try:
        return x.reshape((-1, *x.shape[-2:]), copy=False)
    except ValueError:
        return None


def _layout(x, shape: tuple) -> tuple | None:
    """The shape an epilogue operand of a product of `shape` ((m, n), or (batch, m, n)) is
    read as (mkl.epilogue_plan): `shape` for an array of the product's size, (n,) for one
    repeated along its rows, None for a number; () where an array is neither (not a view
    of either shape)."""
    if not isinstance(x, np.ndarray):
        return None
    n = shape[-1]
    if x.shape[-1:] != (n,) or not x.flags.c_contiguous:
        return ()
    return {math.prod(shape): shape, n: (n,)}.get(x.size, ())


def _reshaped(x, shape: tuple | None):
    return x if shape is None else x.reshape(shape)


def _unplanned(a, b, finish, inputs) -> np.ndarray:
    """The product and its epilogue the slow way, where BLAS could not read the operands:
    finish is (expr, which of its operands is the product), or None. (numpy's matmul, not
    blas_matmul, which would plan the same refused product again.)"""
    c = np.matmul(a, b)
    if finish:
        expr, holes = finish
        given = iter(inputs)
        operands = [c if hole else next(given) for hole in holes]
        cpu.elementwise((expr,), [c], operands)
    return c


def _blasable(m: np.ndarray) -> np.ndarray:
    if m.ndim < 2 or m.itemsize in (abs(m.strides[-1]), abs(m.strides[-2])):
        return m
    return np.ascontiguousarray(m)


# NOTE: a generated kernel, not numpy's `out += bias`: numpy's broadcast add took 2-4x the
# time of the rows loop (kernels/codegen Elementwise.vectors) for a (64, 128) output
_ADD = ("({0} + {1})",)


class Linear(Op):
    """out[..., o] = sum_i x[..., i] * weight[o, i] (+ bias[o])."""

    name = "linear"
    save = (0, 1)
    row_bias = 2  # input 2, where given, is added to every row after the product (epilogues)
    finishes = True  # plan() takes an epilogue

    def infer(self, x, weight, *bias):
        if weight.ndim != 2 or x.ndim == 0:
            raise RuntimeError(
                f"linear: expected a 2-D weight and an input with at least 1 dim, got input "
                f"{tuple(x.shape)} and weight {tuple(weight.shape)}"
            )
        if x.shape[-1] != weight.shape[1]:
            rows = int(np.prod(x.shape[:-1])) if x.ndim > 1 else 1
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and "
                f"{weight.shape[1]}x{weight.shape[0]})"
            )
        if x.dtype is not weight.dtype or (bias and bias[0].dtype is not x.dtype):
            raise RuntimeError(
                f"linear: expected input, weight and bias to have the same dtype, but got "
                f"input {x.dtype}, weight {weight.dtype}"
                + (f", bias {bias[0].dtype}" if bias else "")
                + f". Convert with .to({weight.dtype})."
            )
        if bias and tuple(bias[0].shape) not in ((weight.shape[0],), ()):
            raise RuntimeError(
                f"linear: bias of shape {tuple(bias[0].shape)} does not match "
                f"out_features={weight.shape[0]}"
            )
        return Meta(tuple(x.shape[:-1]) + (weight.shape[0],), x.dtype)

    def forward(self, meta, x, weight, *bias):
        if self._tiled(x, weight, bias):
            return tiled.linear(x, weight, bias[0] if bias else None)
        if bias and x.ndim == 2:
            product, transposed = blas.matmul_or_transposed(_blasable(x), _blasable(weight.T))
            if transposed:  # one pass adds the bias and transposes
                # NOTE: numpy's add, not a generated kernel: the transposed (Fortran-ordered)
                # operand would compile a kernel of its own the first time a batch takes this
                # path (the short last batch of an epoch); as fast here (37x512: 12.1 vs 12.4 us)
                return np.add(product.T, bias[0], out=np.empty(meta.shape, x.dtype))
            out = product
        else:
            out = blas_matmul(x, weight.T)
        if bias:
            cpu.elementwise(_ADD, [out], [out, bias[0]])
        return out

    def plan(self, meta, arrays, params, out, epilogue=None):
        """forward for arrays laid out as these (products on MKL), for a traced step's replay;
        None where forward takes another way. The bias is added in the product's own kernel,
        as is an `epilogue` (matmul_plan's; then arrays hold no bias: the Epilogue pass of
        jit/passes.py adds it in its expression)."""
        x, weight, *bias = arrays
        if self._tiled(x, weight, bias):
            return None
        if bias and epilogue is not None:
            return None  # (the pass adds a bias of one dim in its expression)
        finished = bias and matmul_plan(x, weight.T, (_ADD[0], [None, bias[0]]))
        product = finished or matmul_plan(x, weight.T, epilogue)
        if product is None:
            return None
        add = None if finished or not bias else cpu.elementwise_for(_ADD, out, [out, *bias])

        def linear(x, weight, *inputs, out=None):
            if add is None:  # the bias (where given) in the product's kernel
                return product(x, weight.T, *inputs, out=out)
            out = product(x, weight.T, out=out)
            add(out, out, inputs[0])
            return out

        linear.takes_out = True
        return linear

    @staticmethod
    def _tiled(x, weight, bias) -> bool:
        """Whether the product runs in register tiles (kernels/cpu/linear.py linear_wins): they
        beat OpenBLAS on some shapes, never MKL."""
        return (
            mkl.library() is None
            and x.ndim == 2
            and x.dtype in (np.float32, np.float64)
            and weight.flags.c_contiguous
            and (not bias or bias[0].ndim == 1)
            and tiled.linear_wins(*x.shape, weight.shape[0])
        )

    def backward(self, ctx, grad):
        x, weight, *bias = ctx.inputs
        need = ctx.needs_input_grad
        out_f, in_f = weight.shape
        g2 = grad.reshape(-1, out_f)
        gx = grad.matmul(weight) if need[0] else None
        gw = g2.mT.matmul(x.reshape(-1, in_f)) if need[1] else None
        gb = g2.sum(0) if bias and need[2] else None
        return (gx, gw, gb)[: 2 + len(bias)]


linear = register(Linear())
