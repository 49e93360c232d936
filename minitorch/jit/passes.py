"""Graph passes over a captured Program: constant folding, common subexpressions, dead code.

Each pass returns a new node list and counts what it removed; none changes what a replay
computes. Random draws are never merged, folded or dropped: each one advances the generator,
and a replay must advance it exactly as the eager step did.
"""

from __future__ import annotations

import numpy as np

from .trace import Call, OpNode, Ref, SetGrad, Write


def fold_constants(nodes: list) -> tuple[list, int, dict]:
    """Run ops whose inputs are all constants once, now; their outputs become constants
    (returned as {slot: array} for outputs of the step that were folded)."""
    known: dict[int, np.ndarray] = {}
    out, folded = [], 0

    def const(x):
        if isinstance(x, Ref) and x.kind == "slot" and x.key in known:
            return Ref("const", known[x.key])
        return x

    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(const(x) for x in node.inputs)
            if _pure(node) and all(
                not isinstance(x, Ref) or x.kind == "const" for x in node.inputs
            ):
                arrays = [x.key if isinstance(x, Ref) else x for x in node.inputs]
                result = node.op.forward(node.meta, *arrays, **node.params)
                results = result if len(node.outputs) > 1 else (result,)
                known.update(zip(node.outputs, results))
                folded += 1
                continue
        elif isinstance(node, Write):
            node.target, node.value = const(node.target), const(node.value)
        elif isinstance(node, SetGrad) and node.value is not None:
            node.value = const(node.value)
        out.append(node)
    return out, folded, known


def eliminate_common(nodes: list) -> tuple[list, dict[int, int], int]:
    """Merge ops that repeat an earlier op on the same inputs with the same params.

    An in-place write or an opaque call may change any value, so the table of earlier ops is
    forgotten at each one (conservative, and such nodes are few).
    """
    seen: dict = {}
    alias: dict[int, int] = {}
    out = []
    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(_rename(x, alias) for x in node.inputs)
            key = _cse_key(node) if _pure(node) else None
            if key is not None and key in seen:
                alias.update(zip(node.outputs, seen[key].outputs))
                continue
            if key is not None:
                seen[key] = node
        else:
            _rename_effect(node, alias)
            if isinstance(node, (Write, Call)):
                seen.clear()
        out.append(node)
    return out, alias, len(nodes) - len(out)


def eliminate_dead(nodes: list, live: set[int]) -> tuple[list, int]:
    """Drop ops none of whose outputs are read later (by an op, an effect or the result)."""
    out = []
    for node in reversed(nodes):
        if isinstance(node, OpNode):
            if not (live.intersection(node.outputs) or getattr(node.op, "random", False)):
                continue
            live.update(_slots(node.inputs))
        else:
            live.update(_slots(_effect_refs(node)))
        out.append(node)
    out.reverse()
    return out, len(nodes) - len(out)


# ---- helpers ---------------------------------------------------------------------------------
def _pure(node: OpNode) -> bool:
    return not getattr(node.op, "random", False)


def _slots(items) -> list[int]:
    return [x.key for x in items if isinstance(x, Ref) and x.kind == "slot"]


def _effect_refs(node) -> list:
    if isinstance(node, Write):
        return [node.target, node.value]
    if isinstance(node, SetGrad):
        return [] if node.value is None else [node.value]
    return []


def _rename(x, alias: dict[int, int]):
    if isinstance(x, Ref) and x.kind == "slot" and x.key in alias:
        return Ref("slot", alias[x.key])
    return x


def _rename_effect(node, alias: dict[int, int]) -> None:
    if isinstance(node, Write):
        node.target, node.value = _rename(node.target, alias), _rename(node.value, alias)
    elif isinstance(node, SetGrad) and node.value is not None:
        node.value = _rename(node.value, alias)


def _cse_key(node: OpNode):
    """A hashable identity of (op, inputs, params), or None where params are not hashable."""
    inputs = tuple(
        (x.kind, x.key if x.kind in ("slot", "arg") else id(x.key))
        if isinstance(x, Ref)
        else (type(x), x)
        for x in node.inputs
    )
    params = tuple((k, type(v), v) for k, v in sorted(node.params.items()))
    try:
        key = (node.op.name, inputs, params)
        hash(key)
    except TypeError:
        return None
    return key
