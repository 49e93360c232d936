"""Graph passes over a captured Program: constant folding, common subexpressions, dead code.

Each pass returns a new node list and counts what it removed; none changes what a replay
computes. Random draws are never merged, folded or dropped: each one advances the generator,
and a replay must advance it exactly as the eager step did.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..kernels import cpu
from ..kernels.codegen import compose
from ..ops import elementwise as E
from ..ops.reduce import Reduce, normalize_dims, runs_of
from . import devices
from .trace import (
    Call,
    OpNode,
    Ref,
    SetGrad,
    Write,
    exact,
    map_refs,
    node_refs,
    view_chain,
)


def fold_constants(nodes: list) -> tuple[list, int, dict]:
    """Run ops whose inputs are all constants once, now; their outputs become constants
    (returned as {slot: array} for outputs of the step that were folded). Values the step
    changes in place are made anew by every replay (see mutated_slots)."""
    known: dict[int, np.ndarray] = {}
    out, folded = [], 0
    mutated = mutated_slots(nodes)

    def const(x):
        if isinstance(x, Ref) and x.kind == "slot" and x.key in known:
            return Ref("const", known[x.key])
        return x

    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(const(x) for x in node.inputs)
            if (
                _pure(node)
                and all(not isinstance(x, Ref) or x.kind == "const" for x in node.inputs)
                and mutated.isdisjoint(node.outputs)
            ):
                arrays = [x.key if isinstance(x, Ref) else x for x in node.inputs]
                forward = devices.forward_of(node.op, node.cuda)
                result = forward(node.meta, *arrays, **node.params)
                results = result if len(node.outputs) > 1 else (result,)
                known.update(zip(node.outputs, results))
                folded += 1
                continue
        else:
            map_refs(node, const)
        out.append(node)
    return out, folded, known


def mutated_slots(nodes: list) -> set[int]:
    """Slots whose arrays may change after they are made: written in place, passed to an opaque
    call, or set as a gradient (which may be changed in place after the step), and the slots
    such a slot may be a view of.

    NOTE: such a value must not become one array that every replay shares, as a folded
    constant or a common subexpression would: `w = torch.ones(4) * 0.5; w[0] = 0` folded the
    product, so readers after the write saw the value before it, and each replay's write
    landed in the shared array (`g.add_(x)` added up across replays)."""
    mutated = set()
    for node in nodes:
        if isinstance(node, Write):
            mutated.update(_slots([node.target]))
        elif isinstance(node, (Call, SetGrad)):
            mutated.update(_slots(node_refs(node)))
    made_by = {slot: node for node in nodes if isinstance(node, OpNode) for slot in node.outputs}
    viewed = [_slots(view_chain(Ref("slot", slot), made_by)) for slot in mutated]
    return mutated.union(*viewed)


def eliminate_common(nodes: list) -> tuple[list, dict[int, int], int]:
    """Merge ops that repeat an earlier op on the same inputs with the same params.

    An in-place write or an opaque call may change any value, so the table of earlier ops is
    forgotten at each one (conservative, and such nodes are few); values changed in place
    after they are made (mutated_slots) keep arrays of their own.
    """
    seen: dict = {}
    alias: dict[int, int] = {}
    out = []
    mutated = mutated_slots(nodes)
    for node in nodes:
        if isinstance(node, OpNode):
            node.inputs = tuple(_rename(x, alias) for x in node.inputs)
            shared = _pure(node) and mutated.isdisjoint(node.outputs)
            key = _cse_key(node) if shared else None
            if key is not None and key in seen:
                alias.update(zip(node.outputs, seen[key].outputs))
                continue
            if key is not None:
                seen[key] = node
        else:
            map_refs(node, lambda x: _rename(x, alias))
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
        live.update(_slots(node_refs(node)))
        out.append(node)
    out.reverse()
    return out, len(nodes) - len(out)


# ---- helpers ---------------------------------------------------------------------------------
def _pure(node: OpNode) -> bool:
    """Whether running the node twice may be replaced by running it once (or ahead of time):
    not for random draws, nor for fresh copies (each must be a buffer of its own)."""
    return not (getattr(node.op, "random", False) or getattr(node.op, "fresh", False))


def _slots(items) -> list[int]:
    return [x.key for x in items if isinstance(x, Ref) and x.kind == "slot"]


def _rename(x, alias: dict[int, int]):
    if isinstance(x, Ref) and x.kind == "slot" and x.key in alias:
        return Ref("slot", alias[x.key])
    return x


def _cse_key(node: OpNode):
    """A hashable identity of (op, inputs, params), or None where params are not hashable."""
    inputs = tuple(
        (x.kind, x.key if x.kind in ("slot", "arg") else id(x.key))
        if isinstance(x, Ref)
        else (type(x), exact(x))
        for x in node.inputs
    )
    params = tuple((k, type(v), exact(v)) for k, v in sorted(node.params.items()))
    try:
        key = (node.op.name, inputs, params)
        hash(key)
    except TypeError:
        return None
    return key


# ---- fusion of elementwise chains ------------------------------------------------------------
class FusedElementwise:
    """One generated loop for a chain of elementwise ops (kernels/codegen composes their
    templates into one expression). Each inner result is cast back to the chain's dtype, so
    the loop rounds exactly where the separate ops did: fused and eager agree bit for bit."""

    random = False
    n_outputs = 1

    def __init__(self, expr: str, names: list[str], cuda: bool = False):
        self.expr = expr
        self.names = names
        self.name = "fused[" + ",".join(names) + "]"
        self.kit = devices.kit(cuda)

    def forward(self, meta, *arrays):
        out = self.kit.empty(meta.shape, meta.dtype.np)
        self.kit.elementwise((self.expr,), [out], list(arrays))
        return out

    def direct(self, meta, arrays) -> tuple[str, list]:
        """(expression, operands) its kernel runs on (see Elementwise.direct)."""
        return self.expr, list(arrays)


class _Chain:
    def __init__(self, node: OpNode, expr: str, inputs: list, names: list[str]):
        self.node, self.expr, self.inputs, self.names = node, expr, inputs, names


def fuse_elementwise(nodes: list, uses: dict[int, int]) -> tuple[list, int]:
    """Fuse chains of float elementwise ops of one shape and dtype whose inner results are
    read once, by the next op of the chain. Returns the nodes and the number of fused ops."""
    open_chains: dict[int, _Chain] = {}  # output slot -> chain ending there, not yet emitted
    out: list = []
    placed: dict[int, int] = {}  # id(chain) -> its index in out
    fused = 0
    for node in nodes:
        if not isinstance(node, OpNode) or not _fusible(node):
            if not isinstance(node, OpNode):
                open_chains.clear()  # a write or call may change a chain's inputs
            out.append(node)
            continue
        dtype = node.meta.dtype
        expr_args, inputs, names = [], [], []
        for x in node.inputs:
            chain = _joinable(x, open_chains, uses, node)
            if chain is not None:
                sub = chain.expr
                shift = len(inputs)
                sub = compose(sub, *(f"{{{k + shift}}}" for k in range(len(chain.inputs))))
                expr_args.append(f"np.{dtype.np.name}({sub})")
                inputs += chain.inputs
                names += chain.names
                out[placed.pop(id(chain))] = None
                fused += 1
            elif isinstance(x, Ref):
                expr_args.append(f"{{{len(inputs)}}}")
                inputs.append(x)
            else:  # a Python number: the op's compute dtype, as eager casts it
                expr_args.append(f"{{{len(inputs)}}}")
                inputs.append(dtype.np.type(x))
        names.append(node.op.name)
        chain = _Chain(node, compose(node.op.template, *expr_args), inputs, names)
        open_chains[node.outputs[0]] = chain
        placed[id(chain)] = len(out)
        out.append(chain)
    return [_emit_chain(n) if isinstance(n, _Chain) else n for n in out if n is not None], fused


def _fusible(node: OpNode) -> bool:
    op = node.op
    return (
        type(op) is E.Elementwise
        and op.kind in (E.ARITH, E.FLOAT)
        and not node.params
        and node.meta.dtype.is_floating_point
        and all(d is None or d is node.meta.dtype for d in node.in_dtypes)
    )


def _joinable(x, open_chains, uses, node):
    if not (isinstance(x, Ref) and x.kind == "slot") or uses.get(x.key, 0) != 1:
        return None
    chain = open_chains.get(x.key)
    if chain is None or chain.node.meta != node.meta or chain.node.cuda != node.cuda:
        return None
    del open_chains[x.key]
    return chain


def _emit_chain(chain: _Chain) -> OpNode:
    node = chain.node
    if len(chain.names) == 1:
        return node
    op = FusedElementwise(chain.expr, chain.names, node.cuda)
    inputs = tuple(chain.inputs)
    return OpNode(op, node.meta, inputs, {}, node.outputs, node.in_dtypes, node.cuda)


# ---- elementwise epilogues of matrix products and convolutions -------------------------------
# NOTE: max pooling too (its ReLU in LeNet-style nets): same-process A/B, traced steps with the
# ReLU in place / as its own node, two runs: lenet 1.02/0.98, cifar_cnn 0.90/0.98.
EPILOGUE_PRODUCERS = ("linear", "matmul", "conv2d", "max_pool2d")


class Epilogue:
    """A matrix product, convolution or max pooling whose output an elementwise expression
    finishes in place (bias adds, activations), so no second buffer is allocated. Placeholder
    {slot} of the expression is the product's output; the other inputs follow the product's
    own.

    A product whose op plans it with its epilogue (`finishes`: linear, matmul on MKL) runs
    the expression in the product's own kernel, each thread over the rows it multiplied while
    they are in its cache (ops/linear.py matmul_plan): the transformer's traced step took
    0.94-0.97x the time of a separate pass over the output (same-process A/B, three runs).
    Elsewhere the expression runs after the product, in place: that saves memory, not time
    (an order-balanced A/B of the mlp step measured no difference).
    """

    random = False

    def __init__(self, producer, n_inputs, expr: str, slot: int, names: list, cuda: bool):
        self.producer, self.n_inputs, self.expr, self.slot = producer, n_inputs, expr, slot
        self.run_producer = devices.forward_of(producer, cuda)
        self.kit = devices.kit(cuda)
        self.n_outputs = producer.n_outputs
        self.names = [producer.name, *names]
        self.name = f"{producer.name}+[{','.join(names)}]"

    def forward(self, meta, *arrays, **params):
        outs = self.run_producer(meta, *arrays[: self.n_inputs], **params)
        image = outs[0] if self.n_outputs > 1 else outs
        operands = _with(arrays[self.n_inputs :], self.slot, image)
        self.kit.elementwise((self.expr,), [image], operands)  # in place: reads i, then writes i
        return outs

    def plan(self, meta, arrays, params, outs):
        """forward as a function of arrays laid out as these, its kernel picked once."""
        n, slot, run_producer = self.n_inputs, self.slot, self.run_producer
        several = self.n_outputs > 1
        image = outs[0] if several else outs
        # a bias the producer adds to its rows (a linear's) is added in the epilogue's loop
        # instead, not in a pass of its own
        k = getattr(self.producer, "row_bias", None)
        bias = k is not None and n == k + 1 and arrays[k].ndim == 1
        given = k if bias else n  # the inputs the product takes
        expr, operands = self.expr, _with(arrays[n:], slot, image)
        if bias:  # {slot} + the bias, an operand after the expression's own
            added = f"np.{image.dtype.name}(({{{slot}}} + {{{len(operands)}}}))"
            places = [f"{{{k}}}" for k in range(len(operands))]
            expr = compose(expr, *places[:slot], added, *places[slot + 1 :])
            operands.append(arrays[k])
        if not several:
            finished = self._finished(meta, arrays[:given], params, outs, expr, operands)
            if finished is not None:
                return finished
        producer_plan = getattr(self.producer, "plan", None)
        planned = producer_plan and producer_plan(meta, arrays[:given], params, outs)
        if planned is None:
            if bias:  # the producer's own forward adds it
                expr, operands, given = self.expr, operands[:-1], n
            planned = functools.partial(run_producer, meta, **params)
            # given arrays are C-ordered: only where the producer's own outputs were too
            c_order = all(x.flags.c_contiguous for x in (outs if several else (outs,)))
            planned.takes_out = getattr(self.producer, "writes_out", False) and c_order
        takes_out = getattr(planned, "takes_out", False)
        kernel = cpu.elementwise_for((expr,), image, operands)
        cpu.compile_for(kernel, image, *operands)

        def product_and_epilogue(*arrays, out=None):
            outs = (
                planned(*arrays[:given], out=out) if out is not None else planned(*arrays[:given])
            )
            image = outs[0] if several else outs
            kernel(image, *_with(arrays[n:], slot, image), *arrays[given:n])
            return outs

        product_and_epilogue.takes_out = takes_out
        return product_and_epilogue

    def _finished(self, meta, inputs, params, out, expr: str, operands: list):
        """The producer's plan running the expression in its own kernel (the product's
        threads finish their rows while they are in cache: ops/linear.py matmul_plan), as a
        function of the node's arrays; None where the producer has none for these."""
        if not getattr(self.producer, "finishes", False):
            return None
        marks = [None if k == self.slot else x for k, x in enumerate(operands)]
        plan = self.producer.plan(meta, inputs, params, out, epilogue=(expr, marks))
        if plan is None:
            return None
        given, n = len(inputs), self.n_inputs

        def product_and_epilogue(*arrays, out=None):  # the bias (given:n) is last in marks
            return plan(*arrays[:given], *arrays[n:], *arrays[given:n], out=out)

        product_and_epilogue.takes_out = True
        return product_and_epilogue


