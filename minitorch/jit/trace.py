"""Capture: run a step eagerly once while recording it into a Program.

Every registry op the step runs becomes an `OpNode`; so do the effects eager code reports
through `minitorch.jit_guard`: gradients assigned to tensors (`SetGrad`), in-place writes
(`Write`) and calls of opaque methods such as `optimizer.step()` (`Call`). Values are named by
`Ref`s: the output of an earlier node, a tensor argument of the step, a tensor that existed
before the step (a parameter, an optimizer buffer: read from the tensor at replay, so in-place
updates are seen), or a constant.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import dis
import functools
import inspect
import itertools
import os
import random
import struct
import sys
import sysconfig
import types
from dataclasses import dataclass, field

import numpy as np

from .. import jit_guard
from ..ops import registry
from ..random import live_generators
from ..tensor import Tensor
from . import devices


class TraceError(RuntimeError):
    """Something in a traced step cannot be captured (and fallback="eager" was not chosen)."""


@dataclass(frozen=True)
class Ref:
    """Where a value comes from at replay: kind is "slot", "arg", "tensor" or "const"."""

    kind: str
    key: object  # slot index, argument position, the Tensor, or the array


class LiveGrad:
    """Stands for `leaf.grad` as it is when the replay runs (the key of a Ref("tensor")).

    A step that does not zero gradients first adds to the gradient left by earlier steps
    (gradient accumulation). Autograd replaces `leaf.grad` by a new tensor on every backward,
    so a trace that read the gradient tensor seen at capture would add to that stale value
    on every replay instead of to the current gradient. A gradient zeroed (set to None) since
    reads as zeros: adding to zeros is what eager's "set" computes.
    """

    __slots__ = ("leaf",)

    def __init__(self, leaf: Tensor):
        self.leaf = leaf

    @property
    def _data(self):
        grad = self.leaf.grad
        if grad is None:
            cuda = devices.on_cuda(self.leaf._data)
            return devices.zeros(tuple(self.leaf.shape), self.leaf.dtype.np, cuda)
        return grad._data

    @property
    def dtype(self):
        grad = self.leaf.grad
        return self.leaf.dtype if grad is None else grad.dtype


@dataclass
class OpNode:
    op: registry.Op
    meta: object
    inputs: tuple  # Refs, or plain numbers
    params: dict
    outputs: tuple[int, ...]  # slot indices
    in_dtypes: tuple = ()  # dtype of each tensor input (None for numbers)
    cuda: bool = False  # the op ran on a cuda device (see devices.py)


@dataclass
class SetGrad:
    tensor: Tensor
    value: Ref | None
    arg: int | None = None  # the step's argument index when tensor is one: set on targs[arg]


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
    # tensors whose .grad was None when the step set it (so the trace sets, not adds): a
    # replay is right only while it still is None
    grad_guards: list = field(default_factory=list)
    arg_grad_guards: list = field(default_factory=list)  # the same, for argument indices
    called: list = field(default_factory=list)  # every module the step called (hooks it ran)
    functions: list = field(default_factory=list)  # the autograd.Function classes it applied


# what reads a tensor's values into Python (on_host_sync's `what`) -> (how the message names
# it, what to do instead)
_HOST_READS = {
    "bool": ("bool(tensor)", "compute the branch with torch.where"),
    "__array__": (
        "a numpy conversion (np.asarray(tensor), a numpy function on a tensor)",
        "use tensor ops, or return the tensor and convert the result",
    ),
    "float": ("float(tensor)", "return the tensor and convert the result"),
    "int": ("int(tensor)", "return the tensor and convert the result"),
    "allclose": ("torch.allclose (a Python bool)", "compute the branch with torch.where"),
    "isclose": ("isclose", "use ((a - b).abs() <= atol + rtol * b.abs())"),
    "multinomial": ("torch.multinomial", "draw the samples outside and pass them in"),
    "tensor of tensors": (
        "torch.tensor([...]) of tensors",
        "use torch.stack, or x.detach().clone() for one tensor",
    ),
    "index of tensors": ("an index list of tensors", "index with one tensor (torch.stack)"),
    "view dtype": ("view(dtype)", "reinterpret the bits outside the compiled function"),
    "repr": (
        'printing or formatting a tensor (print(t), str(t), repr(t), f"{t}")',
        "return the tensor and print it after the call",
    ),
    "pickle": (
        "pickling a tensor (pickle.dumps, torch.save)",
        "return the tensor and save it after the call",
    ),
}


# what eager code did that a replay cannot repeat (jit_guard.unreplayable's `what`: a generator's
# methods, a DataLoader iterator's __next__, anomaly mode's checks) ->
# (what the step did, why a replay cannot repeat it, what to do instead)
_UNREPLAYABLE = {
    "new generator": (
        "draws from a torch.Generator it created",
        "a replay would draw on from the traced call's generator where eager starts from a "
        "new one on every call",
        "Create the generator outside the compiled function",
    ),
    "reseed": (
        "reseeds a generator (manual_seed, seed or set_rng_state)",
        "a replay runs no Python, so it would not reseed and would draw new numbers where "
        "eager repeats them",
        "Seed outside the compiled function",
    ),
    "read rng": (
        "reads a generator's state or seed (get_rng_state, initial_seed)",
        "a replay runs no Python, so it would return the traced call's value",
        "Read it outside the compiled function (pass it in if the step needs it)",
    ),
    "fork rng": (
        "forks the random state (torch.random.fork_rng)",
        "a replay runs no Python, so it would not put the generator back on leaving the block, "
        "and the numbers drawn after it would differ from eager's",
        "Fork around the compiled call instead",
    ),
    "next batch": (
        "takes the next batch from a DataLoader iterator",
        "a replay runs no Python, so every replay would reuse the traced call's batch",
        "Fetch the batch outside the compiled function and pass it in",
    ),
    "anomaly check": (
        "runs a backward in anomaly mode (torch.autograd.detect_anomaly / set_detect_anomaly)",
        "its NaN checks read every gradient's values on the host, which a replay cannot do",
        "Leave detect_anomaly out of compiled steps (debug the step uncompiled)",
    ),
}


class Capture:
    """Installed while a step runs eagerly; turns what it does into a Program."""

    def __init__(
        self, args: tuple, keep_values: bool = False, tolerate: bool = False, optimizers=()
    ):
        """tolerate: on what a trace cannot hold, keep running the step eagerly and keep the
        first such error in `self.failure` instead of raising it (fallback="eager").
        optimizers: those whose param_groups the step may read or set itself (see _Group)."""
        self.program = Program()
        self.optimizers = list({id(o): o for o in optimizers}.values())
        self.group_reads: list[tuple] = []  # watched entries of param_group values read
        self.env_reads: dict = {}  # (id(mapping), key) -> watched entry (see on_env_read)
        self.values: dict[int, np.ndarray] | None = {} if keep_values else None
        self.tolerate = tolerate
        self.failure: TraceError | None = None
        self._slot_of: dict[int, int] = {}  # id(array) -> slot
        self._keep: list = []  # arrays whose ids are in _slot_of stay alive
        self._args = {id(a._data): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self._arg_arrays = {i: a._data for i, a in enumerate(args) if isinstance(a, Tensor)}
        self._arg_tensors = {id(a): i for i, a in enumerate(args) if isinstance(a, Tensor)}
        self._depth = 0  # > 0 inside an opaque call: its inner ops are not recorded
        self._first_grad: dict[int, tuple] = {}  # id(tensor) -> (tensor, .grad when first read)
        self._grad_owner: dict[int, Tensor] = {}  # id(that grad) -> the tensor it belongs to
        self._live: dict[int, LiveGrad] = {}  # id(leaf) -> its LiveGrad
        self._grads_set: set[int] = set()  # ids of tensors whose .grad the step set
        self._set_from_none: list[Tensor] = []  # of those, the ones whose .grad was None
        self._calls = 0  # opaque calls recorded so far
        # every generator's (seed, offset): any may move outside a recorded op (randint with
        # generator=g, g.manual_seed) before or without a recorded draw from it
        self._rng = {g: _rng_state(g) for g in live_generators()}
        self._host_rng = _host_rng_states()
        self._made: dict[int, Tensor] = {}  # id -> tensor made during the step (held: ids stay)
        self._made_modules: list = []  # the modules made during the step
        self._alias: dict[int, tuple] = {}  # id(detach() / .data result) -> (it, its source)
        self._module_state: dict[int, tuple] = {}  # id(module) -> (it, state when first called)
        self._contents_read: set[int] = set()  # modules whose containers _contents holds
        # containers that a called module holds, or that user code the step runs without
        # calling it itself reads by name (a module's forward and hooks, gradient hooks, custom
        # autograd.Functions), as they were before that code first ran (see container_contents)
        self._contents: list[tuple] = []
        self._modes_set: set[int] = set()  # ids of modules whose flags are guarded or the step's
        self._first_seen: dict[int, tuple] = {}  # id(made tensor) -> (node index, its value)
        self._hooks_added: list[tuple] = []  # (hooks dict, key, its tensor or None, where)

    # ---- the hooks eager code calls ------------------------------------------------------
    def on_op(self, op, inputs, params, outs) -> None:
        if self._depth:
            return
        self._check_random(op, params, outs)
        refs = tuple(self.ref(x) if isinstance(x, Tensor) else x for x in inputs)
        in_dtypes = tuple(x.dtype if isinstance(x, Tensor) else None for x in inputs)
        cuda = bool(outs) and devices.on_cuda(outs[0]._data)
        params = dict(params)
        computed = self._computed_arrays(params)
        if computed:  # tensor indices (x[i], embeddings): read at replay, not frozen
            self._check_index_shapes(op, computed)
            op = ReadsArrays(op, len(refs), tuple(path for path, _ in computed), cuda)
            for path, _ in computed:
                _put(params, path, COMPUTED)
            refs += tuple(ref for _, ref in computed)
            in_dtypes += (None,) * len(computed)
        meta = tuple(_meta(o) for o in outs) if op.n_outputs > 1 else _meta(outs[0])
        slots = tuple(self._new_slot(o._data) for o in outs)
        if self.values is not None:
            self.values.update((k, devices.host(o._data)) for k, o in zip(slots, outs))
        self.program.nodes.append(OpNode(op, meta, refs, params, slots, in_dtypes, cuda))

    def _computed_arrays(self, params: dict) -> list:
        """((key, position), Ref) of each array in an op's keyword arguments that the step
        computed or was passed (a tensor index), as opposed to a constant."""
        found = []
        for key, value in params.items():
            for j, item in enumerate(value if isinstance(value, tuple) else (value,)):
                if isinstance(item, (np.ndarray, np.generic)) or devices.on_cuda(item):
                    ref = self._ref_array(item, None)
                    if ref.kind != "const":
                        found.append(((key, j if isinstance(value, tuple) else None), ref))
        return found

    def _check_index_shapes(self, op, computed) -> None:
        arrays = [self._array_of(ref) for _, ref in computed]
        if op.name == "getitem" and any(np.dtype(a.dtype) == np.bool_ for a in arrays):
            self._fail(
                f"minitorch.compile: indexing with a boolean mask tensor at {_user_frame()} "
                "gives a result whose shape depends on the mask's values, which a trace "
                "cannot replay. Use torch.where / masked_fill (same shape), or compile with "
                'fallback="eager".'
            )

    def _array_of(self, ref: Ref):
        return self._keep[ref.key] if ref.kind == "slot" else self._arg_arrays[ref.key]

    def on_set_grad(self, tensor, grad) -> None:
        if self._depth:
            return
        if id(tensor) not in self._grads_set:
            self._grads_set.add(id(tensor))
            # The .grad the step found chose between set and add, so the trace depends on it
            # being None; unless the step zeroed it itself first (p.grad = None), an opaque
            # call (zero_grad) came first, or the step never read the tensor before.
            first = self._first_grad.get(id(tensor))
            was_none = grad is not None and first is not None and first[1] is None
            if was_none and not self._calls:
                arg = self._args.get(id(tensor._data))
                if arg is not None:
                    self.program.arg_grad_guards.append(arg)
                else:
                    self._set_from_none.append(tensor)
        value = None if grad is None else self.ref(grad)
        self.program.nodes.append(SetGrad(tensor, value, self._args.get(id(tensor._data))))

    def on_write(self, tensor, array) -> None:
        if not self._depth:
            value = self._ref_array(array, None)
            self.program.nodes.append(Write(self.ref(tensor), value))

    def on_grad_read(self, tensor, grad) -> None:
        """tensor.grad was read: writes to it (p.grad.zero_()) then reach the gradient the
        replay finds, as reads do (see LiveGrad), not the traced call's."""
        if not self._depth and id(tensor) not in self._first_grad:
            self._first_grad[id(tensor)] = (tensor, grad)
            self._grad_owner.setdefault(id(grad), tensor)

    def on_set_flags(self, tensor, method, args: tuple) -> None:
        """tensor.requires_grad_(flag) or tensor.detach_(): on an argument, the caller's tensor
        keeps what eager leaves it, so a replay calls it on the argument too."""
        arg = self._arg_tensors.get(id(tensor))
        if not self._depth and arg is not None:
            self.program.nodes.append(Call(_on_argument, method, (Ref("arg", arg), *args), {}))

    def on_alias(self, alias, source) -> None:
        """alias (x.detach(), x.data) shares source's storage: refs to it are refs to source,
        so a replay's writes through it (p.data.add_(...)) reach the tensor itself."""
        if not self._depth:
            self._alias[id(alias)] = (alias, source)  # (alias held: its id stays unique)

    def on_data_set(self, tensor, other) -> None:
        """tensor.data = other inside the step: a replay copies other's values into tensor."""
        if self._depth:
            return
        if tuple(other.shape) != tuple(tensor.shape) or other.dtype is not tensor.dtype:
            self._fail(
                f"minitorch.compile: .data = ... at {_user_frame()} gives a tensor a new shape "
                f"or dtype ({tuple(tensor.shape)} {tensor.dtype} -> {tuple(other.shape)} "
                f"{other.dtype}) inside the step; do it outside the compiled function."
            )
            return
        self.program.nodes.append(Write(self.ref(tensor), self.ref(other)))

    def on_call(self, method, owner, args, kwargs):
        if not self._depth:
            self._calls += 1  # (an opaque call may have zeroed gradients: see on_set_grad)
        return self._record_call(method, owner, args, kwargs)

    def on_set_modes(self, method, owner, args, kwargs):
        """module.train()/eval() inside the step: replayed as a call; the flags of the modules
        it sets are then the step's own, so they are not guarded at its entry."""
        if not self._depth:
            self._modes_set.update(id(m) for m in owner.modules())
        return self._record_call(method, owner, args, kwargs)

    def _record_call(self, method, owner, args, kwargs):
        outer = not self._depth
        if outer:
            self._check_random()
            self._check_host_random()
            self._check_call_arguments(method, owner, (args, kwargs))
            # tensors passed (scheduler.step(loss)) are this replay's, not the traced call's
            passed = _map_tensors((args, kwargs), self.ref)
            self.program.nodes.append(Call(method, owner, *passed))
        self._depth += 1
        try:
            return method(owner, *args, **kwargs)
        finally:
            self._depth -= 1
            if outer:  # draws inside the call are replayed by calling it again
                self._rng = {g: _rng_state(g) for g in self._rng}
                self._host_rng = _host_rng_states()

    def _check_call_arguments(self, method, owner, arguments) -> None:
        from ..nn import Module  # noqa: PLC0415  (nn imports the tracer's hooks)

        # a module passed (ema.update_parameters(model)) is live state a replay reads afresh
        if any(callable(v) and not isinstance(v, Module) for v in leaves(arguments)):
            self._fail(
                f"minitorch.compile: {type(owner).__name__}.{method.__name__}() at "
                f"{_user_frame()} is given a function (a closure), which a replay would call "
                "with the traced call's tensors. Compute the loss in the step and call "
                f"{method.__name__}() without it, or run this step uncompiled."
            )

    def on_host_sync(self, what: str) -> None:
        if self._depth:  # an opaque call (optimizer.step) may read numbers: it replays whole
            return
        where = _user_frame()
        # bool(t) is Python's `if t:` / `while t:`; `t.bool()` would be a dtype conversion
        call, fix = _HOST_READS.get(
            what, (f".{what}()", f"return the tensor and call .{what}() on the result")
        )
        library = _library_read()
        if library is not None:  # minitorch's own code read it: the fix is the call's place
            entry, site = library
            self._fail(
                f"minitorch.compile: {entry}, called at {where}, reads a tensor's value into "
                f"Python ({call} at {site}) while tracing a step; the trace cannot hold a "
                f"Python value that changes each step. Move the {entry} call out of the "
                'compiled function, or compile with fallback="eager" to run this function '
                "eagerly."
            )
            return
        self._fail(
            f"minitorch.compile: {call} at {where} reads a tensor's value into Python while "
            "tracing a step; the trace cannot hold a Python value that changes each step. Move "
            f'it out of the compiled function ({fix}), or compile with fallback="eager" to '
            "run this function eagerly."
        )

    def on_unreplayable(self, what: str) -> None:
        if self._depth:  # an opaque call replays whole
            return
        did, why, fix = _UNREPLAYABLE[what]
        self._fail(
            f"minitorch.compile: the step {did} at {_user_frame()}; {why}. {fix}, or compile "
            'with fallback="eager".'
        )

    def _fail(self, message: str) -> None:
        if not self.tolerate:
            raise TraceError(message)
        if self.failure is None:  # the step runs on eagerly; its first problem is the reason
            self.failure = TraceError(message)

    def _check_random(self, op=None, params=None, outs=None, at_end: bool = False) -> None:
        """Fail if a generator moved other than by the random ops recorded.

        torch.randint, randperm and multinomial draw numbers without a registry op, from any
        generator, and manual_seed inside the step reseeds (reported by the call itself too,
        see on_unreplayable): a replay would repeat none of it, so every replay would reuse
        the numbers of the traced call (or not reseed) where eager draws afresh.
        """
        drawn, n = None, 0
        if getattr(op, "random", False):  # a Draw of n numbers advances its generator by n
            drawn, n = params["generator"], outs[0]._data.size
            if drawn not in self._rng:  # made in the step: every one made before is watched
                self.on_unreplayable("new generator")
                seed, offset = _rng_state(drawn)
                self._rng[drawn] = (seed, offset - n)
        for g, (seed, offset) in self._rng.items():
            expected = (seed, offset + (n if g is drawn else 0))
            if _rng_state(g) != expected:
                self._rng = {g: _rng_state(g) for g in self._rng}
                where = "in the step" if at_end else f"before {_user_frame()}"
                self._fail(
                    "minitorch.compile: random numbers were drawn outside an op the trace "
                    f"records, or the generator was reseeded, {where} "
                    "(torch.randint, randperm, multinomial and manual_seed are not replayed, so "
                    "every replay would repeat the traced call's numbers). Draw them outside "
                    "the compiled function and pass them in, use torch.rand/randn/dropout "
                    '(which replay), or compile with fallback="eager".'
                )
                return
        self._rng = {g: _rng_state(g) for g in self._rng}

    def _check_host_random(self) -> None:
        """Fail if the step drew from Python's or numpy's global generator: a replay runs no
        Python, so it would reuse the traced call's numbers (a frozen flip, noise, crop)."""
        for name, before, after in zip(_HOST_RNGS, self._host_rng, _host_rng_states()):
            if before != after:
                self._fail(
                    f"minitorch.compile: the step draws random numbers from {name}; a replay "
                    "runs no Python, so every replay would reuse the traced call's numbers. "
                    "Use torch.rand / torch.randn (which replay), draw them outside the "
                    'compiled function and pass them in, or compile with fallback="eager".'
                )
                return

    def on_new_tensor(self, t: Tensor) -> None:
        if not self._depth:
            self._made[id(t)] = t

    def on_new_module(self, module) -> None:
        if not self._depth:
            self._made_modules.append(module)

    def on_hook_registered(self, hooks: dict, key, tensor) -> None:
        if not self._depth:
            self._hooks_added.append((hooks, key, tensor, _user_frame()))
            if tensor is not None:  # (a module's hooks: when it is called, see on_module_call)
                self._contents += container_contents(autograd_numbers([tensor], []))

    def _check_hooks_left(self) -> None:
        """Fail if a hook the step registered on a tensor or module from outside it is still
        registered: eager adds one more at every call, a replay (no Python) adds none. (On a
        tensor or module the step made, it goes with them: eager makes both anew each call.)"""
        made = {id(d) for m in self._made_modules for d in vars(m).values() if isinstance(d, dict)}
        for hooks, key, tensor, where in self._hooks_added:
            if key in hooks and id(tensor) not in self._made and id(hooks) not in made:
                self._fail(
                    f"minitorch.compile: the step registers a hook at {where} on a tensor or "
                    "module from outside it and leaves it registered, so eager adds one more "
                    "hook there at every call, which a replay would not do (it runs no "
                    "Python). Register the hook once outside the compiled function, or remove "
                    'it inside the step (handle.remove()), or compile with fallback="eager".'
                )
                return

    def on_function(self, cls) -> None:
        """cls.apply ran: its forward and backward read values as the step's code does."""
        if not self._depth and cls not in self.program.functions:
            self.program.functions.append(cls)
            self._contents += container_contents(autograd_numbers([], [cls]))

    def on_state_swap(self, module) -> None:
        """functional_call swaps tensors into module (and its submodules) for one call and
        puts the originals back: the state the step must leave is the one before the swap."""
        for m in module.modules():
            if id(m) not in self._module_state:
                self._module_state[id(m)] = (m, _module_state(m))

    def on_module_call(self, module) -> None:
        if id(module) not in self._modes_set:  # its flag as the step found it: a guard
            self._modes_set.add(id(module))
            self.program.modules.append((module, module.training))
        if id(module) not in self._contents_read:
            self._contents_read.add(id(module))
            self._contents += _module_contents(module)
        if id(module) not in self._module_state:
            self._module_state[id(module)] = (module, _module_state(module))

    # ---- refs ------------------------------------------------------------------------------
    def ref(self, t: Tensor, live: bool = True) -> Ref:
        while id(t) in self._alias:
            t = self._alias[id(t)][1]
        if id(t) not in self._first_grad:
            self._first_grad[id(t)] = (t, t.grad)  # what its .grad was before the step set it
            if t.grad is not None:
                self._grad_owner.setdefault(id(t.grad), t)
            if t._hooks or t._post_accumulate_hooks:  # (they run in the step's backward)
                self._contents += container_contents(autograd_numbers([t], []))
        return self._ref_array(t._data, t, live)

    def _ref_array(self, array, tensor, live: bool = True) -> Ref:
        slot = self._slot_of.get(id(array))
        if slot is not None:
            return Ref("slot", slot)
        arg = self._args.get(id(array))
        if arg is not None:
            return Ref("arg", arg)
        if tensor is None:
            return Ref("const", array)
        owner = self._grad_owner.get(id(tensor))
        if live and owner is not None and owner.grad is tensor:  # a gradient from before the step
            if id(owner) not in self._live:
                self._live[id(owner)] = LiveGrad(owner)
            return Ref("tensor", self._live[id(owner)])
        if id(tensor) in self._made and id(tensor) not in self._first_seen:
            # made by a factory in the step (zeros, tensor(...)): remember its first value, in
            # case the step writes to it or returns it (see _fresh_made_tensors)
            self._first_seen[id(tensor)] = (len(self.program.nodes), devices.copy(array))
        return Ref("tensor", tensor)

    def _new_slot(self, array) -> int:
        slot = self.program.n_slots
        self.program.n_slots += 1
        self._slot_of[id(array)] = slot
        self._keep.append(array)
        return slot

    def finish(self, result) -> Program:
        self._check_random(at_end=True)
        self._check_host_random()
        self._check_hooks_left()
        changed = rebound((), self._contents)
        if changed:
            self._fail(f"minitorch.compile: {changed}, {NO_PYTHON}")
        for module, state in self._module_state.values():
            for name, value in _module_state(module).items():
                if not same_value(state.get(name, MISSING), value):
                    self._fail(
                        f"minitorch.compile: the step assigns {type(module).__name__}.{name} "
                        f"a new value ({short(state.get(name))} -> {short(value)}; self.x = "
                        "...), which a replay would not do (it runs no Python); update tensors "
                        "in place (self.x.mul_(m).add_(...), self.x.copy_(...)), keep other "
                        'state outside the compiled function, or compile with fallback="eager".'
                    )
        if self.failure is not None:
            raise self.failure
        self.program.called = [module for module, _ in self._module_state.values()]
        self._first_grad.clear()  # (their references would make every tensor look held)
        self._grad_owner.clear()
        nodes = self.program.nodes
        # a tensor made inside the step gets a fresh None .grad in every eager call: no guard
        self.program.grad_guards = [
            t for t in self._set_from_none if id(t) not in self._made and _held_outside(t, nodes, 2)
        ]
        self._set_from_none.clear()
        # NOTE: a returned gradient stays the tensor itself (as eager returns it), not a LiveGrad
        self.program.output = _map_tensors(result, self._output_ref)
        self._fresh_made_tensors()
        self._keep.clear()
        self._made.clear()
        self._made_modules.clear()
        _freeze_temporaries(nodes)
        return self.program

    def _output_ref(self, t: Tensor) -> Ref:
        """How a replay returns t: x.detach() (or .data) of a tensor it does not make is a
        new tensor sharing that one's values, not the tensor itself (requires_grad and all)."""
        ref = self.ref(t, live=False)
        if id(t) in self._alias and ref.kind in ("arg", "tensor"):
            return Ref("detached", ref)
        return ref

    def _fresh_made_tensors(self) -> None:
        """Give each tensor the step made outside the registry and then wrote to or returned
        a fresh copy of its first value per replay: a replay must neither add to the previous
        replay's buffer nor return the same tensor twice. (Ones it only read stay constants.)"""
        nodes, program = self.program.nodes, self.program
        # NOTE: through views too: `k[1:].add_(x)` writes k, and a returned `k.view(3, 1)` is k
        made_by = {slot: n for n in nodes if isinstance(n, OpNode) for slot in n.outputs}
        changed = [n.target for n in nodes if isinstance(n, Write)]
        bases = [_viewed(r, made_by) for r in changed + refs_in(program.output)]
        targets = {id(r.key) for r in bases if r is not None and r.kind == "tensor"}
        fresh = [k for k in self._first_seen if k in targets]
        for key in sorted(fresh, key=lambda k: self._first_seen[k][0], reverse=True):
            at, value = self._first_seen[key]
            slot = program.n_slots
            program.n_slots += 1
            meta = registry.Meta(value.shape, self._made[key].dtype)
            cuda = devices.on_cuda(value)
            nodes.insert(at, OpNode(FRESH, meta, (Ref("const", value),), {}, (slot,), (), cuda))
            _rebind(nodes, program, key, Ref("slot", slot))
        self._first_seen.clear()

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
        _ENVIRON.__getitem__ = _read_environ
        for optimizer in self.optimizers:
            groups = optimizer.param_groups
            groups[:] = [_Group(g, optimizer, i, self) for i, g in enumerate(groups)]
        return self

    def __exit__(self, *exc):
        registry.recorder[0] = None
        jit_guard.capture[0] = None
        jit_guard._guard[0] = None
        _ENVIRON.__getitem__ = _ENVIRON_ITEM
        for optimizer in self.optimizers:
            groups = optimizer.param_groups
            groups[:] = [g.restored() if isinstance(g, _Group) else g for g in groups]

    def on_env_read(self, mapping, key, value) -> None:
        """The step's own code read os.environ[key] (os.environ.get, os.getenv, `in`): a trace
        freezes what it did with the value, so a guard compares the value (None: unset)."""
        if self._depth or (id(mapping), key) in self.env_reads:
            return
        where = _env_reader()
        if where is None:  # (a library's read: Numba's settings)
            return
        holder = _Reread(lambda name, _default: mapping.get(name))
        label = f"os.environ[{key!r}] (read at {where})"
        self.env_reads[id(mapping), key] = (label, holder, key, value)

    def on_group_read(self, group: _Group, key, value) -> None:
        """The step's own code read group[key]: a trace freezes it, so a guard compares it."""
        if self._depth or key == "params" or key in group.written:
            return
        label = f"{type(group.optimizer).__name__}.param_groups[{group.index}][{key!r}]"
        holder = _Reread(functools.partial(_group_item, group.optimizer, group.index))
        entry = (label, holder, key, value)
        self.group_reads.append(_value_guard(entry) or entry)

    def on_group_write(self, group: _Group, key, value) -> None:
        """The step's own code set group[key] (a learning rate): every replay sets it again."""
        if self._depth:
            return
        group.written.add(key)
        self.program.nodes.append(
            Call(_set_group_item, group.optimizer, (group.index, key, value), {})
        )


