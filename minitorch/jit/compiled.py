"""CompiledFunction: guards, warm-up, capture, replay, statistics and explain()."""

from __future__ import annotations

import re
import time
import types
import warnings
import weakref
from dataclasses import dataclass, field

import numpy as np

from .. import jit_guard
from ..autograd.grad_mode import state
from ..dtypes import get_default_dtype
from ..kernels.cpu import compiler
from ..tensor import Tensor
from .check import check_replay
from .passes import Epilogue, FusedElementwise, FusedReduction
from .replay import Replayer
from .trace import (
    HOOK_TABLES,
    NO_PYTHON,
    Capture,
    TraceError,
    autograd_numbers,
    by_identity,
    container_contents,
    equal_value,
    exact,
    forward_numbers,
    is_record,
    map_leaves,
    module_numbers,
    optimizer_state_reads,
    qualname,
    read_watched,
    rebound,
    record_fields,
    short,
    step_function,
    step_reads,
    touched_tensors,
)


def _graph_left_to_caller(result) -> str | None:
    """Why a traced call cannot be replayed when it returns a tensor whose autograd graph the
    caller may still run backward through (a compiled model's forward in a training loop, or a
    loss the step returns without a backward of its own): a replay returns the values, not
    the graph, so those gradients would be lost. None otherwise."""
    outputs: list = []
    map_leaves(result, Tensor, outputs.append)
    if not any(t.requires_grad and _reaches_leaves(t.grad_fn) for t in outputs):
        return None
    return (
        "it returns a tensor that requires grad and whose graph no backward inside it has "
        "run through, so the caller may backward through that graph, which a replay does not "
        "build"
    )


def _reaches_leaves(grad_fn) -> bool:
    """Whether a backward from grad_fn would reach a leaf that requires grad (a parameter, an
    input) through nodes that no backward has released. A training step's loss, backwarded
    inside it, reaches none; nor does a sum of such losses (`total = total + loss`)."""
    todo, seen = [grad_fn], set()
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen or getattr(node, "released", False):
            continue
        seen.add(id(node))
        for parent, need in zip(node.parents, node.needs_input_grad):
            if need and parent is None:
                return True
            todo.append(parent)
    return False


# A step whose guards keep changing would retrace forever; past this many retraces of one
# function it runs eagerly, with a warning that says why (never silently).
RETRACE_LIMIT = 8
TRACES_PER_KEY = 4  # kept per guard key (states a step alternates between), oldest dropped
# New argument sizes alone (variable sequence lengths, a short last batch) retrace without
# counting against the limit until this many guard keys have traces: each such retrace
# compiles no kernel (they are shape-polymorphic) and its trace then replays every time the
# sizes come back.
SIZE_KEYS = 32


@dataclass
class Stats:
    """What the benchmarks read: counts and seconds, updated as the function runs."""

    calls: int = 0
    eager_calls: int = 0
    replays: int = 0
    traces: int = 0
    trace_seconds: float = 0.0
    ops_captured: int = 0  # registry ops in the last trace
    ops_replayed: int = 0  # after folding, merging and dead-code removal
    retraces: list = field(default_factory=list)  # one reason per retrace


@dataclass
class _Build:
    """What one trace cost: Numba's work during its warm-up call, its capture and its first
    replay (where fused kernels are first called), and the capture's seconds. Kernels that
    were loaded in the process before are not counted again."""

    trace_seconds: float = 0.0
    numba_compiles: int = 0
    numba_seconds: float = 0.0
    kernels: list = field(default_factory=list)  # compiler.Kernel loaded for this trace
    done: bool = False  # the first replay ran

    @staticmethod
    def start() -> tuple:
        return (
            compiler.stats.numba_compiles,
            compiler.stats.compile_seconds,
            len(compiler.kernels()),
        )

    def add(self, before: tuple) -> None:
        compiles, seconds, n_kernels = before
        self.numba_compiles += compiler.stats.numba_compiles - compiles
        self.numba_seconds += compiler.stats.compile_seconds - seconds
        self.kernels += compiler.kernels()[n_kernels:]


