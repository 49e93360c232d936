"""Fused optimizer updates: one pass over a parameter updates it and its state in place.

Each update rule below is a plain scalar function of one element: it takes the parameter's
value `p`, its gradient `g`, the element of each state buffer, the step's coefficients and the
option flags, and returns the new parameter and state values. `update` wraps a rule in a loop
over the flat arrays and compiles it with kernels/cpu/compiler.py:

    for i in prange(n):
        p, s0, s1 = rule(param[i], grad[i], s0[i], s1[i], *coefficients, *flags)
        param[i], s0[i], s1[i] = p, s0, s1

The rule's source text is copied into the generated file, so Numba's disk cache sees it and
editing a rule recompiles its kernels. Flags (nesterov, amsgrad, ...) are constants of the
generated kernel (a new combination compiles once); coefficients (lr, betas, bias corrections,
...) are runtime arguments, so a scheduler changing lr compiles nothing. Coefficients arrive in
the parameter's dtype, and the rules contain no numeric literals, so float32 parameters are
updated in float32 arithmetic as PyTorch does. The order of operations follows PyTorch's
single-tensor implementations (torch/optim/*.py), which keeps results within float rounding.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from . import PARALLEL_MIN
from .compiler import load

__all__ = ["RULES", "update"]


def sgd(
    p,
    g,
    momentum_buffer,
    lr,
    weight_decay,
    momentum,
    decay,
    scale,
    maximize,
    nesterov,
    has_momentum,
):
    """SGD: buf = decay * buf + scale * g (decay=0, scale=1 on the first step: buf = g)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    if has_momentum:
        momentum_buffer = momentum_buffer * decay + scale * g
        if nesterov:
            g = g + momentum * momentum_buffer
        else:
            g = momentum_buffer
    return p - lr * g, momentum_buffer


def adam(
    p,
    g,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    step_size,
    bias_correction2_sqrt,
    eps,
    maximize,
    amsgrad,
    decoupled,
):
    """Adam / AdamW: decoupled weight decay multiplies p by decay = 1 - lr * weight_decay."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * decay
        else:
            g = g + weight_decay * p
    exp_avg = exp_avg + one_minus_beta1 * (g - exp_avg)  # exp_avg.lerp_(g, 1 - beta1)
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    v = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
        v = max_exp_avg_sq
    denom = math.sqrt(v) / bias_correction2_sqrt + eps
    return p - step_size * exp_avg / denom, exp_avg, exp_avg_sq, max_exp_avg_sq


def adagrad(p, g, state_sum, clr, weight_decay, eps, maximize):
    """Adagrad: clr = lr / (1 + (step - 1) * lr_decay)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    state_sum = state_sum + g * g
    return p - clr * g / (math.sqrt(state_sum) + eps), state_sum


def rmsprop(
    p,
    g,
    square_avg,
    momentum_buffer,
    grad_avg,
    lr,
    weight_decay,
    alpha,
    one_minus_alpha,
    eps,
    momentum,
    maximize,
    centered,
    has_momentum,
):
    """RMSprop, optionally centered (divide by the variance) and with momentum."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = square_avg * alpha + one_minus_alpha * g * g
    if centered:
        grad_avg = grad_avg + one_minus_alpha * (g - grad_avg)
        avg = math.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = math.sqrt(square_avg) + eps
    if has_momentum:
        momentum_buffer = momentum_buffer * momentum + g / avg
        return p - lr * momentum_buffer, square_avg, momentum_buffer, grad_avg
    return p - lr * g / avg, square_avg, momentum_buffer, grad_avg


def adadelta(p, g, square_avg, acc_delta, lr, weight_decay, rho, one_minus_rho, eps, maximize):
    """Adadelta: the step is g scaled by RMS(past steps) / RMS(past gradients)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg = square_avg * rho + one_minus_rho * g * g
    delta = math.sqrt(acc_delta + eps) / math.sqrt(square_avg + eps) * g
    acc_delta = acc_delta * rho + one_minus_rho * delta * delta
    return p - lr * delta, square_avg, acc_delta


class Rule:
    """A scalar update rule split into its argument kinds (read from its signature)."""

    def __init__(self, fn, n_state: int, n_flags: int):
        names = list(inspect.signature(fn).parameters)
        self.fn = fn
        self.state = tuple(names[2 : 2 + n_state])
        self.coefficients = tuple(names[2 + n_state : len(names) - n_flags])
        self.flags = tuple(names[len(names) - n_flags :])


RULES = {
    "sgd": Rule(sgd, 1, 3),
    "adam": Rule(adam, 3, 3),
    "adagrad": Rule(adagrad, 1, 1),
    "rmsprop": Rule(rmsprop, 3, 3),
    "adadelta": Rule(adadelta, 2, 1),
}

HEADER = """\
# Generated by minitorch.kernels.cpu.optim; do not edit. Source of truth: the rule below,
# copied from kernels/cpu/optim.py.
import math

from numba import njit, prange
"""


def update_source(
    name: str, present: tuple[bool, ...], flags: tuple[bool, ...], parallel: bool
) -> str:
    """Source of `kernel(param, grad, *state, *coefficients)` applying rule `name` in place.

    present[k] says state buffer k exists; a missing one is passed as nothing and reads as
    `g` inside the rule (whose flags then ignore it).
    """
    rule = RULES[name]
    state = [s for s, here in zip(rule.state, present) if here]
    args = ["param", "grad", *state, *rule.coefficients]
    reads = [f"{s}[i]" if here else "g" for s, here in zip(rule.state, present)]
    outs = ["p", *(f"v{k}" if here else "_" for k, here in enumerate(present))]
    assert len(present) == len(rule.state) and len(flags) == len(rule.flags), name
    named_flags = [f"{n}={v}" for n, v in zip(rule.flags, flags)]
    call = ", ".join(["param[i]", "g", *reads, *rule.coefficients, *named_flags])
    loop = "prange" if parallel else "range"
    flags_kw = ", parallel=True" if parallel else ""
    lines = [
        f'@njit(cache=True, nogil=True, error_model="numpy"{flags_kw})',
        f"def kernel({', '.join(args)}):",
        f'    """for i in {loop}(n): param[i], *state[i] = {name}(param[i], grad[i], ...)"""',
        f"    for i in {loop}(param.shape[0]):",
        "        g = grad[i]",
        f"        {', '.join(outs)} = {name}({call})",
        "        param[i] = p",
        *[f"        {s}[i] = v{k}" for k, (s, here) in enumerate(zip(rule.state, present)) if here],
    ]
    rule_source = inspect.getsource(rule.fn)
    return f'{HEADER}\n\n@njit(inline="always")\n{rule_source}\n\n' + "\n".join(lines) + "\n"


_kernels: dict = {}


def update(
    name: str,
    param: np.ndarray,
    grad: np.ndarray,
    state: list,
    coefficients: tuple,
    flags: tuple[bool, ...],
) -> None:
    """Apply rule `name` to every element of 1-D contiguous `param` and its `state` in place.

    state holds one 1-D array (same size and dtype as param) or None per state buffer of the
    rule; coefficients are numbers, cast here to param's dtype.
    """
    present = tuple(s is not None for s in state)
    parallel = param.shape[0] >= PARALLEL_MIN
    key = (name, present, flags, parallel)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = load(update_source(name, present, flags, parallel))
    scalars = np.array(coefficients, param.dtype)  # numpy scalars of param's dtype, as numba types
    kernel(param, grad, *[s for s in state if s is not None], *scalars)