# os.environ's class: while a step is traced its __getitem__ (which os.environ.get, os.getenv
# and `key in os.environ` all call) reports the variables read (Capture.on_env_read)
_ENVIRON = type(os.environ)
_ENVIRON_ITEM = _ENVIRON.__getitem__


def _read_environ(mapping, key):
    try:
        value = _ENVIRON_ITEM(mapping, key)
    except KeyError:  # unset: reported as None (what os.environ.get gives)
        _report_env_read(mapping, key, None)
        raise
    _report_env_read(mapping, key, value)
    return value


def _report_env_read(mapping, key, value) -> None:
    if jit_guard.capture[0] is not None:
        jit_guard.capture[0].on_env_read(mapping, key, value)


def _env_reader() -> str | None:
    """file:line of the code that read an environment variable when it is the user's (past
    the tracer's frames and the standard library's os.getenv, Mapping.get), None when a
    library read it (Numba)."""
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not path.startswith(("<frozen", _STDLIB, *_HOOKS)):
            return f"{path}:{frame.f_lineno}" if _is_user_code(path) else None
        frame = frame.f_back
    return None


class _Group(dict):
    """An optimizer's param_group while a step is traced, in its place in param_groups: what
    the step's own code reads (a learning rate in a hand-written weight decay) becomes a guard,
    what it sets (`g["lr"] = lr`) a call every replay makes. Reads and writes inside opaque
    calls (optimizer.step, scheduler.step) are theirs, replayed by calling them again."""

    def __init__(self, group: dict, optimizer, index: int, capture: Capture):
        super().__init__(group)
        self.original, self.optimizer, self.index, self.capture = group, optimizer, index, capture
        self.written: set = set()

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        self.capture.on_group_read(self, key, value)
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __setitem__(self, key, value) -> None:
        self.capture.on_group_write(self, key, value)
        dict.__setitem__(self, key, value)

    def restored(self) -> dict:
        """The group the optimizer had, holding what this one holds now."""
        self.original.clear()
        self.original.update(dict.items(self))
        return self.original


