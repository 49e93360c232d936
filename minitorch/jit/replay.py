"""Replay: turn a Program into one straight-line Python function (the step's driver).

The driver calls each op's forward on arrays directly: no shape inference, no Tensor objects,
no tape, no dispatch, so a replayed step pays only for its kernels and one Python call per
op. Its source is kept (`Replayer.source`) so `explain()` can show exactly what runs.
"""

from __future__ import annotations

import functools
import math
from sys import getrefcount

import numpy as np

from .. import dtypes
from ..kernels import cpu
from ..tensor import Tensor, wrap
from . import devices, passes
from .trace import Call, OpNode, Program, Ref, SetGrad, Write, map_leaves, node_refs, refs_in


class Replayer:
    def __init__(self, program: Program, fuse: bool = True):
        self.ops_captured = sum(isinstance(n, OpNode) for n in program.nodes)
        nodes, self.folded, folded_values = passes.fold_constants(program.nodes)
        nodes, alias, self.merged = passes.eliminate_common(nodes)
        output = _rename_output(program.output, alias, folded_values)
        live = [r.key for r in refs_in(output) if r.kind == "slot"]
        nodes, self.dead = passes.eliminate_dead(nodes, set(live))
        uses = passes.count_uses(nodes, live)
        nodes, self.fused = passes.fuse_elementwise(nodes, uses) if fuse else (nodes, 0)
        nodes, self.epilogues = passes.fuse_epilogues(nodes, uses) if fuse else (nodes, 0)
        nodes, self.reductions = passes.fuse_reductions(nodes, uses) if fuse else (nodes, 0)
        self.nodes, self._output = nodes, output
        self.ops = sum(isinstance(n, OpNode) for n in nodes)
        self.tensors = _tensor_guards(nodes)
        self._emit = functools.partial(_emit, nodes, output, _slot_dtypes(nodes))
        # The first replay notes the kernel each elementwise node runs (_Recorder); the next
        # ones call those kernels directly.
        self._recorder = _Recorder(nodes)
        self.source, self._run = self._emit(recorder=self._recorder)
        self.direct = 0  # nodes replayed as direct kernel calls or plans (see _Recorder)
        # outputs written into arrays of the driver's own (_plan_buffers): intermediates into
        # views of one array (the arena), outputs that leave the step into arrays recycled once
        # nothing outside holds them (_Recycled)
        self.planned, self.planned_nodes, self.arena, self.recycled = 0, 0, None, []

    def guard_failure(self) -> str | None:
        """Why the tensors the trace reads no longer match it, or None."""
        for t, shape, dtype, strides, requires_grad in self.tensors:
            if getattr(t, "requires_grad", None) is not requires_grad:
                return (
                    f"a {tuple(shape)} tensor the step reads changed requires_grad from "
                    f"{requires_grad} to {t.requires_grad} (a frozen or unfrozen parameter)"
                )
            data = t._data
            if data.shape != shape or t.dtype is not dtype:
                return (
                    f"a tensor the step reads changed from {tuple(shape)} {dtype} to "
                    f"{tuple(data.shape)} {t.dtype}"
                )
            if data.strides != strides:
                return (
                    f"a {tuple(shape)} tensor the step reads changed its strides from "
                    f"{strides} to {data.strides} (its kernels were chosen for that layout)"
                )
        return None

    def __call__(self, args: tuple):
        result = self._run([a._data if isinstance(a, Tensor) else a for a in args], args)
        if self._recorder is not None:
            recorder, self._recorder = self._recorder, None
            plans = recorder.plans
            planned = _plan_buffers(
                self.nodes, self._output, plans, recorder.fill_out, recorder.fresh
            )
            self.source, self._run = self._emit(plans=plans, planned=planned)
            self.direct = len(plans)
            entries = [x for outs in planned.values() for x in outs]
            self.planned, self.planned_nodes = len(entries), len(planned)
            views = [a for a in entries if isinstance(a, np.ndarray)]  # of one array
            self.arena = views[0].base if views else None
            self.recycled = [x for x in entries if isinstance(x, _Recycled)]
        return result


