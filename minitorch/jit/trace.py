"""Capture: run a step eagerly once while recording it into a Program.

Every registry op the step runs becomes an `OpNode`; so do the effects eager code reports
through `minitorch.jit_guard`: gradients assigned to tensors (`SetGrad`), in-place writes
(`Write`) and calls of opaque methods such as `optimizer.step()` (`Call`). Values are named by
`Ref`s: the output of an earlier node, a tensor argument of the step, a tensor that existed
before the step (a parameter, an optimizer buffer: read from the tensor at replay, so in-place
updates are seen), or a constant.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field

import numpy as np

from .. import jit_guard
from ..ops import registry
from ..tensor import Tensor


class TraceError(RuntimeError):
    """Something in a traced step cannot be captured (and fallback="eager" was not chosen)."""


@dataclass(frozen=True)
class Ref:
    """Where a value comes from at replay: kind is "slot", "arg", "tensor" or "const"."""

    kind: str
    key: object  # slot index, argument position, the Tensor, or the array


@dataclass
class OpNode:
    op: registry.Op
    meta: object
    inputs: tuple  # Refs, or plain numbers
    params: dict
    outputs: tuple[int, ...]  # slot indices
    in_dtypes: tuple = ()  # dtype of each tensor input (None for numbers)


@dataclass
class SetGrad:
    tensor: Tensor
    value: Ref | None


@dataclass
class Write:
    target: Ref
    value: Ref


@dataclass
class Call:
    method: object
    owner: object
    args: tuple
    kwargs: dict


@dataclass
class Program:
    """The recorded step: nodes in order, slot count, and how to rebuild the outputs."""

    nodes: list = field(default_factory=list)
    n_slots: int = 0
    output: object = None  # the step's return value with Tensors replaced by Refs
    modules: list = field(default_factory=list)  # (module, training) read during capture


class Capture:
    """Installed while a step runs eagerly; turns what it does into a Program."""

    def __init__(self, args: tuple, keep_values: bool = False):
        self.program = Program()
        self.values: dict[int, np.ndarray] | None = {} if keep_values else None
        self._slot_of: dict[int, int] = {}  # id(array) -> slot
        self._keep: list = []  # arrays whose ids are in _slot_of stay alive
        self._args = {id(a._data): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self._depth = 0  # > 0 inside an opaque call: its inner ops are not recorded

    # ---- the hooks eager code calls ------------------------------------------------------
    def on_op(self, op, inputs, params, outs) -> None:
        if self._depth:
            return
        refs = tuple(self.ref(x) if isinstance(x, Tensor) else x for x in inputs)
        meta = tuple(_meta(o) for o in outs) if op.n_outputs > 1 else _meta(outs[0])
        slots = tuple(self._new_slot(o._data) for o in outs)
        if self.values is not None:
            self.values.update((k, np.array(o._data, copy=True)) for k, o in zip(slots, outs))
        in_dtypes = tuple(x.dtype if isinstance(x, Tensor) else None for x in inputs)
        self.program.nodes.append(OpNode(op, meta, refs, dict(params), slots, in_dtypes))

    def on_set_grad(self, tensor, grad) -> None:
        if not self._depth:
            self.program.nodes.append(SetGrad(tensor, None if grad is None else self.ref(grad)))

    def on_write(self, tensor, array) -> None:
        if not self._depth:
            value = self._ref_array(array, None)
            self.program.nodes.append(Write(self.ref(tensor), value))

    def on_call(self, method, owner, args, kwargs):
        outer = not self._depth
        if outer:
            self.program.nodes.append(Call(method, owner, args, kwargs))
        self._depth += 1
        try:
            return method(owner, *args, **kwargs)
        finally:
            self._depth -= 1

    def on_host_sync(self, what: str) -> None:
        if self._depth:  # an opaque call (optimizer.step) may read numbers: it replays whole
            return
        where = _user_frame()
        raise TraceError(
            f"minitorch.compile: .{what}() at {where} reads a tensor's value into Python while "
            "tracing a step; the trace cannot hold a Python value that changes each step. Move "
            f"it out of the compiled function (return the tensor and call .{what}() on the "
            'result), or compile with fallback="eager" to run this function eagerly.'
        )

    def on_module_call(self, module) -> None:
        self.program.modules.append((module, module.training))

    # ---- refs ------------------------------------------------------------------------------
    def ref(self, t: Tensor) -> Ref:
        return self._ref_array(t._data, t)

    def _ref_array(self, array, tensor) -> Ref:
        slot = self._slot_of.get(id(array))
        if slot is not None:
            return Ref("slot", slot)
        arg = self._args.get(id(array))
        if arg is not None:
            return Ref("arg", arg)
        if tensor is not None:
            return Ref("tensor", tensor)
        return Ref("const", array)

    def _new_slot(self, array) -> int:
        slot = self.program.n_slots
        self.program.n_slots += 1
        self._slot_of[id(array)] = slot
        self._keep.append(array)
        return slot

    def finish(self, result) -> Program:
        self.program.output = _map_tensors(result, self.ref)
        self._keep.clear()
        _freeze_temporaries(self.program.nodes)
        return self.program

    # ---- install / remove ------------------------------------------------------------------
    def __enter__(self):
        if registry.recorder[0] is not None or jit_guard.capture[0] is not None:
            raise TraceError(
                "minitorch.compile: a compiled function called another one while "
                "tracing; nested compiled functions are not supported yet"
            )
        registry.recorder[0] = self.on_op
        jit_guard.capture[0] = self
        jit_guard._guard[0] = self.on_host_sync
        return self

    def __exit__(self, *exc):
        registry.recorder[0] = None
        jit_guard.capture[0] = None
        jit_guard._guard[0] = None


def _freeze_temporaries(nodes) -> None:
    """Turn refs to tensors that only the trace still holds into constants.

    A tensor the step created outside the registry (torch.tensor(...), new_full for a dropout
    probability) and then dropped can change only through the trace itself: when no write
    targets it, its value is a constant, which constant folding may then compute ahead.
    """
    holders: dict[int, int] = {}
    written = {
        id(n.target.key) for n in nodes if isinstance(n, Write) and n.target.kind == "tensor"
    }
    for node in nodes:
        for r in _node_refs(node):
            if r.kind == "tensor":
                holders[id(r.key)] = holders.get(id(r.key), 0) + 1
    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(_frozen(x, holders, written) for x in node.inputs)


def _frozen(x, holders, written):
    if not (isinstance(x, Ref) and x.kind == "tensor") or id(x.key) in written:
        return x
    # getrefcount counts its own argument, then one per Ref holding the tensor
    if sys.getrefcount(x.key) - 1 <= holders[id(x.key)]:
        return Ref("const", x.key._data)
    return x


def _node_refs(node) -> list:
    if isinstance(node, OpNode):
        return [x for x in node.inputs if isinstance(x, Ref)]
    if isinstance(node, Write):
        return [node.target, node.value]
    if isinstance(node, SetGrad):
        return [] if node.value is None else [node.value]
    return []


def _meta(t: Tensor) -> registry.Meta:
    return registry.Meta(tuple(t.shape), t.dtype)


def _map_tensors(value, fn):
    """value with every Tensor replaced by fn(tensor), through tuples, lists and dicts."""
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, (tuple, list)):
        mapped = [_map_tensors(v, fn) for v in value]
        return type(value)(mapped) if not hasattr(value, "_fields") else type(value)(*mapped)
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    return value


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frame() -> str:
    """file:line of the innermost frame outside minitorch (the user's code)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE):
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def closure_numbers(fn) -> dict:
    """The Python numbers, strings and bools a function reads from its closure and globals:
    a trace freezes them, so the compiled function guards on their values."""
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    values = {}
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            values[f"closure {name}"] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    for name in code.co_names:
        if name in fn.__globals__:
            values[f"global {name}"] = fn.__globals__[name]
    return {k: v for k, v in values.items() if isinstance(v, (bool, int, float, str))}
