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
from numba import carray, njit, types
from numba.extending import intrinsic

from .compiler import load

__all__ = ["RULES", "UpdatePlan", "update"]


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


def adamax(p, g, exp_avg, exp_inf, weight_decay, one_minus_beta1, beta2, eps, clr, maximize):
    """Adamax: Adam with the infinity norm, exp_inf = max(beta2 * exp_inf, |g| + eps);
    clr = lr / (1 - beta1**step)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    exp_avg = exp_avg + one_minus_beta1 * (g - exp_avg)
    exp_inf = max(exp_inf * beta2, abs(g) + eps)
    return p - clr * exp_avg / exp_inf, exp_avg, exp_inf


def nadam(
    p,
    g,
    exp_avg,
    exp_avg_sq,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    bias_correction2,
    eps,
    grad_scale,
    exp_avg_scale,
    maximize,
    decoupled,
):
    """NAdam: Adam with Nesterov momentum; the step mixes g and exp_avg with the momentum
    schedule's weights grad_scale = -lr * (1 - mu) / (1 - mu_product) and exp_avg_scale =
    -lr * mu_next / (1 - mu_product * mu_next)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * decay
        else:
            g = g + weight_decay * p
    exp_avg = exp_avg + one_minus_beta1 * (g - exp_avg)
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    denom = math.sqrt(exp_avg_sq / bias_correction2) + eps
    p = p + grad_scale * g / denom
    return p + exp_avg_scale * exp_avg / denom, exp_avg, exp_avg_sq


def radam(
    p,
    g,
    exp_avg,
    exp_avg_sq,
    weight_decay,
    decay,
    one_minus_beta1,
    beta2,
    one_minus_beta2,
    bias_correction1,
    bias_correction2_sqrt,
    lr,
    rect,
    eps,
    maximize,
    decoupled,
    rectified,
):
    """RAdam: Adam whose adaptive term is switched on (rectified, scaled by rect) once the
    variance of the second moment is tractable (rho_t > 5); plain momentum SGD before."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            p = p * decay
        else:
            g = g + weight_decay * p
    exp_avg = exp_avg + one_minus_beta1 * (g - exp_avg)
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * g * g
    step = exp_avg / bias_correction1 * lr
    if rectified:
        step = step * (bias_correction2_sqrt / (math.sqrt(exp_avg_sq) + eps)) * rect
    return p - step, exp_avg, exp_avg_sq


def rprop(p, g, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, maximize):
    """Rprop: each element's step size grows by etaplus while its gradient keeps its sign and
    shrinks by etaminus when it flips (that step is then skipped: prev = 0)."""
    if maximize:
        g = -g
    agreement = g * prev
    if agreement > 0:
        step_size = step_size * etaplus
    elif agreement < 0:
        step_size = step_size * etaminus
    step_size = min(max(step_size, step_size_min), step_size_max)
    if agreement < 0:
        # NOTE: the literal only reaches the stored prev (no arithmetic follows), so a float32
        # parameter is still updated in float32
        return p, 0.0, step_size
    if g > 0:
        p = p - step_size
    elif g < 0:
        p = p + step_size
    return p, g, step_size


def asgd(p, g, ax, weight_decay, decay, eta, mu, maximize, averaging):
    """ASGD: SGD with decay = 1 - lambd * eta, and ax the running average of the parameter
    once averaging starts (mu < 1, after t0 steps; ax = p before)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g + weight_decay * p
    p = p * decay
    p = p - eta * g
    if averaging:
        ax = ax + (p - ax) * mu
    else:
        ax = p
    return p, ax


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
    "adamax": Rule(adamax, 2, 1),
    "nadam": Rule(nadam, 2, 2),
    "radam": Rule(radam, 2, 3),
    "rprop": Rule(rprop, 2, 1),
    "asgd": Rule(asgd, 1, 2),
}

HEADER = """\
# Generated by minitorch.kernels.cpu.optim; do not edit. Source of truth: the rule below,
# copied from kernels/cpu/optim.py.
import math

from numba import njit, prange

from minitorch.kernels.cpu.optim import view
"""


