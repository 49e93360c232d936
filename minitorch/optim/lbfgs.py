"""LBFGS: limited-memory BFGS with an optional strong-Wolfe line search (torch.optim.LBFGS).

Unlike the other optimizers, one step runs up to `max_iter` iterations and re-evaluates the
loss through the closure it is given, reading the loss and gradient norms into Python to decide
when to stop. The algorithm, its stopping rules and its state (kept under the first parameter:
func_evals, n_iter, d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss, al) are
PyTorch's, so the iterates match torch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd import enable_grad, no_grad
from ..functional import cat
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """L-BFGS, as torch.optim.LBFGS (one parameter group; the closure is required).

    Args:
        params: parameters to optimize (one group only).
        lr: learning rate (the step length the line search starts from).
        max_iter: iterations per step. max_eval: closure evaluations per step
            (default max_iter * 5 // 4).
        tolerance_grad: stop when the largest |gradient| is at most this.
        tolerance_change: stop when the loss or the parameters change by less than this.
        history_size: how many (s, y) pairs the inverse-Hessian estimate keeps.
        line_search_fn: None (fixed step lr) or "strong_wolfe".

    Example:
        >>> import minitorch as torch
        >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
        >>> opt = torch.optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> bool(((w - 1).abs() < 1e-4).all())
        True
    """

    def __init__(
        self,
        params,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- flat views of the parameters and gradients -----------------------------------------
    def _gather_flat_grad(self) -> Tensor:
        views = [
            p.new_zeros(p.numel()) if p.grad is None else p.grad.reshape(-1) for p in self._params
        ]
        return cat(views, 0)

    def _add_grad(self, step_size, update: Tensor) -> None:
        """p += step_size * (p's slice of the flat update), for every parameter."""
        offset = 0
        for p in self._params:
            numel = p.numel()
            p.add_(update[offset : offset + numel].view_as(p), alpha=step_size)
            offset += numel

    def _directional_evaluate(self, closure, x: list[Tensor], t, d: Tensor):
        """(loss, flat gradient) at x + t * d; the parameters are put back to x after."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.copy_(saved)
        return loss, flat_grad

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to max_iter L-BFGS iterations; return the closure's first loss.

        Args:
            closure: re-evaluates the model (zero_grad, forward, backward) and returns the loss.
        """
        if not callable(closure):
            raise TypeError(
                "LBFGS.step: a closure is required (it re-evaluates the loss several times per "
                f"step), but got {type(closure).__name__}; pass a function that calls "
                "zero_grad(), computes the loss, calls loss.backward() and returns the loss."
            )
        with no_grad():  # the closure runs with grad enabled, the updates without
            return self._step(enable_grad()(closure))

    def _step(self, closure) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn = group["line_search_fn"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if flat_grad.abs().max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t, prev_flat_grad = state.get("d"), state.get("t"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = flat_grad.neg()
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                d = self._direction(state, flat_grad, prev_flat_grad, d.mul(t), group)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.clone()
            else:
                prev_flat_grad.copy_(flat_grad)
            prev_loss = loss
            # the first step is scaled by the gradient's size; later ones trust the curvature
            t = min(1.0, 1.0 / flat_grad.abs().sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)  # directional derivative: must be a descent direction
            if gtd > -tolerance_change:
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p.clone() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = flat_grad.abs().max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:  # re-evaluate, unless this was the last iteration
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = flat_grad.abs().max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if d.mul(t).abs().max() <= tolerance_change:  # the parameters stopped moving
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss stopped moving
                break

        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    @staticmethod
    def _direction(state: dict, flat_grad: Tensor, prev_flat_grad: Tensor, s: Tensor, group):
        """Record the last (s, y) pair and return -H @ flat_grad by the two-loop recursion."""
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        y = flat_grad.sub(prev_flat_grad)
        ys = y.dot(s)
        if ys > 1e-10:  # keep only pairs of positive curvature
            if len(old_dirs) == group["history_size"]:
                for history in (old_dirs, old_stps, ro):
                    history.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)
        if "al" not in state:
            state["al"] = [None] * group["history_size"]
        al = state["al"]
        q = flat_grad.neg()
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q.add_(old_dirs[i], alpha=-al[i])
        r = q.mul(state["H_diag"])
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r.add_(old_stps[i], alpha=al[i] - be_i)
        return r


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to bounds
    (default: between x1 and x2); their midpoint where the cubic has no minimum."""
    xmin_bound, xmax_bound = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square < 0:
        return (xmin_bound + xmax_bound) / 2.0
    d2 = d2_square**0.5
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, xmin_bound), xmax_bound)


class _Point:
    """One evaluated step length of the line search: t, loss f, flat gradient g, g . d."""

    def __init__(self, t, f, g, gtd):
        self.t, self.f, self.g, self.gtd = t, f, g, gtd


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Line search for a step t along d that satisfies the strong Wolfe conditions
    (PyTorch's, after minFunc): bracket an interval, then zoom into it by cubic interpolation.
    Returns (loss, flat gradient, t, closure evaluations)."""
    start = _Point(0, f, g, gtd)

    def evaluate(t) -> _Point:
        f_new, g_new = obj_func(x, t, d)
        return _Point(t, f_new, g_new, g_new.dot(d))

    bracket, done, ls_iter = _bracket(evaluate, start, evaluate(t), c1, c2, max_ls)
    evals = ls_iter + 1
    if not done:
        tolerance = (tolerance_change, d.abs().max())
        evals += _zoom(evaluate, start, bracket, ls_iter, c1, c2, tolerance, max_ls)
    low = bracket[_low_high(bracket)[0]]
    return low.f, low.g, low.t, evals


def _low_high(bracket: list[_Point]) -> tuple[int, int]:
    """Positions of the bracket's lower-loss end and its other end."""
    return (0, 1) if bracket[0].f <= bracket[-1].f else (1, 0)


def _bracket(evaluate, start: _Point, new: _Point, c1, c2, max_ls):
    """Grow t until [previous t, t] brackets a Wolfe point, or t itself is one.
    Returns (bracket, done, evaluations after the first)."""
    prev, ls_iter = start, 0
    while ls_iter < max_ls:
        if new.f > (start.f + c1 * new.t * start.gtd) or (ls_iter > 1 and new.f >= prev.f):
            return [prev, new], False, ls_iter
        if abs(new.gtd) <= -c2 * start.gtd:
            return [new], True, ls_iter
        if new.gtd >= 0:
            return [prev, new], False, ls_iter
        # extrapolate: a cubic step between 1.01 t and 10 t
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        t = _cubic_interpolate(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, bounds=bounds)
        prev, new = new, evaluate(t)
        ls_iter += 1
    return [start, new], False, ls_iter  # out of evaluations: no zoom follows


def _zoom(evaluate, start: _Point, bracket: list, ls_iter: int, c1, c2, tolerance, max_ls):
    """Shrink the bracket (in place) around a strong-Wolfe point, until it is narrower than
    tolerance = (tolerance_change, max |d|) along d; returns the evaluations."""
    tolerance_change, d_norm = tolerance
    low, high = _low_high(bracket)
    insuf_progress, evals = False, 0
    while ls_iter < max_ls and not abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
        a, b = bracket
        t = _cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        t, insuf_progress = _away_from_ends(t, a.t, b.t, insuf_progress)
        new = evaluate(t)
        evals += 1
        ls_iter += 1
        if new.f > (start.f + c1 * t * start.gtd) or new.f >= bracket[low].f:
            bracket[high] = new
            low, high = _low_high(bracket)
            continue
        done = abs(new.gtd) <= -c2 * start.gtd
        if not done and new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]
        bracket[low] = new
        if done:
            break
    return evals


def _away_from_ends(t, a, b, insuf_progress: bool):
    """t moved to 10% of the bracket's width inside [a, b] when it comes too close to an end
    twice in a row (or falls outside); returns (t, insuf_progress)."""
    lo, hi = min(a, b), max(a, b)
    eps = 0.1 * (hi - lo)
    if min(hi - t, t - lo) >= eps:
        return t, False
    if insuf_progress or t >= hi or t <= lo:
        return (hi - eps if abs(t - hi) < abs(t - lo) else lo + eps), False
    return t, True