@dataclass
class _Trace:
    """One trace of the step and what decides whether it still matches a call."""

    replayer: Replayer
    checks: tuple  # see _dynamic_checks
    build: _Build
    checked: bool = False  # check=True compared its first replay with eager


class CompiledFunction:
    """A step function that runs eagerly once, is traced on its second call, then replays.

    The trace is keyed by the guards of its inputs (shapes, dtypes, requires_grad of tensor
    arguments, also inside list/tuple/dict arguments; values of other arguments; grad mode) and
    checked against the values it read (module training flags, numbers in the function's
    closure and globals, the shapes of the tensors it reads). A call that matches no trace
    traces again, with the reason logged in `stats.retraces`; a few traces are kept per key,
    so a step that alternates between two states (train()/eval(), a frozen layer) replays both.
    """

    def __init__(
        self,
        fn,
        *,
        fallback: str = "error",
        check: bool = False,
        cache: bool = True,
        warmup: int = 1,
    ):
        if fallback not in ("error", "eager"):
            raise ValueError(
                f'minitorch.compile: fallback must be "error" or "eager", got {fallback!r}'
            )
        self.fn = fn
        self.fallback = fallback
        self.check = check
        self.cache = cache
        self.warmup = warmup
        self.stats = Stats()
        self._traces: dict = {}  # guard key -> [_Trace], the most recent last
        self._eager_reason: str | None = None  # why every call runs eagerly
        # guard key -> why its calls run eagerly: a call whose caller needs the autograd graph
        # (grad mode is in the key, so the same step under no_grad still traces and replays)
        self._eager_keys: dict = {}
        self._counted_retraces = 0  # those RETRACE_LIMIT counts (see SIZE_KEYS)
        self._calls = 0  # this function's own (stats are shared by a method's instances)
        self._traced = 0
        self._last_key = None
        self._warming: tuple | None = None  # (_Build, counters when the warm-up began)
        # compiled in a class body: where each instance keeps its own compiled method (see
        # __get__), and those alive (their traces are listed by explain())
        self._key = f"_compiled_{getattr(fn, '__qualname__', 'method')}"
        self._bound: weakref.WeakSet = weakref.WeakSet()
        self._parent: CompiledFunction | None = None  # the class's function, for a bound one
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        if not self.cache:  # kernels this step compiles stay off the disk
            with compiler.in_memory():
                return self._call(*args, **kwargs)
        return self._call(*args, **kwargs)

    def __set_name__(self, owner, name: str) -> None:
        self._key = f"_compiled_{owner.__qualname__}.{name}"

    def __get__(self, instance, owner=None):
        """@compile on a method in a class body: `obj.step` is a compiled function of obj's
        own (kept in obj.__dict__, so it dies with obj), the method bound to obj. One function
        for all instances retraced for each (its guards watch self.model, self.opt: a new
        Trainer per fold is other objects) and ran eagerly past RETRACE_LIMIT instances.
        Stats are shared; explain() on the class's function lists every instance's traces."""
        if instance is None:
            return self
        held = getattr(instance, "__dict__", None)
        if held is None:  # (__slots__: nowhere to keep one, one function serves all)
            return types.MethodType(self, instance)
        bound = held.get(self._key)
        # (a shallow copy of obj shares obj's dict entries: its own method is made anew)
        if getattr(bound, "_parent", None) is not self or bound.fn.__self__ is not instance:
            bound = CompiledFunction(
                types.MethodType(self.fn, instance),
                fallback=self.fallback,
                check=self.check,
                cache=self.cache,
                warmup=self.warmup,
            )
            bound.stats, bound._parent = self.stats, self
            self._bound.add(bound)
            held[self._key] = bound
        return bound

    def __reduce_ex__(self, protocol):
        """A copy or pickle of an object holding its compiled method (copy.deepcopy(trainer))
        holds None in its place (its traces read the original's tensors): the copy's method
        compiles for the copy at its first use."""
        if self._parent is None:
            return super().__reduce_ex__(protocol)
        return (_nothing, ())

    def replayers(self) -> list[Replayer]:
        """The replayers of the traces kept."""
        return [trace.replayer for _, trace in self._all_traces()]

    def _all_traces(self) -> list[tuple]:
        """(guard key, trace) of this function's traces and its instances' (see __get__)."""
        return [
            (key, trace)
            for fn in (self, *self._bound)
            for key, traces in fn._traces.items()
            for trace in traces
        ]

    def _call(self, *args, **kwargs):
        if jit_guard.capture[0] is not None:
            # called by a step being traced: its ops are that trace's (a replay of the outer
            # step replays them; refusing here made fallback="eager" rerun the outer step)
            return self.fn(*args, **kwargs)
        self.stats.calls += 1
        self._calls += 1
        positional = args
        if kwargs:
            args = args + tuple(kwargs.values())
            fn, names = self.fn, tuple(kwargs)
            call = lambda *a: fn(*a[: len(a) - len(names)], **dict(zip(names, a[-len(names) :])))  # noqa: E731
        else:
            call = self.fn
        # anomaly mode checks each backward node's gradients in Python, which a replay skips
        if self._eager_reason is not None or state.anomaly:
            return self._eager(call, args)
        # NOTE: the first calls run eagerly (they create optimizer state, compile the eager
        # kernels); after them every call that matches no trace traces at once, so arguments
        # that never repeat are retraced up to RETRACE_LIMIT and then run eagerly with a
        # warning, never eagerly in silence.
        if self._calls <= self.warmup:
            self._warming = self._warming or (_Build(), _Build.start())
            return self._eager(call, args)
        # flat: the tensors and numbers, also those inside list/tuple/dict arguments
        key, flat = _guard_key(args, kwargs)
        last_key, self._last_key = self._last_key, key
        if self._eager_keys and key in self._eager_keys:
            return self._eager(call, args)
        traces = self._traces.get(key, [])
        reason = None
        for trace in reversed(traces):
            stale = _stale(trace, flat)
            if stale is None:
                return self._replay(trace, call, args, flat)
            reason = reason or stale
        new_sizes = False
        if reason is None and self._traces:
            reason = _key_change(last_key, key)
            new_sizes = _only_sizes_differ(last_key, key) and len(self._traces) < SIZE_KEYS
        if reason is not None:
            self.stats.retraces.append(reason)
            self._counted_retraces += not new_sizes
        return self._trace(call, args, flat, key, (positional, kwargs))

    def _replay(self, trace: _Trace, call, args, flat):
        self.stats.replays += 1
        if self.check and not trace.checked:
            trace.checked = True  # checked once, then replayed at full speed
            return check_replay(trace.replayer, call, args, flat)
        if not trace.build.done:
            return self._first_replay(trace, flat)
        return trace.replayer(flat)

    # ---- the three ways to run ---------------------------------------------------------------
    def _eager(self, call, args):
        self.stats.eager_calls += 1
        return call(*args)

    def _trace(self, call, args, flat, key, passed: tuple):
        if self._counted_retraces >= RETRACE_LIMIT:
            last = self.stats.retraces[-1]
            self._eager_reason = f"traced {self._traced} times; last reason: {last}"
            hint = (
                " (a number passed in that changes every call is frozen into each trace: "
                "pass it as a tensor, torch.tensor(x), which a replay reads afresh)"
                if last.startswith("argument") and re.search(r"'value', '(int|float)'", last)
                else ""
            )
            warnings.warn(
                f"minitorch.compile({_name(self.fn)}): {self._eager_reason}; running it "
                f"eagerly from now on{hint}",
                RuntimeWarning,
                stacklevel=4,
            )
            return self._eager(call, args)
        start = time.perf_counter()
        build, before = self._warming or (_Build(), _Build.start())
        self._warming = None
        # NOTE: with fallback="eager" the capture runs the step to its end even past what it
        # cannot hold: rerunning the step after a failed capture ran part of it twice (an
        # optimizer step before a .item() was applied twice).
        watched = step_reads(self.fn, *passed)  # (passed: the call's args and kwargs)
        contents = container_contents(watched)
        optimizers = [v for v in [*flat, *(w[3] for w in watched)] if hasattr(v, "param_groups")]
        capture = Capture(flat, tolerate=self.fallback == "eager", optimizers=optimizers)
        try:
            arrays = [i for i, a in enumerate(flat) if isinstance(a, np.ndarray)]
            if arrays:
                raise TraceError(
                    f"minitorch.compile({_name(self.fn)}): argument {arrays[0]} is a numpy "
                    "array; a trace would freeze its values (it cannot tell when they change); "
                    'pass a tensor (torch.from_numpy(a)), or compile with fallback="eager".'
                )
            with capture:
                result = call(*args)
            changed = rebound(watched, contents)
            if changed:
                capture._fail(f"minitorch.compile: {changed}, {NO_PYTHON}")
            program = capture.finish(result)
        except TraceError as e:
            if self.fallback == "error":
                raise
            self._eager_reason = str(e)
            warnings.warn(f"{e} Running {_name(self.fn)} eagerly.", RuntimeWarning, stacklevel=4)
            if e is capture.failure:  # the step ran eagerly to its end: its result stands
                self.stats.eager_calls += 1
                return result
            return self._eager(call, args)  # refused before the step ran (a nested compile)
        needs_graph = _graph_left_to_caller(result)
        if needs_graph:  # the values would replay, the autograd graph would not
            self._eager_keys[key] = needs_graph
            warnings.warn(
                f"minitorch.compile({_name(self.fn)}): {needs_graph}; running it eagerly. "
                "Compile the whole training step (forward, backward, optimizer.step), or call "
                "it under torch.no_grad() for inference.",
                RuntimeWarning,
                stacklevel=4,
            )
            self.stats.eager_calls += 1
            return result
        numbers: list = []
        map_leaves(program.output, (int, float), numbers.append)
        if numbers:
            warnings.warn(
                f"minitorch.compile({_name(self.fn)}): the step returns Python numbers "
                f"({', '.join(map(repr, numbers[:3]))}); every replay returns these values of "
                "the traced call (a replay runs no Python). Return tensors for values that "
                "change between calls, or read them (a learning rate) after the call.",
                RuntimeWarning,
                stacklevel=4,
            )
        replayer = Replayer(program)
        build.trace_seconds = time.perf_counter() - start
        build.add(before)
        traces = self._traces.setdefault(key, [])
        tensors = [t for t, *_ in replayer.tensors]
        watched += capture.group_reads + list(capture.env_reads.values())
        watched += optimizer_state_reads(capture.optimizers, tensors)
        checks = _dynamic_checks(watched, program, flat)
        traces.append(_Trace(replayer, checks, build))
        del traces[:-TRACES_PER_KEY]
        self.stats.traces += 1
        self._traced += 1
        self.stats.trace_seconds += build.trace_seconds
        self.stats.ops_captured = replayer.ops_captured
        self.stats.ops_replayed = replayer.ops
        return result

    def _first_replay(self, trace: _Trace, flat):
        build = trace.build
        before = build.start()
        try:
            return trace.replayer(flat)
        finally:
            build.add(before)
            build.done = True

    # ---- reporting ----------------------------------------------------------------------------
    def explain(self) -> str:
        """Traces, their size after each pass, retrace reasons and the replayed driver."""
        s = self.stats
        lines = [
            f"minitorch.compile({_name(self.fn)}): {s.calls} calls: {s.eager_calls} eager, "
            f"{s.traces} traced ({s.trace_seconds * 1e3:.1f} ms), {s.replays} replayed",
        ]
        for fn in (self, *self._bound):  # (a method's instances: see __get__)
            whose = f" for {_name(fn.fn)} of one instance" if fn is not self else ""
            if fn._eager_reason:
                lines.append(f"running eagerly{whose}: {fn._eager_reason}")
            for key, reason in fn._eager_keys.items():
                lines.append(f"running eagerly{whose} for {_describe_key(key)}: {reason}")
        for reason in s.retraces:
            lines.append(f"retraced: {reason}")
        c = compiler.stats
        hits = sum(k.cache_hits for k in compiler.kernels())
        lines.append(
            f"kernel cache: {compiler.cache_dir()}; this process loaded "
            f"{len(compiler.kernels())} generated kernels ({hits} signatures from Numba's disk "
            f"cache), Numba compiled {c.numba_compiles} functions in {c.compile_seconds:.2f} s, "
            f"{c.cache_repairs} damaged cache entries rebuilt"
        )
        for key, trace in self._all_traces():
            r, build = trace.replayer, trace.build
            lines.append(
                f"trace for {_describe_key(key)}: {r.ops_captured} ops captured, "
                f"{r.folded} folded to constants, {r.merged} merged as duplicates, {r.dead} dead, "
                f"{r.fused} fused into their neighbours, {r.epilogues} run as epilogues of "
                f"matrix products or convolutions, {r.reductions} folded by the reduction "
                f"reading them, {r.ops} replayed ({r.direct} as direct kernel calls or plans: "
                "elementwise ops, reductions, products...), "
                f"{len(r.nodes) - r.ops} effects"
            )
            if r.planned:
                size = 0 if r.arena is None else r.arena.nbytes / 2**10
                lines.append(
                    f"  memory plan: {r.planned} outputs written into arrays kept from replay to "
                    f"replay: {r.planned - len(r.recycled)} intermediates into one array "
                    f"({size:.0f} KiB), {len(r.recycled)} that leave the step (gradients, "
                    "returned tensors) into arrays recycled once nothing outside holds them; "
                    f"{r.ops - r.planned_nodes} ops' outputs (views, ops without `out=`) are not"
                )
            lines.append(
                f"  compile: traced in {build.trace_seconds * 1e3:.1f} ms; Numba compiled "
                f"{build.numba_compiles} functions in {build.numba_seconds:.2f} s during its "
                "warm-up, capture and first replay" + ("" if build.done else " (not replayed yet)")
            )
            for node in r.nodes:
                op = getattr(node, "op", None)
                if isinstance(op, (FusedElementwise, Epilogue, FusedReduction)):
                    lines.append(f"  fusion group {op.name}: {op.expr}{_how_run(op)}")
            lines.append(
                f"  generated kernels first loaded for this trace: {len(build.kernels)} (those "
                "loaded earlier in the process are listed under the trace that loaded them)"
            )
            for k in build.kernels:
                lines.append(
                    f"    {k.path or k.module + ' (in memory: cache=False)'} "
                    f"({_summary(k.dispatcher)}): {k.compiled} compiled, "
                    f"{k.cache_hits} from Numba's disk cache"
                )
            lines.append("driver source:")
            lines.append(r.source)
        return "\n".join(lines)


