"""Register tiles: multiply-add loops whose accumulators stay in vector registers.

LLVM's loop vectorizer keeps accumulators that live across an outer loop in memory (the direct
convolution loaded and stored its (4, 256) accumulator block once per four taps); these
intrinsics emit the whole tile in LLVM IR with explicit vector types instead, so a tile of
`rows` x `vectors` accumulators is never loaded and is stored once.

    shifted_tile: out[r, p] = bias[r] + sum over taps q of w[r, q] * buf[base + shifts[q] + p]
                  for rows r and positions p of the tile, the taps summed in order
    copy_rows:    rows copied in whole vectors, lanes outside a range zeroed

L (lanes) is one native vector of the dtype: 16 float32 / 8 float64 with AVX-512, 8 / 4 with
AVX2 or less. Terms are added in tap order with fused multiply-adds, the same order for every
tile and thread, so results do not depend on tiling or threads.
"""

from __future__ import annotations

import functools

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@functools.cache
def vector_bytes() -> int:
    """Bytes in one native vector register of the host (64 with AVX-512, else 32)."""
    features = llvm.get_host_cpu_features()
    return 64 if features.get("avx512f", False) else 32


@functools.cache
def vector_registers() -> int:
    return 32 if vector_bytes() == 64 else 16


def lanes(itemsize: int) -> int:
    return vector_bytes() // itemsize