def _with(operands, slot: int, image) -> list:
    """operands with the product's image inserted at `slot`."""
    operands = list(operands)
    operands.insert(slot, image)
    return operands


def fuse_epilogues(nodes: list, uses: dict[int, int]) -> tuple[list, int]:
    """Merge each elementwise node (plain or fused) into the matrix product or convolution
    whose output it reads as its only reader, when it keeps that output's shape and dtype and
    no write or call comes between them. Returns the nodes and the number merged."""
    producers: dict[int, tuple] = {}  # first output slot -> (index in out, meta, outputs)
    out: list = []
    merged = 0
    for node in nodes:
        if not isinstance(node, OpNode):
            producers.clear()  # a write or call may change what the product read
            out.append(node)
            continue
        expr, operands = _elementwise_expr(node)
        slot = _epilogue_input(node, producers, uses) if expr is not None else None
        _close_read(node, producers, skip=slot)
        if node.op.name in EPILOGUE_PRODUCERS:
            meta = node.meta[0] if node.op.n_outputs > 1 else node.meta
            producers[node.outputs[0]] = (len(out), meta, node.outputs)
        if slot is None:
            out.append(node)
            continue
        k = producers.pop(node.inputs[slot].key)[0]
        product = out[k]
        out[k] = None
        names = node.op.names if isinstance(node.op, FusedElementwise) else [node.op.name]
        op = Epilogue(product.op, len(product.inputs), expr, slot, names, product.cuda)
        rest = tuple(x for i, x in enumerate(operands) if i != slot)
        outputs = (node.outputs[0], *product.outputs[1:])
        dtypes = product.in_dtypes + tuple(d for i, d in enumerate(node.in_dtypes) if i != slot)
        inputs = product.inputs + rest
        out.append(OpNode(op, product.meta, inputs, product.params, outputs, dtypes, product.cuda))
        merged += 1
    return [n for n in out if n is not None], merged