def _nothing() -> None:
    return None


def _summary(kernel) -> str:
    """The first line of a generated kernel's docstring: its pseudo-loop."""
    doc = (getattr(kernel, "__doc__", None) or "").strip().splitlines()
    line = doc[0] if doc else "kernel"
    return line if len(line) <= 100 else line[:97] + "..."


def _name(fn) -> str:
    """How messages name a compiled callable: Net.forward for compile(model) (not the
    library's Module.__call__), a partial's function, a callable object's __call__."""
    return qualname(step_function(fn)[0])


def _guard_key(args, kwargs) -> tuple[tuple, tuple]:
    """What a trace depends on in its arguments (a new key traces again), and the arguments
    with list/tuple/dict/dataclass ones replaced by their items, recursively, in the key's
    order (one walk makes both): the values a trace reads its tensors from (Ref("arg", i))."""
    # (the default dtype decides the dtype of the constants the step makes: torch.ones(3))
    parts = [("grad mode", state.enabled), ("kwargs", tuple(kwargs))]
    parts.append(("default dtype", get_default_dtype().name))
    flat: list = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):  # (the common case first: a replay's overhead)
            parts.append(_tensor_part(f"argument {i}", a))
            flat.append(a)
        else:
            _key_parts(f"argument {i}", a, parts, flat)
    # NOTE: a trace reads each array through one argument: traced as step(x, x), a call
    # step(x, y) read y for both
    arrays = [id(a._data) for a in flat if isinstance(a, Tensor)]
    if len(set(arrays)) < len(arrays):
        parts.append(("the same tensor passed twice", tuple(map(arrays.index, arrays))))
    return tuple(parts), tuple(flat)