class _Reread:
    """A guard's holder whose get(name, default) reads the value afresh at each check, through
    `read`: an optimizer's param_groups entry or state (load_state_dict replaces them), a
    module's dict of parameters, buffers or submodules (a container's edit replaces it)."""

    __slots__ = ("get",)

    def __init__(self, read):
        self.get = read


def _on_argument(method, argument: Tensor, *args) -> None:
    """How a replay calls `argument.method(*args)` (see on_set_flags): a Call's owner is fixed
    at capture, the argument is this replay's."""
    method(argument, *args)


def _group_item(optimizer, index: int, key, default):
    groups = optimizer.param_groups
    return groups[index].get(key, default) if index < len(groups) else default


def optimizer_state_reads(optimizers, tensors) -> list[tuple]:
    """watched entries, by identity, for the optimizer state tensors among `tensors` (those a
    trace reads: the step's own code logging Adam's exp_avg): load_state_dict puts new ones
    in their place."""
    read, entries = {id(t) for t in tensors}, []
    for optimizer in optimizers:
        for param, state in optimizer.state.items():
            for key, value in state.items():
                if id(value) in read:
                    label = f"{type(optimizer).__name__}.state[a parameter][{key!r}]"
                    holder = _Reread(functools.partial(_state_item, optimizer, param))
                    entries.append((label, holder, key, value))
    return entries


