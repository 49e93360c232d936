"""check=True: run a replay and the eager step from the same state and compare op by op."""

from __future__ import annotations

import copy

import numpy as np

from ..random import live_generators
from ..tensor import Tensor
from . import devices
from .replay import interpret
from .trace import PLAIN_VALUES, Call, Capture, LiveGrad, OpNode, Ref, SetGrad, Write


class CheckError(AssertionError):
    """A replayed op computed something else than the same op run eagerly."""


def check_replay(replayer, call, args, leaves, rtol: float = 1e-5, atol: float = 1e-6):
    """Replay, restore the state, rerun eagerly (recorded), compare; keep the eager result.
    leaves: the arguments' tensors and numbers, flattened as the trace reads them."""
    snapshot = _snapshot(replayer.nodes)
    traced = interpret(replayer.nodes, leaves)
    _restore(snapshot)
    with Capture(leaves, keep_values=True) as capture:
        result = call(*args)
    capture.finish(result)
    for node in replayer.nodes:
        if not isinstance(node, OpNode):
            continue
        for slot in node.outputs:
            want, got = capture.values.get(slot), traced.get(slot)
            if want is None or got is None:
                continue
            if want.shape != got.shape or not np.allclose(got, want, rtol, atol, equal_nan=True):
                raise CheckError(_describe(node, slot, got, want))
    return result


def _describe(node, slot, got, want) -> str:
    if got.shape != want.shape:
        diff = f"shape {got.shape} where eager has {want.shape}"
    else:
        diff = f"max abs difference {np.max(np.abs(got.astype(np.float64) - want)):.3g}"
    return (
        f"minitorch.compile(check=True): the replayed op {node.op.name!r} (output slot {slot}) "
        f"differs from eager: {diff}. Rerun with fallback='eager' or report it with the "
        "step that produced it."
    )


def _state_tensors(nodes) -> list[Tensor]:
    """Every tensor a replay may change: those it reads or writes, their gradients, and the
    state of objects whose methods it calls (an optimizer's buffers and step counts)."""
    found: dict[int, Tensor] = {}
    for node in nodes:
        refs = []
        if isinstance(node, OpNode):
            refs = [x for x in node.inputs if isinstance(x, Ref)]
        elif isinstance(node, Write):
            refs = [node.target]
        elif isinstance(node, SetGrad):
            found[id(node.tensor)] = node.tensor
        elif isinstance(node, Call) and isinstance(getattr(node.owner, "state", None), dict):
            for per_param in node.owner.state.values():
                for v in getattr(per_param, "values", lambda: ())():
                    if isinstance(v, Tensor):
                        found[id(v)] = v
        for r in refs:
            if r.kind == "tensor" and isinstance(r.key, LiveGrad):  # a gradient read live
                if r.key.leaf.grad is not None:
                    found[id(r.key.leaf.grad)] = r.key.leaf.grad
            elif r.kind == "tensor":
                found[id(r.key)] = r.key
    return list(found.values())


def _python_state(nodes) -> list[tuple[dict, dict]]:
    """(holder, copy of its plain values) for the attributes of each object whose method the
    step calls and for the param_groups of optimizers among them or theirs: a scheduler's
    counters and the learning rates it sets, which the replay and the eager rerun would
    otherwise both advance."""
    holders: dict[int, dict] = {}
    for node in nodes:
        if isinstance(node, Call):
            owner = node.owner
            if hasattr(owner, "__dict__"):
                holders[id(owner)] = vars(owner)
            optimizer = getattr(owner, "optimizer", owner)  # a scheduler's, or owner itself
            for group in getattr(optimizer, "param_groups", ()):
                holders[id(group)] = group
    return [
        (holder, copy.deepcopy({k: v for k, v in holder.items() if _plain(v)}))
        for holder in holders.values()
    ]


def _plain(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(map(_plain, value))
    if isinstance(value, dict):
        return all(map(_plain, value.values()))
    return value is None or isinstance(value, PLAIN_VALUES)


def _snapshot(nodes):
    tensors = _state_tensors(nodes)
    return (
        [(t, devices.copy(t._data), t.grad) for t in tensors],
        _python_state(nodes),
        [(g, g.get_state()) for g in live_generators()],  # any the step draws from
    )


def _restore(snapshot) -> None:
    tensors, python_state, generators = snapshot
    for t, data, grad in tensors:
        devices.write(t._data, data)
        t.grad = grad
    for holder, values in python_state:
        holder.update(copy.deepcopy(values))
    for generator, state in generators:
        generator.set_state(state)