def _tensor_part(label: str, a: Tensor) -> tuple:
    layout = "contiguous" if a.is_contiguous() else str(a.stride())
    part = (label, "tensor", tuple(a.shape), a.dtype.name, a.requires_grad, layout)
    return part + ((str(a.device),) if a.is_cuda else ())


def _key_parts(label: str, a, parts: list, flat: list) -> None:
    if isinstance(a, _CONTAINERS):  # a batch as (x, y) or {"x": ..}: its structure, then items
        items = a.items() if isinstance(a, dict) else enumerate(a)
        parts.append((label, type(a).__name__, tuple(a) if isinstance(a, dict) else len(a)))
        for k, v in items:
            _key_parts(f"{label}[{k!r}]", v, parts, flat)
        return
    if is_record(a):  # a dataclass batch: its type and fields
        fields = record_fields(a)
        parts.append((label, type(a).__qualname__, tuple(name for name, _ in fields)))
        for name, v in fields:
            _key_parts(f"{label}.{name}", v, parts, flat)
        return
    flat.append(a)
    if isinstance(a, Tensor):
        parts.append(_tensor_part(label, a))
        return
    try:
        hash(a)
        parts.append((label, "value", type(a).__name__, exact(a)))
    except TypeError:  # an object (a model, a numpy array): its identity
        parts.append((label, "object", id(a)))