def _close_read(node: OpNode, producers: dict[int, tuple], skip) -> None:
    """Products whose outputs this node reads (but for input `skip`) must stay where they are."""
    read = {
        x.key
        for i, x in enumerate(node.inputs)
        if i != skip and isinstance(x, Ref) and x.kind == "slot"
    }
    for first, (_, _, outputs) in list(producers.items()):
        if read.intersection(outputs):
            del producers[first]


def _elementwise_expr(node: OpNode) -> tuple[str | None, tuple]:
    """The expression and operands of a fusible elementwise node (numbers cast as eager
    casts them), or (None, ()) for any other node."""
    if isinstance(node.op, FusedElementwise):
        return node.op.expr, node.inputs
    if not _fusible(node):
        return None, ()
    dtype = node.meta.dtype.np
    operands = tuple(x if isinstance(x, Ref) else dtype.type(x) for x in node.inputs)
    return node.op.template, operands


def _epilogue_input(node: OpNode, producers: dict[int, tuple], uses: dict[int, int]):
    """Index of the input that is an unfinished product's output read only here, or None."""
    for i, x in enumerate(node.inputs):
        if isinstance(x, Ref) and x.kind == "slot" and x.key in producers:
            if uses.get(x.key, 0) == 1 and producers[x.key][1] == node.meta:
                return i
    return None


