"""Tape nodes and the backward walk.

Every differentiable op call records a Node on its output (`tensor.grad_fn`). backward()
orders the reachable nodes topologically (iteratively: long RNN unrolls exceed Python's
recursion limit), runs each op's backward rule (written with Tensor ops, so create_graph
gives higher-order gradients), sums each gradient back to its input's shape once, here,
and accumulates into leaves' `.grad`.
"""

from __future__ import annotations

import math

from .. import jit_guard
from .grad_mode import no_grad, set_grad_enabled, state


class Node:
    """One recorded op application: what backward needs to send gradients to the inputs."""

    __slots__ = (
        "op",
        "inputs",
        "params",
        "out",
        "saved",
        "versions",
        "hooks",
        "freed",
        "released",
        "needs_input_grad",
        "parents",
        "__weakref__",
    )

    def __init__(self, op, inputs, params, out, saved=None):
        self.op = op
        self.inputs = inputs
        self.params = params
        self.out = out if op.save_out else None
        self.saved = saved
        self.hooks = None
        self.freed = False
        self.released = False  # a backward ran through it without retain_graph
        self.needs_input_grad = tuple(getattr(x, "requires_grad", False) for x in inputs)
        # NOTE: each input's history as of now: an in-place op later gives the input tensor a
        # new grad_fn, and gradients for this node must still go to the old one.
        self.parents = tuple(
            getattr(x, "grad_fn", None) if need else None
            for x, need in zip(inputs, self.needs_input_grad)
        )
        # numbers (x * 2) have no version; a Function's op saves nothing here
        watched = [inputs[i] for i in _saved(op, self.needs_input_grad) if i < len(inputs)]
        watched = [x for x in watched if hasattr(x, "_version_counter")]
        if op.save_out:
            watched.append(out)
        self.versions = tuple((t._version_counter, t._version_counter[0]) for t in watched)

    def name(self) -> str:
        return self.op.backward_name

    @property
    def next_functions(self):
        return tuple((p, 0) for p in self.parents)

    def register_hook(self, fn):
        raise RuntimeError("register_hook on a grad_fn is not supported; use Tensor.register_hook")

    def run(self, grad):
        if self.freed:
            raise RuntimeError(
                f"{self.name()}: trying to backward through the graph a second time (or to "
                "access saved tensors after they were freed). Saved intermediate values are "
                "freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True the first time you call backward."
            )
        self._check_versions()
        return self.op.backward(self, grad)

    def _check_versions(self):
        check_versions(self.versions, self.name())

    def release(self):
        # only nodes that keep saved values refuse a second backward (as in PyTorch)
        self.freed = bool(self.op.save or self.op.save_out or self.saved is not None)
        self.released = True
        self.out = None
        self.saved = None


class PartialGrad:
    """A gradient that is zero except on a part of its tensor (getitem's backward on slices).

    An op's backward may return one instead of a Tensor; the engine keeps the parts that reach
    one tensor and hands them together to `merge`, so that chunk's pieces become one `cat`
    (PyTorch's SplitBackward) instead of a zero-filled full-size tensor each, summed.
    """

    values = None  # the gradient on the part (a Tensor)

    @staticmethod
    def merge(parts: list):
        """The full-size Tensor sum of parts (all of the same subclass)."""
        raise NotImplementedError


def _saved(op, needs_input_grad) -> tuple[int, ...]:
    """The inputs an op's backward will read, given which inputs need gradients."""
    if getattr(op, "reads", None) is None:  # (a custom Function's op is no Op)
        return op.save
    needed = {j for reads, need in zip(op.reads, needs_input_grad) if need for j in reads}
    return tuple(sorted(needed))


def check_versions(versions, user: str) -> None:
    """Raise if a tensor saved for backward was modified in place since it was saved."""
    for box, seen in versions:
        if box[0] != seen:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: it is used by {user} and is at version {box[0]}; expected "
                f"version {seen} instead. Hint: replace the in-place op (e.g. x += y, "
                "x.relu_()) by its out-of-place form (x = x + y)."
            )


def _topological(roots):
    """Nodes reachable from roots, each before every node it feeds gradients to."""
    order, seen = [], set()
    stack = [(n, False) for n in roots if n is not None]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for parent in node.parents:
            if parent is not None and id(parent) not in seen:
                stack.append((parent, False))
    order.reverse()
    return order