_CONTAINERS = (tuple, list, dict)


def _only_sizes_differ(old: tuple | None, new: tuple) -> bool:
    """Whether two guard keys differ only in the sizes of tensor arguments (not their ranks,
    dtypes, layouts or anything else)."""
    if old is None or len(old) != len(new):
        return False
    return all(
        a == b or (a[1] == b[1] == "tensor" and len(a[2]) == len(b[2]) and a[3:] == b[3:])
        for a, b in zip(old, new)
    )


def _key_change(old: tuple, new: tuple) -> str:
    for a, b in zip(old, new):
        if not _same(a, b):
            return f"{a[0]} changed: {a[1:]} -> {b[1:]}"
    if len(old) != len(new):  # a part only one of them has (the same tensor passed twice)
        extra = max(old, new, key=len)[min(len(old), len(new))]
        return f"{extra[0]}: {'now' if len(new) > len(old) else 'no longer'}"
    return "the arguments changed"


def _same(a: tuple, b: tuple) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001  (a value whose == does not give a bool: an array field)
        return False


def _describe_key(key: tuple) -> str:
    tensors = [f"{p[2]}" for p in key if len(p) > 2 and p[1] == "tensor"]
    grad = "grad enabled" if key[0][1] else "grad disabled"
    return f"{', '.join(tensors) or 'no tensor arguments'} ({grad})"