def tile_vectors(rows: int) -> int:
    """Vectors of positions per tile: rows * v accumulators and v loaded inputs fit in the
    registers with two to spare (a broadcast weight and one for the allocator), and at most 4.
    NOTE: 4 x 4 float32 tiles (AVX-512) ran 5.3 vector FMAs per ns, 4 x 6 ones 4.8 (one
    thread, 150 taps); 16 accumulators already hide the FMA latency (4 cycles, 2 a cycle)."""
    return max(1, min(4, (vector_registers() - 2) // (rows + 1)))


def dot_shapes() -> tuple[tuple[int, int], ...]:
    """The (rows, cols) shapes of dot_tile: rows * cols accumulators and rows + cols loads fit
    in the registers (25 or 27 of 32 with AVX-512, 14 of 16 with AVX2).

    NOTE: the multiply-adds computed (empty rows and taps included) predict each shape's time
    within ~10%: same-process A/B, 4 x 4 -> 6 x 3 tiles, median time ratio (multiply-add
    ratio): CIFAR's conv1 (6 channels, 75 taps) 962 -> 689 us, 0.85x (0.74x); LeNet's conv1
    (10, 25) 0.90x (0.96x); CIFAR's conv2 (16, 150) 1.17x (1.11x); LeNet's conv2 (20, 250)
    1.16x (1.20x); 32 channels by 400 taps 1.07x (1.13x). conv.py's _wgrad_shape picks the
    fewest."""
    return ((4, 4), (6, 3)) if vector_registers() >= 32 else ((2, 4),)


def shifted_tile(rows: int | tuple[int, ...], vectors: int | None = None):
    """An intrinsic shifted_tile(out, at, pitch, limit, rows_valid, tail, buf, base, shifts, w,
    w0, taps, bias, b0, nv) for nv = ceil(limit / L) in 1..vectors (tile_vectors(rows) if None).

    Row r's accumulators start at bias[b0 + r] and add w[w0 + r*taps + q] * buf[base +
    shifts[q] + p] for the taps q in order; positions p < limit go to out[at + r*pitch + p] for
    the rows r < rows_valid, except a last partial vector: it goes to tail[r*L:(r+1)*L] (the
    caller copies its first limit % L lanes), so no store leaves the output.

    With a tuple of row counts, a tile has the fewest of them that hold rows_valid (w and bias
    hold that many rows; tail holds (max(rows) + 1) * L); every count takes the same vectors.
    """
    options = tuple(sorted(rows)) if isinstance(rows, tuple) else (rows,)
    vectors = vectors or min(tile_vectors(r) for r in options)
    names = "out at pitch limit rows_valid tail buf base shifts w w0 taps bias b0 nv".split()

    @intrinsic
    def tile(typingctx, out, at, pitch, limit, rows_valid, tail, buf, base, shifts, w, w0, taps,
             bias, b0, nv):  # fmt: skip
        args = out, at, pitch, limit, rows_valid, tail, buf, base, shifts, w, w0, taps, bias, b0, nv
        kinds = dict(zip(names, args))
        if not _same_float(*(kinds[k] for k in ("out", "tail", "buf", "w", "bias"))):
            return None

        def codegen(context, builder, signature, values):
            ptrs, ints = _arguments(context, builder, names, signature, values)
            vec, fma = _vector_fma(context, builder, kinds["out"].dtype)
            done = builder.function.append_basic_block("tile.done")
            if len(options) == 1:
                _switch_vectors(builder, fma, vec, options[0], vectors, ptrs, ints, done)
            else:
                _switch_rows(builder, fma, vec, options, vectors, ptrs, ints, done)
            builder.position_at_end(done)
            return context.get_dummy_value()

        return types.void(*args), codegen

    return tile


def _switch_rows(builder, fma, vec, options, vectors, ptrs, ints, done):
    """Branches on rows_valid to the tiles of the fewest rows in `options` that hold it."""
    switch = builder.switch(ints["rows_valid"], done)
    low = 0
    for rows in options:
        block = builder.function.append_basic_block(f"tile.r{rows}")
        for valid in range(low + 1, rows + 1):
            switch.add_case(ir.Constant(ir.IntType(64), valid), block)
        builder.position_at_end(block)
        _switch_vectors(builder, fma, vec, rows, vectors, ptrs, ints, done)
        low = rows


def _switch_vectors(builder, fma, vec, rows, vectors, ptrs, ints, done):
    """Branches on nv to the tiles of `rows` x nv accumulators, each then to `done`."""
    switch = builder.switch(ints["nv"], done)
    for n in range(1, vectors + 1):
        block = builder.function.append_basic_block(f"tile.r{rows}v{n}")
        switch.add_case(ir.Constant(ints["nv"].type, n), block)
        builder.position_at_end(block)
        _ShiftedTile(builder, fma, vec, rows, n).emit(ptrs, ints)
        builder.branch(done)


def _arguments(context, builder, names, signature, values) -> tuple[dict, dict]:
    """An intrinsic's arguments by name: arrays as data pointers, integers widened to 64 bits."""
    ptrs, ints = {}, {}
    for name, kind, value in zip(names, signature.args, values):
        if isinstance(kind, types.Array):
            ptrs[name] = context.make_array(kind)(context, builder, value).data
        else:
            width = value.type.width
            ints[name] = builder.sext(value, ir.IntType(64)) if width < 64 else value
    return ptrs, ints


def _vector(context, dtype) -> ir.VectorType:
    """The native vector type of `dtype`."""
    real = context.get_value_type(dtype)
    return ir.VectorType(real, lanes(context.get_abi_sizeof(real)))


def _vector_fma(context, builder, dtype):
    """The native vector type of `dtype` and LLVM's fused multiply-add on it."""
    vec = _vector(context, dtype)
    name = f"llvm.fma.v{vec.count}{vec.element.intrinsic_name}"
    return vec, cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vec, [vec] * 3), name
    )


def _same_float(*arrays) -> bool:
    dtypes = {a.dtype for a in arrays}
    return len(dtypes) == 1 and arrays[0].dtype in (types.float32, types.float64)


class _Emitter:
    """Helpers for emitting a tile's IR with `builder` on vectors of type `vec`."""

    def __init__(self, builder, fma, vec):
        self.b, self.fma, self.vec = builder, fma, vec

    @staticmethod
    def const(value):
        return ir.Constant(ir.IntType(64), value)

    def splat(self, scalar, vec=None):
        """The vector (of type `vec`, by default the tile's) with `scalar` in every lane."""
        b, i32, vec = self.b, ir.IntType(32), vec or self.vec
        undefined = ir.Constant(vec, ir.Undefined)
        one = b.insert_element(undefined, scalar, ir.Constant(i32, 0))
        return b.shuffle_vector(
            one, undefined, ir.Constant(ir.VectorType(i32, vec.count), [0] * vec.count)
        )

    def vector_at(self, base_ptr, index):
        return self.b.bitcast(self.b.gep(base_ptr, [index]), self.vec.as_pointer())

    def load(self, base_ptr, index):
        return self.b.load(self.vector_at(base_ptr, index), align=1)

    def store(self, value, base_ptr, index):
        self.b.store(value, self.vector_at(base_ptr, index), align=1)