def _state_item(optimizer, param, key, default):
    state = optimizer.state.get(param)
    return default if state is None else state.get(key, default)


def _set_group_item(optimizer, index: int, key, value) -> None:
    optimizer.param_groups[index][key] = value


# ops whose output may be a view of their first input's array
VIEW_OPS = frozenset(["view", "reshape", "permute", "expand", "getitem"])


def view_chain(ref, made_by: dict) -> list:
    """ref, then each ref whose array the previous one may be a view of (following view ops
    back from a slot; made_by: slot -> the node that made it)."""
    chain = [ref]
    while isinstance(ref, Ref) and ref.kind == "slot":
        node = made_by.get(ref.key)
        if node is None or node.op.name not in VIEW_OPS:
            break
        ref = node.inputs[0]
        chain.append(ref)
    return chain


def _viewed(ref: Ref, made_by: dict) -> Ref | None:
    """The ref whose array `ref` is (a view of)."""
    base = view_chain(ref, made_by)[-1]
    return base if isinstance(base, Ref) else None


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
        for r in node_refs(node):
            if r.kind == "tensor":
                holders[id(r.key)] = holders.get(id(r.key), 0) + 1
    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(_frozen(x, holders, written) for x in node.inputs)


def _frozen(x, holders, written):
    if not (isinstance(x, Ref) and x.kind == "tensor") or id(x.key) in written:
        return x
    if isinstance(x.key, LiveGrad):  # read afresh at each replay by design
        return x
    # getrefcount counts its own argument, then one per Ref holding the tensor
    if sys.getrefcount(x.key) - 1 <= holders[id(x.key)]:
        return Ref("const", x.key._data)
    return x


def _held_outside(t: Tensor, nodes, extra: int) -> bool:
    """Whether anything but the nodes and `extra` known holders (the caller's list and loop
    variable) references t: a tensor from before the step (a parameter), not one it made."""
    held = extra
    for node in nodes:
        if isinstance(node, SetGrad) and node.tensor is t:
            held += 1
        held += sum(r.kind == "tensor" and r.key is t for r in node_refs(node))
    # getrefcount counts its own argument and this function's parameter
    return sys.getrefcount(t) - 2 > held


class _Computed:
    """Where ReadsArrays puts an array in its op's keyword arguments."""

    def __repr__(self) -> str:
        return "<computed array>"


COMPUTED = _Computed()


def _put(params: dict, path: tuple, value) -> None:
    key, position = path
    if position is None:
        params[key] = value
    else:
        items = list(params[key])
        items[position] = value
        params[key] = tuple(items)


class ReadsArrays:
    """An op whose keyword arguments held arrays the step computed or was passed (tensor
    indices: x[i], an embedding's rows): its node reads them as inputs after the op's own,
    so each replay indexes with its own call's values, not the traced call's."""

    random = fresh = False

    def __init__(self, op, n_inputs: int, paths: tuple, cuda: bool):
        self.op, self.n_inputs, self.paths, self.cuda = op, n_inputs, paths, cuda
        self.name, self.n_outputs = op.name, op.n_outputs
        self.writes_out = getattr(op, "writes_out", False)

    def forward(self, meta, *arrays, **params):
        for path, array in zip(self.paths, arrays[self.n_inputs :]):
            _put(params, path, array)
        forward = devices.forward_of(self.op, self.cuda)
        return forward(meta, *arrays[: self.n_inputs], **params)