# ---- elementwise producers of reductions ----------------------------------------------------
class FusedReduction:
    """A reduction (sum, amax...) over leading dims folding an elementwise expression of its
    producer's inputs in the same loop, so the producer's output is never written (the sums
    of a broadcast's backward, say).

    Only column folds (a run of dims before the last): each output element folds its column
    in order, in the fused loop as in eager's separate kernel. A fold along the last dim is
    vectorised by reassociation, in an order LLVM picks from the loop body: with a fused body
    results differed from eager's (sums of a * b over rows: 2e-6 apart), so those stay two
    kernels. forward materialises the producer's output as eager does; the plan keeps the
    fused loop where it gave forward's result bit for bit on the first replay's arrays (a
    check, once), else, or for operands not of the reduced shape, runs the two kernels.
    """

    random = False
    n_outputs = 1

    def __init__(self, reduction, expr: str, names: list[str], image_meta):
        self.reduction, self.expr, self.image_meta = reduction, expr, image_meta
        self.names = [*names, reduction.name]
        self.name = f"{reduction.name}+[{','.join(names)}]"
        self.fused = False  # set by the plan: whether the replay runs the fused loop

    def forward(self, meta, *arrays, **params):
        image = np.empty(self.image_meta.shape, self.image_meta.dtype.np)
        cpu.elementwise((self.expr,), [image], list(arrays))
        return self.reduction.forward(meta, image, **params)

    def plan(self, meta, arrays, params, out):
        shape, dtype = self.image_meta.shape, self.image_meta.dtype.np
        if any(a.shape != shape or not a.flags.c_contiguous for a in arrays):
            return None
        fused = self.reduction.fold_plan(meta, shape, params, self.expr)
        if fused is None:
            return None
        result = fused(*arrays)
        if result.dtype == out.dtype and result.tobytes() == np.asarray(out).tobytes():
            self.fused = True
            return fused
        fold = self.reduction.fold_plan(meta, shape, params)
        image = np.empty(shape, dtype)  # kept between replays, as plans keep their scratch
        kernel = cpu.elementwise_for((self.expr,), image, list(arrays))

        def produce_and_fold(*arrays, out=None):
            kernel(image, *arrays)
            return fold(image, out=out)

        produce_and_fold.takes_out = True
        return produce_and_fold