class _ShiftedTile(_Emitter):
    """The IR of one tile of `rows` x `n_vectors` accumulators (see shifted_tile)."""

    def __init__(self, builder, fma, vec, rows, n_vectors):
        super().__init__(builder, fma, vec)
        self.rows, self.n_vectors = rows, n_vectors

    def emit(self, ptrs, ints):
        b, rows, nv, n_lanes = self.b, self.rows, self.n_vectors, self.vec.count
        entry = b.block
        starts = [
            self.splat(b.load(b.gep(ptrs["bias"], [b.add(ints["b0"], self.const(r))])))
            for r in range(rows)
        ]
        loop = b.function.append_basic_block("tile.loop")
        exit_ = b.function.append_basic_block("tile.exit")
        b.cbranch(b.icmp_signed(">", ints["taps"], self.const(0)), loop, exit_)

        b.position_at_end(loop)  # one tap: nv loads, rows broadcasts, rows * nv FMAs
        q = b.phi(ir.IntType(64))
        accs = [[b.phi(self.vec) for _ in range(nv)] for _ in range(rows)]
        start = b.add(ints["base"], b.load(b.gep(ptrs["shifts"], [q]), align=8))
        inputs = [self.load(ptrs["buf"], b.add(start, self.const(v * n_lanes))) for v in range(nv)]
        sums = []
        for r, row in enumerate(accs):
            at = b.add(b.add(ints["w0"], q), b.mul(ints["taps"], self.const(r)))
            weight = self.splat(b.load(b.gep(ptrs["w"], [at])))
            sums.append([b.call(self.fma, [weight, x, a]) for x, a in zip(inputs, row)])
        q_next = b.add(q, self.const(1))
        q.add_incoming(self.const(0), entry)
        q.add_incoming(q_next, loop)
        for r in range(rows):
            for acc, total in zip(accs[r], sums[r]):
                acc.add_incoming(starts[r], entry)
                acc.add_incoming(total, loop)
        b.cbranch(b.icmp_signed("<", q_next, ints["taps"]), loop, exit_)

        b.position_at_end(exit_)
        results = []
        for r in range(rows):
            for v in range(nv):
                result = b.phi(self.vec)
                result.add_incoming(starts[r], entry)
                result.add_incoming(sums[r][v], loop)
                results.append((r, v, result))
        dump = b.gep(ptrs["tail"], [self.const(rows * n_lanes)])  # stores of rows past rows_valid
        for r, v, result in results:  # branch-free: each store picks its address
            row_at = b.add(ints["at"], b.mul(ints["pitch"], self.const(r)))
            in_out = b.gep(ptrs["out"], [b.add(row_at, self.const(v * n_lanes))])
            whole = b.icmp_signed("<=", self.const((v + 1) * n_lanes), ints["limit"])
            ptr = b.select(whole, in_out, b.gep(ptrs["tail"], [self.const(r * n_lanes)]))
            ptr = b.select(b.icmp_signed("<", self.const(r), ints["rows_valid"]), ptr, dump)
            b.store(result, b.bitcast(ptr, self.vec.as_pointer()), align=1)