class _Fresh:
    """A new buffer holding a copy of a constant (see Capture._fresh_made_tensors)."""

    name, random, fresh, n_outputs = "fresh_copy", False, True, 1

    def forward(self, meta, value):
        return devices.copy(value)


FRESH = _Fresh()


def _rebind(nodes, program, key: int, new: Ref) -> None:
    """Replace every Ref("tensor") to the tensor with id `key` by `new`."""

    def swap(x):
        return new if x.kind == "tensor" and id(x.key) == key else x

    for node in nodes:
        map_refs(node, swap)
    program.output = map_leaves(program.output, Ref, swap)


def map_refs(node, fn) -> None:
    """Replace each Ref a node reads by fn(ref), in place."""
    if isinstance(node, OpNode):
        node.inputs = tuple(fn(x) if isinstance(x, Ref) else x for x in node.inputs)
    elif isinstance(node, Write):
        node.target, node.value = fn(node.target), fn(node.value)
    elif isinstance(node, SetGrad) and node.value is not None:
        node.value = fn(node.value)
    elif isinstance(node, Call):
        node.args, node.kwargs = map_leaves((node.args, node.kwargs), Ref, fn)


def node_refs(node) -> list:
    """The refs a node reads (an op's inputs, a write's target and value, a gradient, the
    tensors passed to a call)."""
    if isinstance(node, OpNode):
        return [x for x in node.inputs if isinstance(x, Ref)]
    if isinstance(node, Write):
        return [node.target, node.value]
    if isinstance(node, SetGrad):
        return [] if node.value is None else [node.value]
    return refs_in((node.args, node.kwargs))


def touched_tensors(nodes) -> list[Tensor]:
    """The tensors from outside the step that a program reads, or whose gradient it reads or
    sets, before any pass dropped a node: autograd ran their gradient hooks during the
    capture even where a replay no longer reads them (a weight whose forward output is dead
    once its gradient is computed)."""
    found: dict[int, Tensor] = {}
    for node in nodes:
        tensors = [node.tensor] if isinstance(node, SetGrad) and node.arg is None else []
        for r in node_refs(node):
            if r.kind == "tensor":
                tensors.append(r.key.leaf if isinstance(r.key, LiveGrad) else r.key)
        found.update((id(t), t) for t in tensors if isinstance(t, Tensor))
    return list(found.values())


_HOST_RNGS = (
    "Python's random module (random.random(), random.shuffle...)",
    "numpy's global generator (np.random.randn(), np.random.shuffle...)",
)


def _host_rng_states() -> tuple:
    """The states of the generators _HOST_RNGS names, comparable with ==."""
    numpy_state = np.random.get_state()
    return random.getstate(), (numpy_state[1].tobytes(), *numpy_state[2:])


def _rng_state(generator) -> tuple[int, int]:
    return generator._seed, generator.offset  # (initial_seed() would report a step's read)


def _meta(t: Tensor) -> registry.Meta:
    return registry.Meta(tuple(t.shape), t.dtype)


def _map_tensors(value, fn):
    """value with every Tensor replaced by fn(tensor), through tuples, lists and dicts."""
    return map_leaves(value, Tensor, fn)


def map_leaves(value, kind: type, fn):
    """value with every instance of `kind` replaced by fn(it), through tuples (named ones
    too), lists and dicts."""
    if isinstance(value, kind):
        return fn(value)
    if isinstance(value, (tuple, list)):
        mapped = [map_leaves(v, kind, fn) for v in value]
        return type(value)(mapped) if not hasattr(value, "_fields") else type(value)(*mapped)
    if isinstance(value, dict):
        return {k: map_leaves(v, kind, fn) for k, v in value.items()}
    return value


def leaves(value) -> list:
    """The items of nested tuples, lists, dicts and dataclass instances, in order."""
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in leaves(v)]
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in leaves(v)]
    if is_record(value):
        return [leaf for _, v in record_fields(value) for leaf in leaves(v)]
    return [value]


def is_record(value) -> bool:
    """A dataclass instance (a batch as `Batch(x=..., y=...)`): read field by field."""
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


def record_fields(value) -> list[tuple[str, object]]:
    return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]


def refs_in(value) -> list:
    """The Refs inside a step's output structure."""
    found: list = []
    map_leaves(value, Ref, found.append)
    return found


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_frame() -> str:
    """file:line of the innermost frame outside minitorch (the user's code); contextlib's
    frames pass a `with` on to minitorch's context managers (fork_rng), so they are not it."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PACKAGE) and path != _CONTEXTLIB:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


_CONTEXTLIB = os.path.abspath(contextlib.__file__)
_HOOKS = (os.path.join(_PACKAGE, "jit") + os.sep, os.path.join(_PACKAGE, "jit_guard.py"))
_TENSOR_PY = os.path.join(_PACKAGE, "tensor.py")
_TORCH_PY = os.path.join(_PACKAGE, "__init__.py")  # torch.quantile -> Tensor.quantile wrappers
# frames that only pass a call on (a module's __call__ to its forward): not what the user called
_PASSING_ON = frozenset(["__call__", "_call_with_hooks", "_call_with_backward_hooks", "wrapper"])


def _library_read() -> tuple[str, str] | None:
    """For a host read reported while tracing: (the minitorch function the user's code called,
    "file:line in function" of the read inside it) when minitorch's own code made the read
    (the GradScaler reading whether gradients are finite), None when the user's code did
    (bool(t), t.item(), torch.allclose called in the step)."""

    def path(f):
        return os.path.abspath(f.f_code.co_filename)

    def passes_on(f):  # a wrapper (torch.quantile's, a decorator's) or a module's __call__
        code = f.f_code
        return code.co_name in _PASSING_ON or "<locals>" in getattr(code, "co_qualname", "")

    frame = sys._getframe(1)
    while frame is not None and path(frame).startswith(_HOOKS):
        frame = frame.f_back
    if frame is None:
        return None
    if path(frame) == _TENSOR_PY:  # the read itself: bool(t), t.item(), t.numpy(), ...
        while frame is not None and path(frame) == _TENSOR_PY:
            frame = frame.f_back
    else:  # a function reporting its own read (torch.multinomial): its caller made the read
        frame = frame.f_back
    while frame is not None and path(frame).startswith(_PACKAGE) and passes_on(frame):
        frame = frame.f_back
    if frame is None or not path(frame).startswith(_PACKAGE):
        return None  # the user's code made the read
    site, called = frame, [frame]
    while frame.f_back is not None and path(frame.f_back).startswith(_PACKAGE):
        frame = frame.f_back
        called.append(frame)
    entry = next((f for f in reversed(called) if not passes_on(f)), site)
    name = getattr(entry.f_code, "co_qualname", entry.f_code.co_name)
    if path(called[-1]) == _TORCH_PY:  # called as torch.quantile(x, ...)
        name = f"torch.{entry.f_code.co_name}"
    where = os.path.relpath(path(site), os.path.dirname(_PACKAGE))
    code = site.f_code
    return name, f"{where}:{site.f_lineno} in {getattr(code, 'co_qualname', code.co_name)}"


def closure_numbers(fn) -> dict:
    """The Python numbers, strings and bools a function reads from its closure and globals,
    and those read by the user's functions it reaches by such names (helpers, also followed):
    a trace freezes them, so the compiled function guards on their values."""
    return {label: value for label, _, _, value in watched_numbers(fn)}


def watched_numbers(fn, _seen: set | None = None, _where: str = "", roots=None) -> list[tuple]:
    """closure_numbers as (label, holder, name, value): holder is a closure cell (name None)
    or the globals dict that holds `name`, so a guard rereads each value without walking the
    code again. roots: {parameter name: object} whose attributes the step reads (the objects
    passed to it: a trainer, a batch holder); a bound method's self is one."""
    fn = step_function(fn)[0]  # (a partial's function, a callable object's __call__)
    owner = fn.__self__ if inspect.ismethod(fn) else None
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    seen = set() if _seen is None else _seen
    if code is None or code in seen or len(seen) >= _MAX_HELPERS:
        return []
    seen.add(code)
    roots = dict(roots or {})
    if owner is not None and code.co_argcount:  # a compiled bound method: `self.x` reads too
        roots[code.co_varnames[0]] = owner
    found = []  # (label, holder, name, value) of every value read, numbers or not
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            found.append((f"closure {name}{_where}", cell, None, cell.cell_contents))
        except ValueError:  # an empty cell
            continue
    for name in dict.fromkeys(_global_names(code)):
        if name in fn.__globals__:
            found.append((f"global {name}{_where}", fn.__globals__, name, fn.__globals__[name]))
    found += _attribute_reads(code, fn, _where, roots)
    numbers = [g for g in map(_value_guard, found) if g is not None]
    numbers += [w for w in found if _guarded_by_identity(w)]
    # NOTE: a branch on a flag inside a helper the step calls is frozen by the trace as surely
    # as one in the step itself
    for *_, v in found:
        v = getattr(v, "__wrapped__", v)  # a compiled function the step calls: its own code
        if inspect.isfunction(v) and _is_user_code(v.__code__.co_filename):
            numbers += watched_numbers(v, seen, f" (read by {v.__qualname__})")
        elif _user_callable(v):  # an object the step calls: its __call__ reads self.x
            numbers += watched_numbers(v.__call__, seen, f" (read by {type(v).__qualname__})")
    return numbers