def _tensor_guards(nodes) -> list:
    seen, guards = set(), []
    for node in nodes:
        for r in node_refs(node):
            if r.kind == "tensor" and id(r.key) not in seen:
                seen.add(id(r.key))
                data = r.key._data
                requires_grad = getattr(r.key, "requires_grad", None)  # (not a LiveGrad's)
                guards.append((r.key, data.shape, r.key.dtype, data.strides, requires_grad))
    return guards


class _Recorder:
    """Wraps the ops' calls in the first replay (all but the views written inline) and keeps,
    per elementwise node, the compiled kernel elementwise() picked and the numbers among its
    operands; ops with a `plan` (reductions, products, reshape copies, gather, scatter...) give
    a function of their arrays instead. It also notes, for the memory plan, which nodes'
    outputs share no memory with their inputs and which `writes_out` ops laid theirs out in C
    order.

    NOTE: a kernel is picked from its operands' shapes and layouts, and those repeat in every
    replay: the step's tensors are guarded (shapes, strides, dtypes) and each op lays out its
    output the same way for the same inputs. Calling the kernel directly skips ~2-4 us of
    Python per node (operand checks, casts, kernel lookup), a tenth of a small step.
    """

    def __init__(self, nodes):
        self.nodes = nodes
        self.plans: dict[int, tuple] = {}  # node index -> (kernel, numbers among its operands)
        # nodes whose op writes into given arrays (Op.writes_out) and laid its outputs out as
        # those would be (C order): later replays may hand it arrays to fill
        self.fill_out: set[int] = set()
        # nodes whose outputs share no memory with their inputs (no views): layouts repeat,
        # so neither will later replays' (see _plan_buffers)
        self.fresh: set[int] = set()

    def __call__(self, i, forward, meta, *arrays, **params):
        out = forward(meta, *arrays, **params)
        op = self.nodes[i].op
        outs = out if len(self.nodes[i].outputs) > 1 else (out,)
        inputs = [a for a in arrays if isinstance(a, np.ndarray)]
        if not any(np.may_share_memory(x, a) for x in outs for a in inputs):
            self.fresh.add(i)
        if getattr(op, "writes_out", False) and all(x.flags.c_contiguous for x in outs):
            self.fill_out.add(i)
        if hasattr(op, "plan"):  # a function of the arrays that repeats this call
            plan = op.plan(meta, arrays, params, out)
            if plan is not None:
                self.plans[i] = (plan,)
            return out
        direct = op.direct(meta, arrays) if hasattr(op, "direct") else None
        if direct is not None and out.size:
            expr, operands = direct
            kernel = cpu.elementwise_for((expr,), out, operands)
            # keep the numbers only: holding this replay's arrays would keep them alive
            refs = self.nodes[i].inputs
            numbers = [None if isinstance(r, Ref) else x for r, x in zip(refs, operands)]
            self.plans[i] = (kernel, numbers)
        return out

    @staticmethod
    def wants(node) -> bool:
        """Every CPU op but views the driver writes inline."""
        if not isinstance(node, OpNode) or node.cuda:
            return False
        return hasattr(node.op, "plan") or not hasattr(node.op, "inline")


def _slot_dtypes(nodes) -> dict[int, object]:
    found = {}
    for node in nodes:
        if isinstance(node, OpNode):
            metas = node.meta if len(node.outputs) > 1 else (node.meta,)
            found.update((s, m.dtype) for s, m in zip(node.outputs, metas))
    return found


def _rename_output(value, alias, folded):
    def rename(r: Ref) -> Ref:
        if r.kind != "slot":
            return r
        if r.key in folded:
            return Ref("const", folded[r.key])
        return Ref("slot", alias.get(r.key, r.key))

    return map_leaves(value, Ref, rename)