def _dynamic_checks(watched: list, program, flat) -> tuple:
    """watched: the step's watched_numbers, read before it was traced (`rebound` saw they
    did not change); flat: the traced call's arguments."""
    held = module_numbers(program.called)
    # what modules hold is compared only after a module was assigned to (_Gated), but for
    # lists and dicts, which may change in place
    in_place = [w for w in held if isinstance(w[3], (list, dict))]
    modules = _Gated(*_split([w for w in held if not isinstance(w[3], (list, dict))]))
    # NOTE: the tensors the capture touched, not only those the replay reads: the hooks of a
    # weight whose forward output is dead after backward ran too (a removed one went unseen)
    holders = (program.called, touched_tensors(program.nodes))
    args = [a for a in flat if isinstance(a, Tensor)]
    code = forward_numbers(program.called)  # (and the hooks and Functions autograd ran:)
    code += autograd_numbers(holders[1] + args, program.functions)
    numbers, objects = _split(watched + in_place + code)
    grads = (program.grad_guards, program.arg_grad_guards)
    hooks = _Hooks(jit_guard.hooks_version[0], holders, _hook_state(*holders, flat))
    pinned = _pinned(flat, program, objects + modules.objects)
    return (program.modules, numbers, objects, *grads, hooks, modules, pinned)


def _split(watched: list) -> tuple[list, list]:
    """(entries compared by value, entries compared by identity): split once, at trace time."""
    return (
        [w for w in watched if not by_identity(w[3])],
        [w for w in watched if by_identity(w[3])],
    )


