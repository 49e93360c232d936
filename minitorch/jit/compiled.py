"""CompiledFunction: guards, warm-up, capture, replay, statistics and explain()."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

from ..autograd.grad_mode import state
from ..kernels.cpu import compiler
from ..tensor import Tensor
from .check import check_replay
from .passes import Epilogue, FusedElementwise, FusedReduction
from .replay import Replayer
from .trace import (
    Capture,
    SetGrad,
    TraceError,
    by_identity,
    map_leaves,
    module_numbers,
    read_watched,
    rebound,
    watched_numbers,
)


def _graph_left_to_caller(result, program) -> str | None:
    """Why a traced call cannot be replayed when it returns a tensor whose autograd graph
    the caller will run backward through (a compiled model's forward in a training loop):
    the step ran no backward itself and an output requires grad. None otherwise."""
    if any(isinstance(node, SetGrad) for node in program.nodes):
        return None  # a training step: its outputs' graphs were used inside
    outputs: list = []
    map_leaves(result, Tensor, outputs.append)
    if not any(t.requires_grad for t in outputs):
        return None
    return (
        "it returns a tensor that requires grad and runs no backward itself, so the caller "
        "will backward through its graph, which a replay does not build"
    )


# A step whose guards keep changing would retrace forever; past this many traces of one
# function it runs eagerly, with a warning that says why (never silently).
RETRACE_LIMIT = 8


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


class CompiledFunction:
    """A step function that runs eagerly once, is traced on its second call, then replays.

    The trace is keyed by the guards of its inputs (shapes, dtypes, requires_grad of tensor
    arguments; values of other arguments; grad mode) and checked against the values it read
    (module training flags, numbers in the function's closure and globals, the shapes of the
    tensors it reads). A failed check retraces, with the reason logged in `stats.retraces`.
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
        self._traces: dict = {}  # guard key -> (Replayer, dynamic checks)
        self._seen: dict = {}  # guard key -> eager calls so far
        self._eager_reason: str | None = None
        self._last_key = None
        self._why: dict = {}  # guard key -> why it is (re)traced, logged when it is
        self._warming: dict = {}  # guard key -> (_Build, counters when its warm-up began)
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    def __call__(self, *args, **kwargs):
        if not self.cache:  # kernels this step compiles stay off the disk
            with compiler.in_memory():
                return self._call(*args, **kwargs)
        return self._call(*args, **kwargs)

    def _call(self, *args, **kwargs):
        self.stats.calls += 1
        if kwargs:
            args = args + tuple(kwargs.values())
            fn, names = self.fn, tuple(kwargs)
            call = lambda *a: fn(*a[: len(a) - len(names)], **dict(zip(names, a[-len(names) :])))  # noqa: E731
        else:
            call = self.fn
        if self._eager_reason is not None:
            return self._eager(call, args)
        key = _guard_key(args, kwargs)
        last_key, self._last_key = self._last_key, key
        entry = self._traces.get(key)
        if entry is not None:
            reason = _stale(entry, args)
            if reason is None and self.check and not entry[2]:
                entry[2] = True  # checked once, then replayed at full speed
                self.stats.replays += 1
                return check_replay(entry[0], call, args)
            if reason is None:
                self.stats.replays += 1
                if not entry[3].done:
                    return self._first_replay(entry, args)
                return entry[0](args)
            del self._traces[key]
            self._why[key] = reason
        elif self._traces and key not in self._why:
            self._why[key] = _key_change(last_key, key)
        if self._seen.get(key, 0) < self.warmup:
            self._seen[key] = self._seen.get(key, 0) + 1
            self._warming.setdefault(key, (_Build(), _Build.start()))
            return self._eager(call, args)
        # NOTE: the reason is logged when the retrace happens, once: a new key's warm-up call
        # and its traced call used to log it twice, which halved RETRACE_LIMIT.
        reason = self._why.pop(key, None)
        if reason is not None:
            self._retrace(reason)
        return self._trace(call, args, key)

    # ---- the three ways to run ---------------------------------------------------------------
    def _eager(self, call, args):
        self.stats.eager_calls += 1
        return call(*args)

    def _trace(self, call, args, key):
        if len(self.stats.retraces) >= RETRACE_LIMIT:
            self._eager_reason = (
                f"traced {self.stats.traces} times; last reason: {self.stats.retraces[-1]}"
            )
            warnings.warn(
                f"minitorch.compile({_name(self.fn)}): {self._eager_reason}; running it "
                "eagerly from now on",
                RuntimeWarning,
                stacklevel=3,
            )
            return self._eager(call, args)
        start = time.perf_counter()
        build, before = self._warming.pop(key, None) or (_Build(), _Build.start())
        # NOTE: with fallback="eager" the capture runs the step to its end even past what it
        # cannot hold: rerunning the step after a failed capture ran part of it twice (an
        # optimizer step before a .item() was applied twice).
        capture = Capture(args, tolerate=self.fallback == "eager")
        watched = watched_numbers(self.fn)
        try:
            with capture:
                result = call(*args)
            changed = rebound(watched)
            if changed:
                capture._fail(
                    f"minitorch.compile: {changed}, which a replay would not do (it runs no "
                    "Python); keep such state outside the compiled function or pass it in as "
                    'an argument, or compile with fallback="eager".'
                )
            program = capture.finish(result)
        except TraceError as e:
            if self.fallback == "error":
                raise
            self._eager_reason = str(e)
            warnings.warn(f"{e} Running {_name(self.fn)} eagerly.", RuntimeWarning, stacklevel=3)
            if e is capture.failure:  # the step ran eagerly to its end: its result stands
                self.stats.eager_calls += 1
                return result
            return self._eager(call, args)  # refused before the step ran (a nested compile)
        needs_graph = _graph_left_to_caller(result, program)
        if needs_graph:  # the values would replay, the autograd graph would not
            self._eager_reason = needs_graph
            warnings.warn(
                f"minitorch.compile({_name(self.fn)}): {needs_graph}; running it eagerly. "
                "Compile the whole training step (forward, backward, optimizer.step), or call "
                "it under torch.no_grad() for inference.",
                RuntimeWarning,
                stacklevel=3,
            )
            self.stats.eager_calls += 1
            return result
        replayer = Replayer(program)
        build.trace_seconds = time.perf_counter() - start
        build.add(before)
        self._traces[key] = [replayer, _dynamic_checks(watched, program), False, build]
        self.stats.traces += 1
        self.stats.trace_seconds += build.trace_seconds
        self.stats.ops_captured = replayer.ops_captured
        self.stats.ops_replayed = replayer.ops
        return result

    def _first_replay(self, entry, args):
        build = entry[3]
        before = build.start()
        try:
            return entry[0](args)
        finally:
            build.add(before)
            build.done = True

    def _retrace(self, reason: str) -> None:
        self.stats.retraces.append(reason)

    # ---- reporting ----------------------------------------------------------------------------
    def explain(self) -> str:
        """Traces, their size after each pass, retrace reasons and the replayed driver."""
        s = self.stats
        lines = [
            f"minitorch.compile({_name(self.fn)}): {s.calls} calls: {s.eager_calls} eager, "
            f"{s.traces} traced ({s.trace_seconds * 1e3:.1f} ms), {s.replays} replayed",
        ]
        if self._eager_reason:
            lines.append(f"running eagerly: {self._eager_reason}")
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
        for key, (r, _, _, build) in self._traces.items():
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


def _summary(kernel) -> str:
    """The first line of a generated kernel's docstring: its pseudo-loop."""
    doc = (getattr(kernel, "__doc__", None) or "").strip().splitlines()
    line = doc[0] if doc else "kernel"
    return line if len(line) <= 100 else line[:97] + "..."


def _name(fn) -> str:
    return getattr(fn, "__qualname__", type(fn).__name__)


def _guard_key(args, kwargs) -> tuple:
    """What a trace depends on in its arguments: a new key traces again."""
    parts = [("grad mode", state.enabled), ("kwargs", tuple(kwargs))]
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            layout = "contiguous" if a.is_contiguous() else str(a.stride())
            parts.append(
                (f"argument {i}", "tensor", tuple(a.shape), a.dtype.name, a.requires_grad, layout)
                + ((str(a.device),) if a.is_cuda else ())
            )
        else:
            try:
                hash(a)
                parts.append((f"argument {i}", "value", type(a).__name__, a))
            except TypeError:  # an object (a model, a list): its identity
                parts.append((f"argument {i}", "object", id(a)))
    return tuple(parts)


def _key_change(old: tuple, new: tuple) -> str:
    for a, b in zip(old, new):
        if a != b:
            return f"{a[0]} changed: {a[1:]} -> {b[1:]}"
    return "the arguments changed"


def _describe_key(key: tuple) -> str:
    tensors = [f"{p[2]}" for p in key if len(p) > 2 and p[1] == "tensor"]
    return ", ".join(tensors) or "no tensor arguments"


def _dynamic_checks(watched: list, program) -> tuple:
    """watched: the step's watched_numbers, read before it was traced (`rebound` saw they
    did not change)."""
    watched = watched + module_numbers(program.modules)
    # split once here: the objects compare by identity, the numbers by value
    objects = [w for w in watched if by_identity(w[3])]
    numbers = [w for w in watched if not by_identity(w[3])]
    return (program.modules, numbers, objects, program.grad_guards, program.arg_grad_guards)


def _stale(entry, args) -> str | None:
    """Why a trace no longer matches what its function would do, or None."""
    replayer, (modules, numbers, objects, grads, arg_grads), _, _ = entry
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
    for label, holder, name, value in numbers:
        now = read_watched(holder, name, value)
        if type(now) is not type(value) or now != value:
            return f"{label} changed from {value!r} to {now!r}"
    for label, holder, name, value in objects:
        now = holder.get(name, value) if type(holder) is dict else read_watched(holder, name, value)
        if now is not value:
            return f"{label} is another object than when traced ({type(now).__name__})"
    return replayer.guard_failure()


def _how_run(op) -> str:
    if not isinstance(op, FusedReduction):
        return ""
    if op.fused:
        return " (one loop)"
    return " (two kernels: the fused loop's result differed from eager's, or not replayed yet)"