class _Emitter:
    """Writes the driver's source; objects it needs become names in its namespace."""

    def __init__(self, slot_dtypes):
        self.lines: list[str] = []
        self.names: dict[str, object] = {"wrap": wrap, "copy": devices.copy, "write": devices.write}
        self.slot_dtypes = slot_dtypes
        self._ids: dict[int, str] = {}

    def name(self, obj, prefix: str) -> str:
        key = id(obj)
        if key not in self._ids:
            self._ids[key] = f"{prefix}{len(self._ids)}"
            self.names[self._ids[key]] = obj
        return self._ids[key]

    def value(self, x) -> str:
        """Source for an array operand (or a plain number)."""
        if not isinstance(x, Ref):
            return self.name(x, "k")
        if x.kind == "slot":
            return f"s{x.key}"
        if x.kind == "arg":
            return f"args[{x.key}]"
        if x.kind == "tensor":
            return f"{self.name(x.key, 't')}._data"
        return self.name(x.key, "c")

    def tensor(self, x) -> str:
        """Source for a fresh Tensor holding a Ref's current array."""
        if x.kind == "tensor":
            return self.name(x.key, "t")
        if x.kind == "arg":  # an argument returned as is: the caller's tensor
            return f"targs[{x.key}]"
        if x.kind == "detached":  # x.detach() of an argument or a tensor the step reads
            return f"{self.tensor(x.key)}.detach()"
        if x.kind == "slot":
            return f"wrap({self.value(x)}, {self.name(self.slot_dtypes[x.key], 'd')})"
        dtype = self.name(dtypes.to_dtype(np.dtype(x.key.dtype)), "d")
        return f"wrap(copy({self.value(x)}), {dtype})"  # a folded constant: a fresh copy

    def node(self, node, record: str = "", buffers=None) -> None:
        """The node's line; `record` (a recorder call's head) wraps an op's call; `buffers`
        (see _plan_buffers) are the arrays an op that writes its outputs into given ones
        fills."""
        if isinstance(node, OpNode) and hasattr(node.op, "inline") and not node.cuda and not record:
            # NOTE: a view op as a numpy method call: ~0.3 us against ~1-1.5 us for the op's
            # forward through its keyword arguments
            template, constants = node.op.inline(node.meta, node.params)
            names = [self.name(c, "k") for c in constants]
            expr = template.format(self.value(node.inputs[0]), *names)
            self.lines.append(f"s{node.outputs[0]} = {expr}  # {node.op.name}")
        elif isinstance(node, OpNode):
            outs = ", ".join(f"s{s}" for s in node.outputs)
            operands = ", ".join(self.value(x) for x in node.inputs)
            fn = self.name(devices.forward_of(node.op, node.cuda), "f")
            meta = self.name(node.meta, "m")
            params = self.name(node.params, "p")
            call = f"{record}{fn}, " if record else f"{fn}("
            out = f"out={self.buffers(buffers)}, " if buffers else ""
            self.lines.append(
                f"{outs} = {call}{meta}, {', '.join(filter(None, [operands]))}"
                f"{', ' if operands else ''}{out}**{params})  # {node.op.name}"
            )
        elif isinstance(node, SetGrad):
            value = "None" if node.value is None else self.tensor(node.value)
            target = self.name(node.tensor, "t") if node.arg is None else f"targs[{node.arg}]"
            self.lines.append(f"{target}.grad = {value}")
        elif isinstance(node, Write):
            target = self.value(node.target)
            self.lines.append(f"write({target}, {self.value(node.value)})")
        elif isinstance(node, Call):
            method, owner = self.name(node.method, "call"), self.name(node.owner, "o")
            args, kwargs = self.output(node.args), self.output(node.kwargs)
            self.lines.append(f"{method}({owner}, *{args}, **{kwargs})")

    def buffers(self, entries) -> str:
        """Source for the arrays a node's outputs go into (one, or a tuple of them)."""
        names = [
            f"{self.name(x, 'buf')}.take()" if isinstance(x, _Recycled) else self.name(x, "buf")
            for x in entries
        ]
        return names[0] if len(names) == 1 else f"({', '.join(names)},)"

    def direct(self, node, kernel, numbers=None, buffers=None) -> None:
        """The node as a call of its kernel on `buffers` (see _plan_buffers: every direct
        kernel call gets one), or (without operands) as a call of the op's plan for its
        arrays (see _Recorder)."""
        buffer = self.buffers(buffers) if buffers else None
        if numbers is None:
            outs = ", ".join(f"s{s}" for s in node.outputs)
            operands = ", ".join(
                [self.value(x) for x in node.inputs] + [f"out={buffer}"] * bool(buffer)
            )
            plan = self.name(kernel, "plan")
            self.lines.append(f"{outs} = {plan}({operands})  # {node.op.name}")
            return
        (out,) = node.outputs
        operands = [
            self.value(x) if isinstance(x, Ref) else self.name(number, "k")
            for x, number in zip(node.inputs, numbers)
        ]
        self.lines.append(f"s{out} = {buffer}")
        kernel = self.name(kernel, "kernel")
        self.lines.append(f"{kernel}(s{out}, {', '.join(operands)})  # {node.op.name}")

    def output(self, value) -> str:
        if isinstance(value, Ref):
            return self.tensor(value)
        if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
            inner = ", ".join(self.output(v) for v in value)
            if isinstance(value, list):
                return f"[{inner}]"
            return f"({inner},)" if inner else "()"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k!r}: {self.output(v)}" for k, v in value.items()) + "}"
        if isinstance(value, (tuple, list)):  # a named tuple
            inner = ", ".join(self.output(v) for v in value)
            return f"{self.name(type(value), 'T')}({inner})"
        return self.name(value, "k")