def _pinned(flat, program, objects) -> list[tuple]:
    """(i, argument i's array) for the tensor arguments that were also a tensor the step reads
    through its modules or names (step(model.weight)): the trace read both as the argument,
    so it holds only while that argument holds the same array.

    NOTE: traced as c(m.weight), a call c(z) read z wherever the step read m.weight."""
    held = {id(w[3]._data) for w in objects if isinstance(w[3], Tensor)}
    for module in program.called:
        for holder in (module._parameters, module._buffers):
            held.update(id(t._data) for t in holder.values() if t is not None)
    tensors = [(i, a) for i, a in enumerate(flat) if isinstance(a, Tensor)]
    return [(i, a._data) for i, a in tensors if id(a._data) in held]


@dataclass
class _Hooks:
    """The hooks a trace ran: those of the modules it called and of the tensors it read.

    NOTE: any hook added or removed anywhere moves one counter (jit_guard.hooks_version);
    only then are this trace's own hooks compared, so a hook on an unrelated tensor (a
    saliency map's retain_grad() between steps) costs one comparison, not a retrace."""

    version: int
    holders: tuple  # (modules, tensors)
    state: tuple

    def changed(self, args) -> bool:
        if jit_guard.hooks_version[0] == self.version:
            return False
        if _hook_state(*self.holders, args) != self.state:
            return True
        self.version = jit_guard.hooks_version[0]
        return False


def _hook_state(modules, tensors, args) -> tuple:
    """The ids of the hooks of modules and tensors (and of the tensor arguments), in order."""
    hooks = [tuple(getattr(m, name, ())) for m in modules for name in HOOK_TABLES]
    tensors = [t for t in (*tensors, *args) if isinstance(t, Tensor)]
    hooks += [(*(t._hooks or ()), *(t._post_accumulate_hooks or ())) for t in tensors]
    return tuple(hooks)


@dataclass
class _Gated:
    """Guards on what the modules a trace ran hold (see module_numbers), compared only when
    some module was assigned to since they last held (jit_guard.modules_version): most calls
    pay one comparison, not one per parameter and attribute."""

    numbers: list
    objects: list
    version: int = field(default_factory=lambda: jit_guard.modules_version[0])

    def change(self) -> str | None:
        if jit_guard.modules_version[0] == self.version:
            return None
        reason = _first_change(self.numbers, self.objects)
        if reason is None:
            self.version = jit_guard.modules_version[0]
        return reason


def _stale(trace: _Trace, args) -> str | None:
    """Why a trace does not match what its function would do now, or None."""
    replayer, (modules, numbers, objects, grads, arg_grads, hooks, held, pinned) = (
        trace.replayer,
        trace.checks,
    )
    if hooks.changed(args):
        return "a hook was added or removed (the trace runs the hooks there were when traced)"
    for i, array in pinned:
        if args[i]._data is not array:
            return f"argument {i} was a tensor the step also reads elsewhere, and is another now"
    for t in list(grads) + [args[i] for i in arg_grads]:
        if t.grad is not None:
            return (
                f"the .grad of a {tuple(t.shape)} tensor was None when traced and is set now: "
                "eager would add to it, the trace sets it (zero gradients inside the step, or "
                "before every call)"
            )
    for module, training in modules:
        if module.training != training:
            return (
                f"{type(module).__name__}.training changed from {training} to "
                f"{module.training} (train()/eval())"
            )
    return _first_change(numbers, objects) or held.change() or replayer.guard_failure()


def _first_change(numbers: list, objects: list) -> str | None:
    """How the first watched value that changed did (numbers by value, objects by identity)."""
    for label, holder, name, value in numbers:
        now = read_watched(holder, name)
        if now is not value and not equal_value(now, value):
            return f"{label} changed from {value!r} to {now!r}"
    for label, holder, name, value in objects:
        if (now := read_watched(holder, name)) is not value:
            if value is None or now is None:  # (set or unset: an environment variable)
                return f"{label} changed from {short(value)} to {short(now)}"
            return f"{label} is another object than when traced ({type(now).__name__})"
    return None


def _how_run(op) -> str:
    if not isinstance(op, FusedReduction):
        return ""
    if op.fused:
        return " (one loop)"
    return " (two kernels: the fused loop's result differed from eager's, or not replayed yet)"