def dot_tile(shapes: tuple[tuple[int, int], ...]):
    """An intrinsic dot_tile(acc, a0, g, g0, run, x, xb, shifts, q0, rows, samples, g_step,
    x_step): for the shape (rows, cols) of `shapes` with that many rows (none: no-op), for
    r < rows, t < cols,

        acc[a0 + (r*cols + t)*L : ... + L] += lanes of the sum over s < samples, then
            p < run (a multiple of L), of g[g0 + s*g_step + r*run + p]
                                         * x[xb + s*x_step + shifts[q0 + t] + p]

    the long dot products of a stride-1 weight gradient (rows output channels by cols taps),
    kept as L partial sums per pair in registers across the runs of all the samples (the
    caller adds the lanes)."""
    names = "acc a0 g g0 run x xb shifts q0 rows samples g_step x_step".split()

    @intrinsic
    def tile(typingctx, acc, a0, g, g0, run, x, xb, shifts, q0, rows, samples, g_step, x_step):
        args = acc, a0, g, g0, run, x, xb, shifts, q0, rows, samples, g_step, x_step
        if not _same_float(acc, g, x):
            return None

        def codegen(context, builder, signature, values):
            ptrs, ints = _arguments(context, builder, names, signature, values)
            vec, fma = _vector_fma(context, builder, acc.dtype)
            done = builder.function.append_basic_block("dot.done")
            switch = builder.switch(ints["rows"], done)
            for n_rows, cols in shapes:
                block = builder.function.append_basic_block(f"dot.r{n_rows}")
                switch.add_case(ir.Constant(ir.IntType(64), n_rows), block)
                builder.position_at_end(block)
                _DotTile(builder, fma, vec, n_rows, cols).emit(ptrs, ints)
                builder.branch(done)
            builder.position_at_end(done)
            return context.get_dummy_value()

        return types.void(*args), codegen

    return tile


class _DotTile(_Emitter):
    """The IR of one dot_tile: rows x cols vector accumulators over one run."""

    def __init__(self, builder, fma, vec, rows, cols):
        super().__init__(builder, fma, vec)
        self.rows, self.cols = rows, cols

    def emit(self, ptrs, ints):
        b, n_lanes, i64 = self.b, self.vec.count, ir.IntType(64)
        pairs = [(r, t) for r in range(self.rows) for t in range(self.cols)]
        at = {rt: b.add(ints["a0"], self.const(i * n_lanes)) for i, rt in enumerate(pairs)}
        starts = {rt: self.load(ptrs["acc"], at[rt]) for rt in pairs}
        shifts = [
            b.load(b.gep(ptrs["shifts"], [b.add(ints["q0"], self.const(t))]))
            for t in range(self.cols)
        ]
        entry = b.block
        sample = b.function.append_basic_block("dot.sample")
        loop = b.function.append_basic_block("dot.loop")
        latch = b.function.append_basic_block("dot.next_sample")
        exit_ = b.function.append_basic_block("dot.exit")
        work = b.and_(
            b.icmp_signed(">", ints["run"], self.const(0)),
            b.icmp_signed(">", ints["samples"], self.const(0)),
        )
        b.cbranch(work, sample, exit_)

        b.position_at_end(sample)  # sample s: its runs start s * x_step and s * g_step further
        s = b.phi(i64)
        carried = {rt: b.phi(self.vec) for rt in pairs}
        x_at = [b.add(b.add(ints["xb"], b.mul(s, ints["x_step"])), sh) for sh in shifts]
        g_base = b.add(ints["g0"], b.mul(s, ints["g_step"]))
        g_at = [b.add(g_base, b.mul(ints["run"], self.const(r))) for r in range(self.rows)]
        b.branch(loop)

        b.position_at_end(loop)  # one vector of positions: rows + cols loads, rows * cols FMAs
        p = b.phi(i64)
        accs = {rt: b.phi(self.vec) for rt in pairs}
        gs = [self.load(ptrs["g"], b.add(g_at[r], p)) for r in range(self.rows)]
        xs = [self.load(ptrs["x"], b.add(x_at[t], p)) for t in range(self.cols)]
        sums = {(r, t): b.call(self.fma, [gs[r], xs[t], accs[r, t]]) for r, t in pairs}
        p_next = b.add(p, self.const(n_lanes))
        p.add_incoming(self.const(0), sample)
        p.add_incoming(p_next, loop)
        for rt in pairs:
            accs[rt].add_incoming(carried[rt], sample)
            accs[rt].add_incoming(sums[rt], loop)
        b.cbranch(b.icmp_signed("<", p_next, ints["run"]), loop, latch)

        b.position_at_end(latch)
        s_next = b.add(s, self.const(1))
        s.add_incoming(self.const(0), entry)
        s.add_incoming(s_next, latch)
        for rt in pairs:
            carried[rt].add_incoming(starts[rt], entry)
            carried[rt].add_incoming(sums[rt], latch)
        b.cbranch(b.icmp_signed("<", s_next, ints["samples"]), sample, exit_)

        b.position_at_end(exit_)
        results = {rt: b.phi(self.vec) for rt in pairs}  # phis first, at the block's top
        for rt, result in results.items():
            result.add_incoming(starts[rt], entry)
            result.add_incoming(sums[rt], latch)
            self.store(result, ptrs["acc"], at[rt])


