"""Fused layer norm on the device: the CPU's per-row bodies (kernels/cpu/norm.py), compiled as
CUDA device functions, one thread per row.

# NOTE: one thread per row, like kernels/cuda/nn.py; a block per row is phase 2's speed-up.
"""

from __future__ import annotations

from numba import cuda

from ..cpu import norm as _cpu
from . import BLOCK, grid
from .scalar import device_functions

_rows = device_functions(_cpu, {})
_forward_row, _backward_row = _rows["_forward_row"], _rows["_backward_row"]
_bn_forward_channel = _rows["_bn_forward_channel"]
_bn_backward_channel = _rows["_bn_backward_channel"]


@cuda.jit
def _forward(x, weight, bias, eps, out):
    """for i in rows (one thread each): out[i] = (x[i] - mean) * rstd * weight + bias"""
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        _forward_row(i, x, weight, bias, eps, out)


@cuda.jit
def _backward(x, weight, grad, eps, grad_x, x_hat):
    """for i in rows (one thread each): grad_x[i], x_hat[i] of layer norm"""
    for i in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        _backward_row(i, x, weight, grad, eps, grad_x, x_hat[i])


def layer_norm_forward(x, weight, bias, eps: float, out) -> None:
    """out = layer norm of the rows of x (rows, N), scaled by weight (N,), shifted by bias."""
    if x.shape[0]:
        _forward[grid(x.shape[0]), BLOCK](x, weight, bias, eps, out)


def layer_norm_backward(x, weight, grad, eps: float, grad_x, x_hat) -> None:
    """grad_x and the normalised rows x_hat of layer norm over the rows of x (rows, N)."""
    if x.shape[0]:
        _backward[grid(x.shape[0]), BLOCK](x, weight, grad, eps, grad_x, x_hat)


@cuda.jit
def _bn_forward(x, weight, bias, eps, out, mean, var):
    """for c (one thread each): the CPU's per-channel batch norm forward."""
    for c in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        _bn_forward_channel(c, x, weight, bias, eps, out, mean, var)


@cuda.jit
def _bn_backward(x, weight, grad, eps, grad_x, grad_w, grad_b):
    """for c (one thread each): the CPU's per-channel batch norm backward."""
    for c in range(cuda.grid(1), x.shape[1], cuda.gridsize(1)):
        _bn_backward_channel(c, x, weight, grad, eps, grad_x, grad_w, grad_b)


def batch_norm_forward(x, weight, bias, eps: float, out, mean, var) -> None:
    """Training-mode batch norm of x (N, C, S) into out, with per-channel float64 statistics.

    # NOTE: one thread per channel, as the CPU's prange; phase 2 wants a block per channel.
    """
    if x.shape[1]:
        _bn_forward[grid(x.shape[1]), BLOCK](x, weight, bias, eps, out, mean, var)


def batch_norm_backward(x, weight, grad, eps: float, grad_x, grad_w, grad_b) -> None:
    """(grad_x, grad_weight, grad_bias) of training-mode batch norm of x (N, C, S)."""
    if x.shape[1]:
        _bn_backward[grid(x.shape[1]), BLOCK](x, weight, grad, eps, grad_x, grad_w, grad_b)