def _emit(nodes, output, slot_dtypes, recorder=None, plans=None, planned=None):
    """The driver's source and function; with a recorder, the elementwise nodes' calls go
    through it; nodes in `plans` call their kernels directly, those in `planned` on the
    driver's own output array."""
    e = _Emitter(slot_dtypes)
    if recorder is not None:
        e.names["record"] = recorder
    last_use = _last_uses(nodes, output)
    planned = planned or {}
    for i, node in enumerate(nodes):
        if plans and i in plans:
            e.direct(node, *plans[i], buffers=planned.get(i))
        else:
            wrap_call = recorder is not None and _Recorder.wants(node)
            e.node(node, f"record({i}, " if wrap_call else "", planned.get(i))
        dead = [f"s{k}" for k in _slots_of(node) if last_use.get(k, i) == i]
        if dead:
            # NOTE: free each intermediate after its last reader, as eager's autograd does when
            # it releases saved tensors: a driver holding every local to the end doubled the
            # transformer step's peak memory.
            e.lines.append(f"del {', '.join(dead)}")
    body = "\n".join(f"    {line}" for line in e.lines) or "    pass"
    source = f"def replay(args, targs):\n{body}\n    return {e.output(output)}\n"
    namespace = dict(e.names)
    exec(compile(source, "<minitorch.compile replay>", "exec"), namespace)  # noqa: S102
    return source, namespace["replay"]