@intrinsic
def _pointer(typingctx, address, like):
    """The integer `address` as a pointer to elements of array `like`'s dtype."""
    pointer = types.CPointer(like.dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))

    return pointer(address, like), codegen


@njit(inline="always")
def view(address, lo, n, like):
    """Elements [lo, lo + n) of the 1-D contiguous array at `address` (like's dtype)."""
    return carray(_pointer(address + lo * like.itemsize, like), n)


@njit(cache=True, nogil=True)
def _address(a, n):
    """The data address of a (any rank), or -1 where a is not n C-contiguous elements."""
    if a.size != n or not a.flags.c_contiguous:
        return np.int64(-1)
    return np.int64(a.ctypes.data)


def update_source(
    name: str, present: tuple[bool, ...], flags: tuple[bool, ...], parallel: bool
) -> str:
    """Source of `kernel(tasks, addresses, like, *coefficients)` applying rule `name` in place
    to many parameters at once: row k of addresses holds the data addresses of parameter k,
    its gradient and each present state buffer (1-D contiguous arrays of like's dtype), and
    each row (k, lo, hi) of tasks is a slice [lo, hi) of parameter k. One parallel loop over
    all tasks serves every parameter of an optimizer step.

    present[k] says state buffer k exists; a missing one has no column and reads as `g` inside
    the rule (whose flags then ignore it).
    """
    rule = RULES[name]
    state = [s for s, here in zip(rule.state, present) if here]
    args = ["tasks", "addresses", "like", *rule.coefficients]
    reads = [f"{s}_[i]" if here else "g" for s, here in zip(rule.state, present)]
    outs = ["p", *(f"v{k}" if here else "_" for k, here in enumerate(present))]
    assert len(present) == len(rule.state) and len(flags) == len(rule.flags), name
    named_flags = [f"{n}={v}" for n, v in zip(rule.flags, flags)]
    call = ", ".join(["param[i]", "g", *reads, *rule.coefficients, *named_flags])
    loop = "prange" if parallel else "range"
    flags_kw = ", parallel=True" if parallel else ""
    # NOTE: loops run over views from 0: with range(lo, hi) bounds LLVM does not vectorise.
    lines = [
        f'@njit(cache=True, nogil=True, error_model="numpy"{flags_kw})',
        f"def kernel({', '.join(args)}):",
        f'    """for (k, lo, hi) in tasks: parameter k[lo:hi], *states = {name}(...)"""',
        f"    for t in {loop}(tasks.shape[0]):",
        "        k, lo, n = tasks[t, 0], tasks[t, 1], tasks[t, 2] - tasks[t, 1]",
        "        param = view(addresses[k, 0], lo, n, like)",
        "        grad = view(addresses[k, 1], lo, n, like)",
        *[f"        {s}_ = view(addresses[k, {c}], lo, n, like)" for c, s in enumerate(state, 2)],
        "        for i in range(n):",
        "            g = grad[i]",
        f"            {', '.join(outs)} = {name}({call})",
        "            param[i] = p",
        *[
            f"            {s}_[i] = v{k}"
            for k, (s, here) in enumerate(zip(rule.state, present))
            if here
        ],
    ]
    rule_source = inspect.getsource(rule.fn)
    return f'{HEADER}\n\n@njit(inline="always")\n{rule_source}\n\n' + "\n".join(lines) + "\n"


_kernels: dict = {}
_tasks: dict = {}
# Updates of at least this many elements in all run in parallel. NOTE: an update streams
# several arrays per element and a parallel region's start costs more here than for the
# elementwise ops (kernels.cpu.PARALLEL_MIN, 32768). Adam, us, parallel vs serial: alone
# 40k elements 26.6 vs 20.5, 65k 36.8 vs 31.5, 80k 35.1 vs 37.0, 100k 39.2 vs 45.2; inside a
# traced step (per-line medians) the GRU's 40k 85 vs 58, the transformer's ~200k 215-229 vs
# 284-288, mlp's 535k 195-204 vs 277-279.
PARALLEL_MIN = 1 << 17
TASK_SIZE = 16384  # elements per parallel task: large enough to amortise, small to balance