def run_backward(
    tensors,
    grads,
    retain_graph=False,
    create_graph=False,
    inputs=None,
    accumulate=True,
    allow_unused=True,
):
    """Propagate `grads` from `tensors`; accumulate into leaves or return grads of `inputs`."""
    from ..tensor import Tensor  # noqa: PLC0415  (engine sits below tensor in the layers)

    node_grads: dict[int, Tensor] = {}
    leaf_grads: dict[int, tuple[Tensor, Tensor]] = {}
    wanted = {id(t): t for t in inputs} if inputs is not None else None
    wanted_nodes = {id(t.grad_fn): id(t) for t in inputs or () if t.grad_fn is not None}
    captured: dict[int, Tensor] = {}
    roots = []
    for t, g in zip(tensors, grads):
        if t.grad_fn is None:
            _add_leaf(leaf_grads, t, g)
        else:
            _accumulate(node_grads, t.grad_fn, g)
            roots.append(t.grad_fn)
    with set_grad_enabled(create_graph):
        for node in _topological(roots):
            slot = node_grads.pop(id(node), None)
            if slot is None:
                continue
            grad = _total(slot)
            if node.hooks:
                grad = _run_hooks(node.hooks, grad)
            if id(node) in wanted_nodes:
                captured[wanted_nodes[id(node)]] = grad
            input_grads = node.run(grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if state.anomaly:
                _check_nan(node, input_grads)
            for x, g, need, parent in zip(
                node.inputs, input_grads, node.needs_input_grad, node.parents
            ):
                if g is None or not need or not isinstance(x, Tensor):
                    continue
                if not isinstance(g, PartialGrad):
                    g = _fit(g, x)
                if parent is None:
                    _add_leaf(leaf_grads, x, g)
                else:
                    _accumulate(node_grads, parent, g)
            if not retain_graph:
                node.release()
        return _finish_leaves(leaf_grads, wanted, captured, accumulate, create_graph)


def _finish_leaves(leaf_grads, wanted, captured, accumulate, create_graph):
    for key, (leaf, slot) in leaf_grads.items():
        g = _total(slot)
        if leaf._hooks:
            g = _run_hooks(leaf._hooks, g)
        if wanted is not None:
            if key in wanted:
                captured[key] = g
            continue
        if accumulate:
            if not create_graph:
                g = g.detach()
            leaf.grad = g if leaf.grad is None else leaf.grad + g  # a trace sees it (Tensor.grad)
            for hook in list((leaf._post_accumulate_hooks or {}).values()):
                hook(leaf)
    return captured


def _fit(g, x):
    """Sum a broadcast gradient back to x's shape and cast it to x's dtype."""
    if g.shape != x.shape:
        g = g.sum_to_size(x.shape)
    if g.dtype is not x.dtype:
        g = g.to(x.dtype)
    return g


def _accumulate(store, node, g):
    _add_to(store.setdefault(id(node), [None, []]), g)


def _add_leaf(store, leaf, g):
    _add_to(store.setdefault(id(leaf), (leaf, [None, []]))[1], g)


def _add_to(slot, g):
    """slot = [running sum of the dense gradients, PartialGrads kept for one merge]."""
    if isinstance(g, PartialGrad):
        slot[1].append(g)
    else:
        slot[0] = g if slot[0] is None else slot[0] + g


def _total(slot):
    """All the gradients that reached one tensor, summed (the PartialGrads merged first)."""
    dense, parts = slot
    if not parts:
        return dense
    merged = type(parts[0]).merge(parts)
    return merged if dense is None else dense + merged


def _run_hooks(hooks, grad):
    for hook in list(hooks.values()):
        result = hook(grad)
        if result is not None:
            grad = result
    return grad


def _check_nan(node, grads):
    jit_guard.unreplayable("anomaly check")  # (a trace names the mode, not the backward)
    with no_grad():
        for i, g in enumerate(grads):
            g = g.values if isinstance(g, PartialGrad) else g
            if g is not None and g.dtype.is_floating_point and bool(g.isnan().any()):
                raise RuntimeError(
                    f"Function '{node.name()}' returned nan values in its {i}th output."
                )


def numel(shape) -> int:
    return math.prod(shape)