def _plan_buffers(nodes, output, plans, fill_out, fresh) -> dict[int, list]:
    """The arrays each node that can fill given ones writes its outputs into (node index ->
    one entry per output): the elementwise nodes the driver calls directly, plans that take
    `out=` (products, reductions) and ops that write into `out=` (`writes_out`: convolutions,
    pooling, layer norm, softmax, random draws...) whose first replay laid out their outputs
    as a given array is (`fill_out`): later kernels were picked for that layout.

    An intermediate goes into a view of one array the driver keeps (the arena), at an offset
    no other intermediate alive at the same time uses (_arena_offsets): alive from its node to
    the last reader of it or of views of it; every later replay writes the same views.
    An output that may leave the step (returned, set as a gradient, written or passed to a
    call, or a view of one of those) goes into a _Recycled array instead, which the next
    replay reuses only once nothing outside the driver holds it. The outputs of an op that
    fills no given array count as views of all its inputs unless its first replay's outputs
    shared no memory with them (`fresh`).
    """
    parent: dict[int, int] = {}

    def root(k: int) -> int:
        while parent.get(k, k) != k:
            k = parent[k]
        return k

    fills = [_fills(plans.get(i), i in fill_out) for i in range(len(nodes))]
    for i, node in enumerate(nodes):
        if isinstance(node, OpNode) and not fills[i] and i not in fresh:
            slots = [r.key for r in node_refs(node) if r.kind == "slot"] + list(node.outputs)
            for k in slots[1:]:
                parent[root(k)] = root(slots[0])
    escaping = {root(r.key) for r in refs_in(output) if r.kind == "slot"}
    for node in nodes:
        if not isinstance(node, OpNode):  # gradients set, writes, calls
            escaping.update(root(r.key) for r in node_refs(node) if r.kind == "slot")
    end: dict[int, int] = {}  # alias group -> index of the last node reading any of it
    for k, i in _last_uses(nodes, output).items():
        end[root(k)] = max(end.get(root(k), i), i)
    places = {}  # (node index, output) -> a _Recycled, or (shape, dtype) of an intermediate
    lifetimes, sizes = {}, {}  # of the intermediates: (node, last reader), bytes
    for i, node in enumerate(nodes):
        if not fills[i]:
            continue
        metas = node.meta if len(node.outputs) > 1 else (node.meta,)
        for k, (slot, meta) in enumerate(zip(node.outputs, metas)):
            shape, dtype = tuple(meta.shape), meta.dtype.np
            if root(slot) in escaping:
                places[i, k] = _Recycled(shape, dtype)
                continue
            places[i, k] = shape, dtype
            lifetimes[i, k] = i, end[root(slot)]
            sizes[i, k] = math.prod(shape) * dtype.itemsize
    total, offsets = _arena_offsets(lifetimes, sizes)
    arena = np.empty(total, np.uint8)
    planned: dict[int, list] = {}
    for key, place in places.items():
        if key in offsets:
            shape, dtype = place
            place = arena[offsets[key] : offsets[key] + sizes[key]].view(dtype).reshape(shape)
        planned.setdefault(key[0], []).append(place)
    return planned