def _user_callable(value) -> bool:
    """An instance of the user's own class with a __call__ (not a function, class or module)."""
    classes = type(value).__mro__
    call = next((vars(c)["__call__"] for c in classes if "__call__" in vars(c)), None)
    return (
        inspect.isfunction(call)
        and not isinstance(value, type)
        and _is_user_code(call.__code__.co_filename)
    )


def step_reads(fn, args: tuple, kwargs: dict) -> list[tuple]:
    """watched_numbers of a compiled callable called with (args, kwargs): with the objects
    passed in as roots (object_arguments), and the attributes of every object of the user's
    it is passed or reads by name (object_attributes)."""
    codes: set = set()  # (filled by watched_numbers: the step's code and its helpers')
    (roots, kept), step = object_arguments(fn, args, kwargs), step_function(fn)[0]
    where = "" if qualname(step) == qualname(fn) else f" (read by {qualname(step)})"
    watched = watched_numbers(step, codes, where, roots=roots)
    # NOTE: a mutable default (def step(x, history=[])) or a list a partial binds is the same
    # object at every call: what the step appends there, eager keeps and a replay would not
    # add (watched, `rebound` compares it after the capture)
    for name, label in kept.items():
        if isinstance(roots[name], _MUTABLE):
            entry = (label, {name: roots[name]}, name, roots[name])
            watched.append(_value_guard(entry) or entry)
    held = [("argument", (args, kwargs))] + [(f"argument {k}", v) for k, v in roots.items()]
    held += [(label, value) for label, _, _, value in watched]
    return watched + object_attributes(held, codes)


def step_function(fn) -> tuple:
    """(the user's function a compiled callable runs, the arguments it binds itself, the
    keyword ones): a partial's function and arguments, a callable object's __call__, a
    compiled module's forward (the library's Module.__call__ only runs hooks around it)."""
    from ..nn import Module  # noqa: PLC0415  (nn imports the tracer's hooks)

    if inspect.ismethod(fn):  # (unwrapped itself, it would give the function, not the method)
        fn = types.MethodType(inspect.unwrap(fn.__func__), fn.__self__)
    else:
        fn = inspect.unwrap(fn)
    if isinstance(fn, functools.partial):
        inner, args, kwargs = step_function(fn.func)
        return inner, (*args, *fn.args), {**kwargs, **fn.keywords}
    if inspect.ismethod(fn) and fn.__func__ is Module.__call__:
        return step_function(fn.__self__.forward)
    if _user_callable(fn):
        return fn.__call__, (), {}
    return fn, (), {}


def qualname(fn) -> str:
    """Net.forward for a module's bound forward (not the <locals> path of its class)."""
    if inspect.ismethod(fn):
        return f"{type(fn.__self__).__name__}.{fn.__name__}"
    return getattr(fn, "__qualname__", type(fn).__name__)


_PASSED_AS_VALUES = (Tensor, bool, int, float, str, bytes, tuple, list, dict, type(None))
_GATHERING = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def object_arguments(fn, args: tuple, kwargs: dict) -> tuple[dict, dict]:
    """({parameter name: value} for the step's parameters whose attributes or items it may read
    (holder.x, rest[0].scale, kw["cfg"].scale): roots for watched_numbers, {name: label} for
    those of them the call does not pass, which outlive it). Roots: the plain objects passed
    (not tensors, numbers, strings, containers or dataclasses: the guard key holds those), the
    tuple of *args and dict of **kwargs, and what a partial binds or a default gives (a config
    dict, a history list), which no key holds."""
    step, own_args, own_kwargs = step_function(fn)
    try:
        signature = inspect.signature(step)
        call = signature.bind(*own_args, *args, **own_kwargs, **kwargs)
        own = signature.bind_partial(*own_args, **own_kwargs).arguments
    except (TypeError, ValueError):  # (no signature, or a call eager will refuse itself)
        return {}, {}
    passed = set(call.arguments) - set(own)
    call.apply_defaults()
    roots, kept = {}, {}
    code = getattr(step, "__code__", None)
    where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
    for name, value in call.arguments.items():
        gathering = signature.parameters[name].kind in _GATHERING
        if name in passed and not gathering:
            keep = not isinstance(value, _PASSED_AS_VALUES) and not is_record(value)
        else:
            keep = not (value is None or isinstance(value, (Tensor, *PLAIN_VALUES)))
        if keep:
            roots[name] = value
            if name not in passed and not gathering:  # (*args, **kwargs: new at each call)
                how = "bound by a partial" if name in own else "its default"
                kept[name] = f"argument {name} of {qualname(step)} ({how}){where}"
    return roots, kept


def object_attributes(held, codes) -> list[tuple]:
    """watched_numbers-style entries for the attributes of the user's objects among `held`
    ((label, value) of the arguments and what the step reads by name), inside them too (in a
    tuple or dict, through *args, cfg.optim), under the names the step's code objects read.
    Which local holds which object (`x, cfg = batch` then cfg.scale, a helper given cfg) is not
    in the bytecode, so every attribute of such a name is guarded."""
    names, seen, found = set().union(*map(_names_read, codes)), set(), []
    for label, value in held:
        for where, obj in _objects_in(label, value):
            if id(obj) not in seen:
                seen.add(id(obj))
                state = vars(obj)
                found += [
                    (f"attribute {n} of {where}", state, n, v)
                    for n, v in state.items()
                    if n in names
                ]
    return found


def _objects_in(label: str, value, depth: int = 3):
    """(label, object) for the user's objects in a value, through tuples, lists, dicts (their
    first _SMALL items), dataclass fields and such objects' attributes, `depth` levels down.
    `("argument", (args, kwargs))` names each argument as the guard key does."""
    if depth == 0:
        return
    if label == "argument":
        items = [(f"argument {i}", v) for i, v in enumerate(value[0])]
        items += [(f"argument {k}", v) for k, v in value[1].items()]
    elif isinstance(value, (tuple, list, dict)):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        items = [(f"{label}[{k!r}]", v) for k, v in itertools.islice(pairs, _SMALL)]
    elif is_record(value):
        items = [(f"{label}.{k}", v) for k, v in record_fields(value)]
    elif _user_object(value):
        yield label, value
        items = [(f"{label}.{k}", v) for k, v in vars(value).items() if _user_object(v)]
    else:
        return
    for sub, v in items:
        yield from _objects_in(sub, v, depth - 1)


def _user_object(value) -> bool:
    """An instance of one of the user's classes (a config, a batch holder), but for modules
    (guarded where called) and optimizers (their learning rates are read live)."""
    from ..nn import Module  # noqa: PLC0415

    home = type(value).__module__
    source = getattr(sys.modules.get(home), "__file__", None)
    return (
        (_is_user_code(source) if source else home == "__main__")
        and hasattr(value, "__dict__")
        and not isinstance(value, (type, Tensor, Module))
        and not hasattr(value, "param_groups")
    )


def _names_read(code) -> set:
    """The attribute names code and the functions inside it read as values (cfg.scale; not
    methods called, opt.step(): a `tracker.step` number is no read), and the strings it holds
    (getattr(cfg, "scale"))."""
    names = {
        ins.argval
        for ins in dis.get_instructions(code)
        if ins.opname == "LOAD_ATTR" and "NULL|self" not in ins.argrepr  # (3.12's method load)
    }
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names_read(const)
        elif isinstance(const, str):
            names.add(const)
    return names