def fuse_reductions(nodes: list, uses: dict[int, int]) -> tuple[list, int]:
    """Merge each fusible elementwise node (plain or fused, every operand an array) into the
    reduction that is its only reader, when no write or call comes between them and the
    reduction keeps its dtype. Returns the nodes and the number merged."""
    producers: dict[int, int] = {}  # output slot -> index in out
    out: list = []
    merged = 0
    for node in nodes:
        if not isinstance(node, OpNode):
            producers.clear()  # a write or call may change a producer's operands
            out.append(node)
            continue
        x = node.inputs[0] if len(node.inputs) == 1 else None
        if (
            isinstance(node.op, Reduce)
            and isinstance(x, Ref)
            and x.kind == "slot"
            and x.key in producers
            and uses.get(x.key, 0) == 1
            and out[producers[x.key]].meta.dtype is node.meta.dtype
            and _folds_columns(node.params, out[producers[x.key]].meta.shape)
        ):
            k = producers.pop(x.key)
            producer, out[k] = out[k], None
            expr, operands = _elementwise_expr(producer)
            op = producer.op
            names = op.names if isinstance(op, FusedElementwise) else [op.name]
            fused = FusedReduction(node.op, expr, names, producer.meta)
            dtypes = producer.in_dtypes
            out.append(OpNode(fused, node.meta, operands, node.params, node.outputs, dtypes))
            merged += 1
            continue
        expr, operands = _elementwise_expr(node)
        if expr is not None and not node.cuda and all(isinstance(x, Ref) for x in operands):
            producers[node.outputs[0]] = len(out)
        out.append(node)
    return [n for n in out if n is not None], merged


def _folds_columns(params: dict, shape: tuple) -> bool:
    """Whether a reduction of `shape` over params' dims is one column fold (kernels/cpu
    reduce_plan: one run of dims, some dim after it larger than 1)."""
    runs = runs_of(normalize_dims(params.get("dim"), len(shape)))
    return len(runs) == 1 and math.prod(shape[runs[0][1] :]) > 1


def count_uses(nodes: list, output_slots) -> dict[int, int]:
    uses: dict[int, int] = {}
    for node in nodes:
        for k in _slots(node_refs(node)):
            uses[k] = uses.get(k, 0) + 1
    for k in output_slots:
        uses[k] = uses.get(k, 0) + 1
    return uses