def _arena_offsets(lifetimes: dict, sizes: dict) -> tuple[int, dict]:
    """(arena bytes, key -> offset) for outputs alive over lifetimes[key] = (first node, last
    reader), each sizes[key] bytes: largest first, each at the lowest offset (a multiple of 64)
    where it overlaps no placed output alive at the same time (greedy by size).

    NOTE: buffers kept per exact shape held 9.8 MiB for the transformer step; whole buffers
    shared largest first, 4.1 MiB for cifar_cnn's intermediates, which peak at 3.1 MiB."""
    placed: list[tuple] = []  # (offset, end, first, last)
    offsets = {}
    for key in sorted(lifetimes, key=lambda key: (-sizes[key], key)):
        (first, last), size, offset = lifetimes[key], sizes[key], 0
        while clash := [
            hi
            for lo, hi, f, e in placed
            if f <= last and first <= e and lo < offset + size and offset < hi
        ]:
            offset = -(-min(clash) // 64) * 64  # past the lowest one in the way, aligned
        placed.append((offset, offset + size, first, last))
        offsets[key] = offset
    return max((hi for _, hi, _, _ in placed), default=0), offsets


def _fills(plan, writes_out: bool) -> bool:
    """Whether a node's outputs can go into arrays the driver gives it (see _plan_buffers)."""
    if plan is not None:
        return len(plan) == 2 or getattr(plan[0], "takes_out", False)
    return writes_out


class _Recycled:
    """The array an output that leaves the step is written into, kept for the next replay,
    which writes into it again only if nothing outside the driver holds it any more: no
    tensor, view or buffer export of it is alive (its reference count says so). Otherwise
    the replay takes its second array, or a fresh one, so what a caller holds from one replay
    is never overwritten by the next. Two arrays serve `loss = step()`, where the caller
    still holds the last replay's loss while the next one runs.
    """

    __slots__ = ("arrays", "shape", "dtype")

    def __init__(self, shape: tuple, dtype):
        # NOTE: the first array is made by the first replay that takes it: made with the plan,
        # it sat beside the first replay's outputs (the gradients the caller still held), and
        # the suite's peak memory counted the mlp's gradients twice
        self.arrays, self.shape, self.dtype = [], shape, dtype

    def take(self) -> np.ndarray:
        arrays = self.arrays
        for a in arrays:
            if getrefcount(a) == _HELD_BY_LIST_ONLY:
                return a
        fresh = np.empty(self.shape, self.dtype)
        arrays[:] = [*arrays[-1:], fresh]
        return fresh


def _count_held_by_list_only() -> int:
    """getrefcount of an array only a list holds, read as take() reads it: 3 on CPython 3.11
    (the list, the loop variable, getrefcount's argument). Measured, not assumed, as an
    interpreter that borrows the loop variable's reference would count one fewer, and take()
    would then reuse an array a caller still holds."""
    arrays = [np.empty(0)]
    for a in arrays:
        return getrefcount(a)
    raise AssertionError


_HELD_BY_LIST_ONLY = _count_held_by_list_only()


def _slots_of(node) -> list[int]:
    """The slots a node reads or produces."""
    read = [r.key for r in node_refs(node) if r.kind == "slot"]
    return list(dict.fromkeys(read + list(getattr(node, "outputs", ()))))


def _last_uses(nodes, output) -> dict[int, int]:
    """Slot -> index of the last node that reads (or produces) it; output slots never die."""
    last = {}
    for i, node in enumerate(nodes):
        for k in _slots_of(node):
            last[k] = i
    for r in refs_in(output):
        if r.kind == "slot":
            last[r.key] = len(nodes)
    return last


def interpret(nodes, args: tuple) -> dict[int, np.ndarray]:
    """Run nodes one by one and return every slot's value as its op produced it (for
    check=True: slow but plain)."""
    slots: dict[int, np.ndarray] = {}
    produced: dict[int, np.ndarray] = {}  # each slot's value when its op ran

    def value(x):
        if not isinstance(x, Ref):
            return x
        return {
            "slot": lambda k: slots[k],
            "arg": lambda k: args[k]._data,
            "tensor": lambda k: k._data,
            "const": lambda k: k,
        }[x.kind](x.key)

    for node in nodes:
        if isinstance(node, OpNode):
            forward = devices.forward_of(node.op, node.cuda)
            result = forward(node.meta, *map(value, node.inputs), **node.params)
            results = result if len(node.outputs) > 1 else (result,)
            slots.update(zip(node.outputs, results))
            produced.update((k, devices.host(r)) for k, r in zip(node.outputs, results))
        elif isinstance(node, SetGrad):
            v = None if node.value is None else value(node.value)
            target = node.tensor if node.arg is None else args[node.arg]
            target.grad = None if v is None else _tensor(v)
        elif isinstance(node, Write):
            devices.write(value(node.target), value(node.value))
        elif isinstance(node, Call):
            passed = map_leaves((node.args, node.kwargs), Ref, lambda r: _tensor(value(r)))
            node.method(node.owner, *passed[0], **passed[1])
    return produced


def _tensor(array) -> Tensor:
    return wrap(array, dtypes.to_dtype(array.dtype))