def module_numbers(modules) -> list[tuple]:
    """watched_numbers entries for the plain values in each module's attributes (`self.scale`
    read by a forward, `self.mask = None`, `self.shift = (1.0, 0.0)`), but for `training`,
    which has a guard of its own, and for the tensors stored there that are neither
    parameters nor buffers (`self.mask`, by identity); and for the parameters, buffers and
    submodules of these modules and of all modules inside them, by name and by count."""
    numbers, internal = [], _module_internals()
    for module in {id(m): m for m in modules}.values():
        for name, value in vars(module).items():
            if name in internal:
                continue
            label = f"{type(module).__name__}.{name}"
            guard = _value_guard((label, vars(module), name, value))
            if guard is not None or isinstance(value, Tensor):
                numbers.append(guard or (label, vars(module), name, value))
    # NOTE: also of the modules inside them that no step calls: a forward iterates a
    # ModuleList or ParameterList, and a layer appended, replaced or deleted there (or in a
    # Sequential) would not be the layers the trace runs
    inside = {id(m): m for module in modules for m in module.modules()}
    for module in inside.values():
        # a parameter, buffer or submodule replaced (m.fc = nn.Linear(...)) is not the
        # tensor the trace reads (updates in place keep the object: load_state_dict, mul_)
        kind = type(module).__name__
        for holder in _HOLDERS:
            held = _Reread(functools.partial(_held_item, module, holder))
            for name, value in vars(module).get(holder, {}).items():
                numbers.append((f"{kind}.{name}", held, name, value))
        count = _Reread(lambda _name, _default, module=module: _count(module))
        numbers.append((f"the number of {kind}'s entries", count, "", _count(module)))
    return numbers


_HOLDERS = ("_parameters", "_buffers", "_modules")


def _held_item(module, holder: str, name, default):
    return vars(module).get(holder, {}).get(name, default)


def _count(module) -> int:
    """How many parameters, buffers and submodules a module has (one added: no guard reads
    its name)."""
    return sum(len(vars(module).get(holder, ())) for holder in _HOLDERS)


@functools.cache
def _module_internals() -> frozenset:
    """The attributes every Module has for its own bookkeeping (its dicts of parameters and
    hooks: guarded on their own), and `training` (see Program.modules)."""
    from ..nn import Module  # noqa: PLC0415  (nn imports the tracer's hooks)

    return frozenset(vars(Module()))


_SMALL = 32  # items of a list, tuple or dict that a guard compares by value at each call


def _value_guard(entry: tuple) -> tuple | None:
    """A watched entry (label, holder, name, value) guarded by value (see _snapshot), or None
    for a value that is not."""
    snapshot = _snapshot(entry[3])
    return None if snapshot is _UNWATCHED else (*entry[:3], snapshot)


_UNWATCHED = object()


def _snapshot(value):
    """What a guard compares a value with later: numbers, strings and None as they are, a copy
    of a small list/tuple/dict of those (the step may change it in place); _UNWATCHED for
    anything else."""
    if value is None or isinstance(value, PLAIN_VALUES):
        return value
    return copy.deepcopy(value) if _small_plain(value) else _UNWATCHED


def _small_plain(value) -> bool:
    if not isinstance(value, (list, tuple, dict)) or len(value) > _SMALL:
        return False
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    return all(x is None or isinstance(x, PLAIN_VALUES) for x in items)


def _held(module) -> list[dict]:
    """A module's dicts of parameters, buffers and submodules."""
    state = vars(module)
    return [state[kind] for kind in _HOLDERS if kind in state]


def _module_state(module) -> dict:
    """name -> the parameter, buffer, submodule, tensor or plain value (a copy of a small
    container) a module holds under it: what a step must not rebind."""
    state = {name: v for holder in _held(module) for name, v in holder.items()}
    internal = _module_internals()  # (and `training`: see Program.modules)
    for name, value in vars(module).items():
        if name in internal:
            continue
        snapshot = value if isinstance(value, Tensor) else _snapshot(value)
        if snapshot is not _UNWATCHED:
            state[name] = snapshot
    return state


def _module_contents(module) -> list[tuple]:
    """container_contents of what a module holds (self.outputs) and of what its forward and
    hooks read by name (a global list a forward hook appends activations to)."""
    internal, kind = _module_internals(), type(module).__name__
    state = vars(module)
    held = [(f"{kind}.{n}", state, n, v) for n, v in state.items() if n not in internal]
    return container_contents(held + forward_numbers([module]))


def same_value(a, b) -> bool:
    """Whether a watched value is unchanged: the same object where guarded by identity, an
    equal one where guarded by value."""
    if a is b:
        return True
    return not (by_identity(a) or by_identity(b)) and equal_value(a, b)


def equal_value(a, b) -> bool:
    """Whether two values guarded by value are the same: of one type, equal (floats by their
    bits: see Exact)."""
    if type(a) is not type(b):
        return False
    try:
        return bool(exact(a) == exact(b))
    except Exception:  # noqa: BLE001  (a value whose == gives no bool)
        return False


class Exact:
    """A float as guards and common-subexpression keys compare it: by its bits, so 0.0 and
    -0.0 differ (1 / x tells them apart) and a NaN matches itself."""

    __slots__ = ("value", "bits")

    def __init__(self, value):
        self.value, self.bits = value, struct.pack("<d", value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Exact) and self.bits == other.bits

    def __hash__(self) -> int:
        return hash(self.bits)

    def __repr__(self) -> str:
        return repr(self.value)


def exact(value):
    """value as guards compare it (Exact for a float), else value itself."""
    return Exact(value) if isinstance(value, (float, np.floating)) else value


def short(value) -> str:
    """How messages show a value: its repr when short, else its type (a tensor by shape)."""
    if isinstance(value, Tensor):
        return f"a {tuple(value.shape)} tensor"
    text = repr(value)
    return text if len(text) <= 40 else type(value).__name__


def rebound(watched, contents=()) -> str | None:
    """How the step itself changed a value it reads (watched_numbers entries taken before
    it ran) or the items of a container it reads (`container_contents` taken before it ran):
    a replay runs no Python, so it would not; None if it changed none."""
    for label, holder, name, value in watched:
        now = read_watched(holder, name)
        if not same_value(value, now) and not _is_gradient(holder):
            return f"the step changed {label} ({value!r} -> {now!r})"
    for label, container, items in contents:
        if _items(container) != items:
            return (
                f"the step changed the items of {label} (a {type(container).__name__}, now of "
                f"{len(container)}: return what the step stores there and store it after the "
                "call)"
            )
    return None


def _is_gradient(holder) -> bool:
    """Whether a watched chain reads a tensor's gradient (`m.weight.grad`): the step's backward
    (or `p.grad = ...`) sets it and a replay sets it too (SetGrad), so it is no Python state a
    replay would miss; the guards on gradients are grad_guards and LiveGrad."""
    if type(holder) is not _Attribute or holder.attrs[-1] != "grad":
        return False
    try:
        return isinstance(holder._walk(holder.attrs[:-1]), Tensor)
    except Exception:  # noqa: BLE001  (the chain before .grad fails now)
        return False


NO_PYTHON = (
    "which a replay would not do (it runs no Python); keep such state outside the compiled "
    'function or pass it in as an argument, or compile with fallback="eager".'
)
_MUTABLE = (list, dict, set, bytearray, collections.deque)


def container_contents(watched) -> list[tuple]:
    """(label, container, its items) for the mutable containers among watched values (a list
    of tensors, a dict of lists, a long list): a guard on the object does not see the items a
    step appends (`rebound` compares them after the trace). Read afresh: a small list of
    numbers is watched through a copy (see _snapshot), and an empty list is one."""
    found = []
    for label, holder, name, value in watched:
        if isinstance(value, _MUTABLE):
            live = read_watched(holder, name)
            found.append((label, live, _items(live)))
    return found


def _items(value, depth: int = 2):
    """What a mutable container holds, as the identities of its items (the values of numbers
    and strings: one set again to an equal value is unchanged), and of the items of
    containers inside it, `depth` levels down: metrics["loss"].append(loss)."""
    if isinstance(value, PLAIN_VALUES):
        return exact(value)
    if not isinstance(value, _MUTABLE) or depth == 0:
        return id(value)
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, set):
        return frozenset(map(id, value))
    items = [x for pair in value.items() for x in pair] if isinstance(value, dict) else value
    return tuple(_items(x, depth - 1) for x in items)


# Values a trace may read and freeze (into Python branches or as numbers), guarded by value.
# NOTE: numpy's scalars too (np.float32(0.5) as a temperature, a np.int64 from np.arange): they
# are not Python numbers (np.float64 alone subclasses float), and went unguarded
PLAIN_VALUES = (bool, int, float, str, np.generic)


def by_identity(value) -> bool:
    """Whether a watched value is compared by identity (an object, None, MISSING) or by
    value (see _snapshot)."""
    return value is None or not (isinstance(value, PLAIN_VALUES) or _small_plain(value))


def _guarded_by_identity(entry: tuple) -> bool:
    """Whether watched_numbers guards an entry's value by identity: the objects a step works
    on (a tensor, model, optimizer, scheduler, loss function, helper) rebound between calls (a
    new model per fold, the next phase's scheduler) are other objects than the trace ran.
    Through an attribute only where stored there: x.T, a bound method are new at each read."""
    _, holder, _, value = entry
    if value is MISSING:
        return True
    if value is None or not by_identity(value):
        return False  # (guarded by value)
    return type(holder) is not _Attribute or holder.stored()


