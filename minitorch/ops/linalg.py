"""einsum: forward by numpy's optimised einsum, backward by einsum with swapped roles."""

from __future__ import annotations

import string

import numpy as np

from .. import dtypes
from .registry import Meta, Op, apply, register


def parse_equation(equation: str, n: int) -> tuple[list[str], str]:
    """The operands' subscripts and the output's (implicit output: letters seen once, sorted)."""
    lhs, arrow, rhs = equation.partition("->")
    subs = _operand_subscripts(lhs, n)
    if not arrow:
        rhs = _seen_once("".join(subs))
    return subs, rhs


def _operand_subscripts(lhs: str, n: int) -> list[str]:
    subs = lhs.split(",")
    if len(subs) != n:
        raise RuntimeError(f"einsum(): {len(subs)} operand subscripts for {n} operands")
    return subs


def _seen_once(letters: str) -> str:
    """An implicit output's letters: those that appear once, sorted."""
    return "".join(sorted(c for c in set(letters) if letters.count(c) == 1))


def spell_ellipsis(equation: str, ranks: list[int]) -> str:
    """equation with each "..." written out as letters it does not use: the dims an operand's
    letters leave over, aligned from the right as broadcasting aligns them. An implicit output
    gets PyTorch's order: the ellipsis dims, then the letters seen once, sorted."""
    if "." not in equation:
        return equation
    lhs, arrow, rhs = equation.partition("->")
    subs = _operand_subscripts(lhs, len(ranks))
    spans = []
    for k, (s, rank) in enumerate(zip(subs, ranks)):
        if s.count("...") > 1 or "." in s.replace("...", "", 1):
            raise RuntimeError(f"einsum(): operand {k} has a '.' that is not part of one ellipsis")
        named = len(s) - 3 if "..." in s else len(s)
        if named > rank:
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({named}) is more than the "
                f"number of dimensions ({rank}) for operand {k}"
            )
        spans.append(rank - named if "..." in s else 0)
    free = [c for c in string.ascii_letters if c not in equation]
    dims = "".join(free[: max(spans)])
    subs = [s.replace("...", dims[len(dims) - n :]) for s, n in zip(subs, spans)]
    if not arrow:
        rhs = dims + _seen_once(lhs.replace("...", "").replace(",", ""))
    return ",".join(subs) + "->" + rhs.replace("...", dims)


def letter_sizes(subs: list[str], operands) -> dict[str, int]:
    """Each subscript letter's size across the operands: a size-1 dim broadcasts, whichever
    operand has it; other differing sizes raise PyTorch's error."""
    sizes = {}
    for s, x in zip(subs, operands):
        for c, n in zip(s, x.shape):
            have = sizes.setdefault(c, n)
            if have == 1:
                sizes[c] = n
            elif n not in (1, have):
                raise RuntimeError(f"einsum(): operands do not broadcast for subscript {c}")
    return sizes


class Einsum(Op):
    name = "einsum"
    save = (0, 1)

    def infer(self, *xs, equation):
        subs, rhs = parse_equation(equation, len(xs))
        for s, x in zip(subs, xs):
            if len(s) != x.ndim:
                raise RuntimeError(
                    f"einsum(): the number of subscripts in the equation ({len(s)}) does not "
                    f"match the number of dimensions ({x.ndim}) for operand {subs.index(s)}"
                )
        for k, (s, x) in enumerate(zip(subs, xs)):
            _check_diagonal(s, tuple(x.shape), k)
        sizes = letter_sizes(subs, xs)
        return Meta(tuple(sizes[c] for c in rhs), dtypes.result_type(*xs))

    def forward(self, meta, *arrays, equation):
        subs, rhs = parse_equation(equation, len(arrays))
        arrays = [a.astype(meta.dtype.np, copy=False) for a in arrays]
        return np.asarray(np.einsum(f"{','.join(subs)}->{rhs}", *arrays, optimize=True))

    def backward(self, ctx, grad):
        subs, rhs = parse_equation(ctx.params["equation"], len(ctx.inputs))
        grads = []
        # NOTE: each operand's gradient is built at its letters' broadcast sizes; the engine
        # sums it back over the operand's size-1 dims
        size = letter_sizes(subs, ctx.inputs)
        for i, (s, x) in enumerate(zip(subs, ctx.inputs)):
            u = "".join(dict.fromkeys(s))  # s without repeats ("ii" -> "i": a diagonal)
            others = [(subs[j], ctx.inputs[j]) for j in range(len(subs)) if j != i]
            eq = ",".join([rhs] + [o for o, _ in others]) + "->" + u
            missing = [c for c in u if c not in rhs and all(c not in o for o, _ in others)]
            g = apply(self, grad, *[t for _, t in others], equation=_fill(eq, missing))
            if missing:  # re-insert the dims only this operand summed over, then broadcast
                g = g.reshape([1 if c in missing else size[c] for c in u])
                g = g.expand([size[c] for c in u])
            grads.append(g if u == s else _on_diagonal(g, s, tuple(x.shape)))
        return tuple(grads)


def _check_diagonal(s: str, shape: tuple, k: int) -> None:
    """A letter repeated within one operand (a diagonal) needs equal sizes: no broadcasting."""
    for d, c in enumerate(s):
        first = s.index(c)
        if shape[d] != shape[first]:
            raise RuntimeError(
                f"einsum(): subscript {c} is repeated for operand {k} but the sizes don't "
                f"match, {shape[d]} != {shape[first]}"
            )


def _on_diagonal(g, s: str, shape: tuple):
    """The gradient of an operand with repeated subscripts (e.g. "ii"): g (over the distinct
    letters, in order of first occurrence) on the diagonal positions, zero elsewhere."""
    first = [s.index(c) for c in s]
    g = g.reshape([n if f == k else 1 for k, (n, f) in enumerate(zip(shape, first))])
    idx = np.indices(shape)
    on = np.logical_and.reduce([idx[k] == idx[f] for k, f in enumerate(first)])
    return g.expand(shape) * g.new_tensor(on)


def _fill(eq, missing):
    # a letter summed away in only this operand gets its gradient by broadcasting (expand)
    if not missing:
        return eq
    lhs, rhs = eq.split("->")
    return lhs + "->" + "".join(c for c in rhs if c not in missing)


einsum_op = register(Einsum())