def update(
    name: str,
    params: list[np.ndarray],
    grads: list[np.ndarray],
    states: list,
    coefficients: tuple,
    flags: tuple[bool, ...],
) -> None:
    """Apply rule `name` in place to every element of each 1-D contiguous array in `params`
    and its state, in one kernel call.

    grads[k] belongs to params[k]; states holds, per state buffer of the rule, a list of
    1-D arrays (one per parameter, same size and dtype) or None where the buffer is absent;
    coefficients are numbers, cast here to the parameters' dtype (all share one dtype).
    """
    UpdatePlan(name, params, states, flags).run(grads, coefficients)


class UpdatePlan:
    """`update` for fixed parameter and state arrays: the kernel, the table of their addresses
    and the task table are worked out once; `run` passes each step's gradients and coefficients.

    NOTE: the kernel reads the arrays through their addresses, not as tuples of arrays: Numba
    compiles code per tuple length and unpacks every array of them at each call (and in the
    parallel loop's setup). A parallel AdamW kernel compiled in ~2 s for 8 parameters as tuples
    (3.1 s for 16, 20 s for 32, so larger models went 8 at a time), in ~1 s for any number as
    addresses. The plan keeps the arrays alive; a step's gradients live through its call. An
    optimizer keeps one plan per parameter list (minitorch/optim/optimizer.py), so a step pays
    only for its gradients and the kernel call.
    """

    def __init__(self, name: str, params: list, states: list, flags: tuple[bool, ...]):
        self.dtype = params[0].dtype
        self.like = np.empty(0, self.dtype)
        present = tuple(s is not None for s in states)
        self.sizes = [p.shape[0] for p in params]
        parallel = sum(self.sizes) >= PARALLEL_MIN
        key = (name, present, flags, parallel)
        kernel = _kernels.get(key)
        if kernel is None:
            kernel = _kernels[key] = load(update_source(name, present, flags, parallel))
        self.kernel = kernel
        self.arrays = [params, *[s for s in states if s is not None]]  # kept alive
        columns = [params, params, *self.arrays[1:]]  # column 1: each run's gradients
        what = "a parameter or state buffer"
        table = [[self._address(a, k, what) for k, a in enumerate(arrays)] for arrays in columns]
        self.addresses = np.array(table, dtype=np.int64).T.copy()  # a row per parameter
        self.tasks = _task_table(tuple(self.sizes), parallel)

    def run(self, grads: list, coefficients: tuple) -> None:
        if len(grads) != len(self.sizes):
            n = len(self.sizes)
            raise ValueError(f"optimizer update: {len(grads)} gradients for {n} parameters")
        addresses = self.addresses
        for k, g in enumerate(grads):
            addresses[k, 1] = self._address(g, k, "a gradient")
        scalars = np.array(coefficients, self.dtype)  # numpy scalars of the params' dtype
        self.kernel(self.tasks, addresses, self.like, *scalars)

    def _address(self, a: np.ndarray, k: int, what: str) -> int:
        """a's address, checked: the kernel reads and writes it as parameter k's elements."""
        n = self.sizes[k]
        address = _address(a, n) if a.dtype == self.dtype else -1
        if address == -1:
            raise ValueError(
                f"optimizer update: {what} is {a.dtype} {a.shape} with strides {a.strides}, "
                f"expected {n} C-contiguous {self.dtype} elements"
            )
        return address


def _task_table(sizes: tuple, parallel: bool) -> np.ndarray:
    """Rows (k, lo, hi) covering every parameter; chunks of TASK_SIZE when parallel."""
    key = (sizes, parallel)
    table = _tasks.get(key)
    if table is None:
        step = TASK_SIZE if parallel else max(sizes, default=1) or 1
        rows = [(k, lo, min(n, lo + step)) for k, n in enumerate(sizes) for lo in range(0, n, step)]
        table = _tasks[key] = np.array(rows or [(0, 0, 0)], dtype=np.int64).reshape(-1, 3)
    return table