class _Attribute:
    """A guard's holder for `root.a.b` or `root["k"]` read by a step: rereads the chain from
    its root (a closure cell or a globals dict) each time, so a replaced `root.a` is noticed
    too. A step of `attrs` is an attribute name, or a 1-tuple holding a subscript's key."""

    def __init__(self, cell, scope: dict | None, name: str, attrs: tuple):
        self.cell, self.scope, self.name, self.attrs = cell, scope, name, attrs

    def get(self, _name, default):
        try:
            return self._walk(self.attrs)
        except Exception:  # noqa: BLE001  (an empty cell, a missing name, a failing property)
            return default

    def _walk(self, steps):
        obj = self.cell.cell_contents if self.scope is None else self.scope[self.name]
        for step in steps:
            obj = obj[step[0]] if isinstance(step, tuple) else getattr(obj, step)
        return obj

    def stored(self) -> bool:
        """Whether the chain's last step reads a value stored in its object (its __dict__, a
        dict's or list's item), not one a property makes at each read (x.T)."""
        last = self.attrs[-1]
        try:
            parent = self._walk(self.attrs[:-1])
            if isinstance(last, tuple):  # (not a tensor's x[0]: a new view at each read)
                return isinstance(parent, (dict, list, tuple))
            return last in vars(parent)
        except Exception:  # noqa: BLE001  (no __dict__: a slotted or builtin object)
            return False

    def absent(self) -> bool:
        """Whether the chain's last step names what its object does not have (`self.shift`
        behind a hasattr, a missing key), the rest of the chain being there."""
        last = self.attrs[-1]
        try:
            parent = self._walk(self.attrs[:-1])
        except Exception:  # noqa: BLE001
            return False
        if isinstance(last, tuple):
            return isinstance(parent, dict) and last[0] not in parent
        return hasattr(parent, "__dict__") and not hasattr(parent, last)

    def through_optimizer(self) -> bool:
        """Whether the chain passes through an optimizer (its learning rates are read live by
        its step: a guard on them would retrace whenever a scheduler moves them)."""
        try:
            return any(
                hasattr(self._walk(self.attrs[:i]), "param_groups") for i in range(len(self.attrs))
            )
        except Exception:  # noqa: BLE001
            return False

    def label(self) -> str:
        text = self.name
        for s in self.attrs:
            if s == "__class__":  # (see _attribute_chains)
                text = f"type({text})"
            else:
                text += f"[{s[0]!r}]" if isinstance(s, tuple) else f".{s}"
        return text


def _attribute_reads(code, fn, where: str, roots: dict) -> list[tuple]:
    """watched_numbers-style entries for `name.attr[.attr...]` and `name["key"]` reads of a
    closure variable or a global in code (cfg.scale), or of a root (a bound method's self, an
    object passed in): the holder rereads the chain (see _Attribute)."""
    cells = dict(zip(code.co_freevars, fn.__closure__ or ()))
    cells.update({name: types.CellType(obj) for name, obj in roots.items()})
    found = []
    for name, attrs in dict.fromkeys(_attribute_chains(code, tuple(roots))):
        if name in cells:
            holder = _Attribute(cells[name], None, name, attrs)
        elif name in fn.__globals__:
            holder = _Attribute(None, fn.__globals__, name, attrs)
        else:
            continue
        value = holder.get(None, MISSING)
        if value is MISSING and not holder.absent():
            continue  # (the chain fails before its last step: x.grad.norm while grad is None)
        if not holder.through_optimizer():
            found.append((f"attribute {holder.label()}{where}", holder, "", value))
    return found


def _attribute_chains(code, fast: tuple = ()) -> list[tuple[str, tuple]]:
    """(name, steps) for each closure or global `name`, or local in `fast` (a method's self,
    an object passed in), whose attributes or constant subscripts (cfg["lr"]) code reads.
    `type(self).scale` reads a class attribute as `self.__class__.scale` does: its chain goes
    through "__class__" (a class attribute changed between calls is seen as one on self)."""
    chains, current, key, typed = [], None, None, False
    for ins in dis.get_instructions(code):
        local = ins.opname.startswith("LOAD_FAST") and ins.argval in fast
        if local or ins.opname in ("LOAD_DEREF", "LOAD_GLOBAL", "LOAD_NAME"):
            typed = current == ("type", ())  # the argument of a call of `type`, perhaps
            current = (ins.argval, ())
        elif ins.opname in ("PRECALL", "CALL") and typed and ins.arg == 1:
            if ins.opname == "CALL":  # (3.11 has a PRECALL before it)
                current, typed = (current[0], current[1] + ("__class__",)), False
            continue
        elif ins.opname == "LOAD_ATTR" and current is not None:
            current = (current[0], current[1] + (ins.argval,))
            chains.append(current)
        elif ins.opname == "LOAD_CONST" and current is not None and key is None:
            key = (ins.argval,)  # a subscript's key, if BINARY_SUBSCR follows
            continue
        elif ins.opname == "BINARY_SUBSCR" and current is not None and key is not None:
            current = (current[0], current[1] + (key,))
            chains.append(current)
        elif ins.opname == "COPY" and current is not None:  # `self.n += 1` reads via a copy
            continue
        else:
            current, typed = None, False
        key = None
    for const in code.co_consts:
        if inspect.iscode(const):
            chains += _attribute_chains(const, fast)
    return chains


class _Missing:
    """What a watched name or attribute reads as where it is not there (a layer deleted, an
    attribute the forward tests with hasattr): guarded by identity like an object."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


def read_watched(holder, name):
    """The current value of a watched_numbers entry (MISSING when it is gone)."""
    if name is not None:  # a globals dict, a module's attributes or an _Attribute
        return holder.get(name, MISSING)
    try:
        return holder.cell_contents
    except ValueError:
        return MISSING


_MAX_HELPERS = 32  # functions followed per step: bounds the guard's cost per call
_STDLIB = sysconfig.get_paths()["stdlib"]
_LIBRARIES = (_PACKAGE, _STDLIB, "site-packages", "dist-packages")


# a module's hooks, forward and backward, in the order they run
HOOK_TABLES = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def forward_numbers(modules) -> list[tuple]:
    """watched_numbers of the forwards of the user's own modules a step called and of their
    hooks, forward and backward (a global temperature, `self.cfg.scale`, `self.opts["k"]`
    read there), each code read once."""
    numbers, seen = [], set()
    for module in modules:
        where = f" (read by {type(module).__name__}.forward)"
        numbers += _user_code_numbers(getattr(module, "forward", None), seen, where)
        for table in HOOK_TABLES:
            for hook in getattr(module, table, {}).values():
                where = f" (read by a hook of {type(module).__name__}{_defined_at(hook)})"
                numbers += _user_code_numbers(hook, seen, where)
    return numbers


def autograd_numbers(tensors, functions) -> list[tuple]:
    """watched_numbers of the user's code autograd ran for a step outside the step's own: the
    gradient hooks of the tensors it read (`p.register_hook(lambda g: g * cfg.scale)`, made
    outside the step) and the methods of the custom autograd.Functions it applied. Their
    backward runs in the trace's backward: a value read there is frozen as surely."""
    numbers, seen = [], set()
    for t in tensors:
        hooks = [*(t._hooks or {}).values(), *(t._post_accumulate_hooks or {}).values()]
        for hook in hooks:
            where = f" (read by a gradient hook of a {tuple(t.shape)} tensor{_defined_at(hook)})"
            numbers += _user_code_numbers(hook, seen, where)
    for cls in functions:
        for name in ("forward", "setup_context", "backward"):
            method = getattr(cls, name)
            where = f" (read by {cls.__qualname__}.{name}{_defined_at(method)})"
            numbers += _user_code_numbers(method, seen, where)
    return numbers


def _user_code_numbers(fn, seen: set, where: str) -> list[tuple]:
    """watched_numbers of fn where it is the user's code (not minitorch's or a library's)."""
    owner = getattr(fn, "__self__", None)
    if isinstance(owner, _MUTABLE):  # a container's own method (register_hook(grads.append))
        kind = type(owner).__name__
        return [(f"the {kind} whose {fn.__name__} is called{where}", {"": owner}, "", owner)]
    code = getattr(fn, "__code__", None)
    if code is None or not _is_user_code(code.co_filename):
        return []
    return watched_numbers(fn, seen, where)


def _defined_at(fn) -> str:
    """ ", file:line" where the user's function fn (a hook, often a lambda) is defined."""
    code = getattr(fn, "__code__", None)
    return f", {code.co_filename}:{code.co_firstlineno}" if code is not None else ""


def _is_user_code(path: str) -> bool:
    return not any(part in path for part in _LIBRARIES)


def _global_names(code) -> list[str]:
    """Names that code and the functions defined inside it read as globals. (Not co_names:
    it holds attribute names too, and `batch.x` is no read of a global `x`.)"""
    reads = ("LOAD_GLOBAL", "LOAD_NAME")
    names = [ins.argval for ins in dis.get_instructions(code) if ins.opname in reads]
    for const in code.co_consts:
        if inspect.iscode(const):
            names += _global_names(const)
    return names