@intrinsic
def copy_rows(typingctx, dst, d, d_pitch, src, s, s_pitch, rows, width, lo, hi):
    """For r < rows and i < width: dst[d + r*d_pitch + i] = src[s + r*s_pitch + i] where
    lo <= i < hi, else 0; in whole vectors, each row's last one merged with what dst holds past
    the row (so rows may go in any order). Reads whole vectors: the caller keeps
    src[s + r*s_pitch : ... + ceil(width / L) * L] and the same of dst inside the arrays."""
    if not _same_float(dst, src):
        return None
    names = "dst d d_pitch src s s_pitch rows width lo hi".split()

    def codegen(context, builder, signature, args):
        ptrs, ints = _arguments(context, builder, names, signature, args)
        _RowCopy(builder, None, _vector(context, dst.dtype)).emit(ptrs, ints)
        return context.get_dummy_value()

    return types.void(dst, d, d_pitch, src, s, s_pitch, rows, width, lo, hi), codegen


class _RowCopy(_Emitter):
    """The IR of copy_rows: vectors outer (their masks made once), rows inner."""

    def emit(self, ptrs, ints):
        b, n_lanes, i64 = self.b, self.vec.count, ir.IntType(64)
        lanes_t = ir.VectorType(i64, n_lanes)
        lane = ir.Constant(lanes_t, list(range(n_lanes)))
        vectors = b.sdiv(b.add(ints["width"], self.const(n_lanes - 1)), self.const(n_lanes))
        entry = b.block
        outer = b.function.append_basic_block("rows.vector")
        inner = b.function.append_basic_block("rows.row")
        outer_end = b.function.append_basic_block("rows.vector_end")
        done = b.function.append_basic_block("rows.done")
        has_work = b.and_(
            b.icmp_signed(">", vectors, self.const(0)),
            b.icmp_signed(">", ints["rows"], self.const(0)),
        )
        b.cbranch(has_work, outer, done)

        b.position_at_end(outer)  # vector v of every row: masks for its lanes
        v = b.phi(i64)
        offset = b.mul(v, self.const(n_lanes))
        at = b.add(lane, self.splat(offset, lanes_t))
        take = b.and_(
            b.icmp_signed(">=", at, self.splat(ints["lo"], lanes_t)),
            b.icmp_signed("<", at, self.splat(ints["hi"], lanes_t)),
        )
        in_row = b.icmp_signed("<", at, self.splat(ints["width"], lanes_t))
        b.branch(inner)

        b.position_at_end(inner)
        r = b.phi(i64)
        src_at = b.add(b.add(ints["s"], b.mul(r, ints["s_pitch"])), offset)
        dst_at = b.add(b.add(ints["d"], b.mul(r, ints["d_pitch"])), offset)
        value = b.select(take, self.load(ptrs["src"], src_at), ir.Constant(self.vec, None))
        self.store(b.select(in_row, value, self.load(ptrs["dst"], dst_at)), ptrs["dst"], dst_at)
        r_next = b.add(r, self.const(1))
        r.add_incoming(self.const(0), outer)
        r.add_incoming(r_next, inner)
        b.cbranch(b.icmp_signed("<", r_next, ints["rows"]), inner, outer_end)

        b.position_at_end(outer_end)
        v_next = b.add(v, self.const(1))
        v.add_incoming(self.const(0), entry)
        v.add_incoming(v_next, outer_end)
        b.cbranch(b.icmp_signed("<", v_next, vectors), outer, done)
        b.position_at_end(done)
