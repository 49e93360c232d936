"""CPU kernels for convolution and pooling.

Convolution is im2col + one BLAS matrix product (the GEMM lives in minitorch/ops/conv.py):
`im2col` lays every receptive field out as a column, `col2im` sums columns back into an image
(the input gradient). Stride-1 convolutions with few output channels run a direct kernel
(`direct_conv2d`) and shifted-run weight gradients instead. Pooling kernels loop over
(batch * channel) planes, one plane per task.

Layouts (all arrays C-contiguous unless said otherwise):
    x     (N, C, H, W)                 image
    cols  (C * kh * kw, N, oh * ow)    row r = (c, i, j) holds x[n, c, y*sh - pt + i*dh,
                                       xo*sw - pl + j*dw] at column (n, y*ow + xo); 0 in padding
Every kernel has a serial and a `prange` driver; `parallel(work)` picks one by the amount of work
(a parallel region costs more than small work: see kernels/cpu/__init__.py PARALLEL_MIN). The
per-task functions without fastmath flags are inlined into both drivers at Numba's level
(inline="always"): called as functions, LLVM inlined them into the parallel region anyway and
spent ~6 s optimizing that (the parallel im2col compiled in 7.6 s; 4.8 s inlined, and runs no
slower). The shifted-run task functions stay calls: inlined into drivers carrying their
fastmath flags they ran 1.5x slower and compiled no faster.
NOTE: a driver passes such a call its task index as intp(t): in the parallel loop body Numba
types the prange index as uint64, while typing the driver saw int64, so the task compiled
twice (cold, CIFAR shapes: direct conv 5.6-6.4 -> 2.7 s, shifted weight grad 3.2-3.5 -> 2.0 s;
inlining the direct task instead, 5.8-6.1 s).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import intp, njit, prange, uintp

from . import PARALLEL_MIN, THREADS, scratch, tiles

_OPTS = dict(cache=True, nogil=True, error_model="numpy")


def parallel(work: int) -> bool:
    """Whether `work` elements of memory traffic are worth a parallel region."""
    return work >= PARALLEL_MIN


@njit(inline="always")
def _valid_range(off, stride, size, n_out):
    """[lo, hi): the output positions o with 0 <= o*stride + off < size."""
    lo = 0 if off >= 0 else (-off + stride - 1) // stride
    last = size - 1 - off
    hi = 0 if last < 0 else min(n_out, last // stride + 1)
    return lo, max(lo, hi)


# ---- im2col / col2im ----------------------------------------------------------------------------
# NOTE: kernels index flat arrays with unsigned (uintp) positions: with signed indices Numba
# emits a negative-index wraparound select per access, which blocks vectorization (4-5x slower).
@njit(inline="always")
def _copy_run(dst, d, src, s, step, lo, hi, n):
    """dst[d + k] = src[s + k*step] for lo <= k < hi, and 0 for the other k < n.

    NOTE: im2col's row loop calling this compiled faster than with the same loops written in
    place (cold, parallel, CIFAR conv2: LLVM 3.0-3.6 -> 2.0-2.4 s, total 4.0-5.0 -> 3.2-3.9 s)
    and ran no slower (A/B 0.88-1.04x). Zeroing rows outside the image through this too
    (lo = hi = n) compiled in 1.2-1.5 s but ran 1.24-1.45x slower (bounds vary per row).
    """
    for k in range(lo):
        dst[uintp(d + k)] = 0
    if step == 1:
        for k in range(lo, hi):
            dst[uintp(d + k)] = src[uintp(s + k)]
    else:
        for k in range(lo, hi):
            dst[uintp(d + k)] = src[uintp(s + k * step)]
    for k in range(hi, n):
        dst[uintp(d + k)] = 0


@njit(inline="always", **_OPTS)
def _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """Row r = (c, i, j) for every sample n: cols[r, n, y*ow + xo] = x[n, c, h, w] or 0.

    NOTE: one task per row, looping over the samples inside: with a task per (row, sample)
    the per-task set-up outweighed copying a few short rows (2.2x slower on LeNet's conv2).
    """
    n_batch, channels, height, width = shape
    j = r % kw
    i = (r // kw) % kh
    c = r // (kw * kh)
    off_w = j * dw - pl
    lo, hi = _valid_range(off_w, sw, width, ow)
    for n in range(n_batch):
        dst0 = (r * n_batch + n) * oh * ow
        src0 = (n * channels + c) * height * width + off_w
        for y in range(oh):
            h = y * sh + i * dh - pt
            if h < 0 or h >= height:
                for xo in range(ow):
                    cf[uintp(dst0 + y * ow + xo)] = 0
                continue
            _copy_run(cf, dst0 + y * ow, xf, src0 + h * width, sw, lo, hi, ow)


@njit(parallel=True, **_OPTS)
def _im2col_parallel(xf, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for r in prange(shape[1] * kh * kw):
        _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _im2col_serial(xf, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for r in range(shape[1] * kh * kw):
        _im2col_row(xf, cf, r, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def im2col(x: np.ndarray, kernel, stride, padding, dilation, out_size, out=None) -> np.ndarray:
    """cols (C*kh*kw, N, oh*ow) of an image x (N, C, H, W), into `out` where given.

    padding is (top, left); out_size (oh, ow) fixes how far right/bottom the windows reach.
    """
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    kh, kw = kernel
    oh, ow = out_size
    shape = (c * kh * kw, n, oh * ow)
    cols = np.empty(shape, dtype=x.dtype) if out is None else out.reshape(shape)
    if cols.size == 0:
        return cols
    kernel_fn = _im2col_parallel if parallel(2 * cols.size) else _im2col_serial
    kernel_fn(
        x.reshape(-1),
        cols.reshape(-1),
        x.shape,
        kh,
        kw,
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        oh,
        ow,
    )
    return cols


@njit(inline="always", **_OPTS)
def _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """One (n, c) plane: for i, j, y, xo: out[n, c, h, w] += cols[(c, i, j), n, y*ow + xo]."""
    n_batch, channels, height, width = shape
    n = t // channels
    c = t - n * channels
    plane = t * height * width
    for i in range(kh):
        for j in range(kw):
            r = (c * kh + i) * kw + j
            off_w = j * dw - pl
            lo, hi = _valid_range(off_w, sw, width, ow)
            src0 = (r * n_batch + n) * oh * ow
            for y in range(oh):
                h = y * sh + i * dh - pt
                if h < 0 or h >= height:
                    continue
                s = src0 + y * ow
                d = plane + h * width + off_w
                if sw == 1:
                    for xo in range(lo, hi):
                        of[uintp(d + xo)] += cf[uintp(s + xo)]
                else:
                    for xo in range(lo, hi):
                        of[uintp(d + xo * sw)] += cf[uintp(s + xo)]


@njit(parallel=True, **_OPTS)
def _col2im_parallel(of, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in prange(shape[0] * shape[1]):
        _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


@njit(**_OPTS)
def _col2im_serial(of, cf, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    for t in range(shape[0] * shape[1]):
        _col2im_plane(of, cf, t, shape, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)


def col2im(cols: np.ndarray, image_shape, kernel, stride, padding, dilation, out_size, out=None):
    """The adjoint of im2col: an image (N, C, H, W) where each column adds into its window
    (into `out` where given).

    cols is (C*kh*kw, N, oh*ow)-shaped (copied to contiguous if it is a view).
    """
    if out is None:
        out = np.zeros(image_shape, dtype=cols.dtype)
    else:
        out.fill(0)
    if out.size == 0 or cols.size == 0:
        return out
    cols = np.ascontiguousarray(cols)
    kh, kw = kernel
    oh, ow = out_size
    kernel_fn = _col2im_parallel if parallel(cols.size + out.size) else _col2im_serial
    kernel_fn(
        out.reshape(-1),
        cols.reshape(-1),
        tuple(image_shape),
        kh,
        kw,
        stride[0],
        stride[1],
        padding[0],
        padding[1],
        dilation[0],
        dilation[1],
        oh,
        ow,
    )
    return out


# ---- stride-1 convolution by width-unfolded rows ----------------------------------------------
# Per sample, the input is unfolded along the kernel's width only: rows[c, j, h, xo] =
# x_pad[c, h, xo + j*dw], kw copies of the image each ow wide (im2col writes kh*kw*oh/H times
# more). Then the window of tap (c, i, j) over the whole output plane is one contiguous run,
# rows[c, j, i*dh:, :] read as y*ow + xo, and an output plane is the sum of C*kh*kw scaled runs
# with no junk positions. A task computes blocks of `block` output channels of one sample, in
# register tiles (kernels/cpu/tiles.py): block x TILE_VECTORS vectors of positions accumulate
# every tap in registers and are stored once, each loaded input vector serving `block`
# multiply-adds. No GEMM and no (O, N, L) -> (N, O, L) transposing copy.
# NOTE (same-process A/B, medians; im2col + GEMM + copy -> this): LeNet's 1->10 5x5 conv on
# 64x28x28: 845 -> 240 us, 10->20 on 64x12x12: 839 -> 457 us, CIFAR's 6->16 on 100x14x14:
# 932 -> 607 us; 3->6 on 100x32x32 (then shifted runs, one channel a pass): 1036 -> 850 us.
# Register tiles against the former loop (accumulators in memory, four taps a pass; and rows
# unfolded in scalars): 0.50-0.60x the time on these four (benchmarks/conv.py shapes).
# Shapes: x (N, C, H, W) unpadded, w padded per group to whole blocks (G*blocks*block,
# C/G*kh*kw), out (N, O, oh, ow); geo = (C, H, W, O, oh, ow, kh, kw, dh, dw, G, pt, pl, Hp).
# Blocks hold 4 or 6 channels (DIRECT_BLOCKS; a group's last partial block takes the smaller
# tile that holds it), chosen per shape by _block_size for the fewest computed rows.
# NOTE: 6 output channels (CIFAR's conv1 and conv2's input gradient) ran as 4 + 4 rows before,
# a quarter of the multiply-adds on zero weights; see _block_size for the measured numbers.
DIRECT_BLOCKS = (4, 6)
DIRECT_ALIGN = 16  # slack after the rows: a tile reads its last vector whole (<= 16 elements)
VECTOR_BYTES = tiles.vector_bytes()
TILE_VECTORS = min(tiles.tile_vectors(rows) for rows in DIRECT_BLOCKS)
_direct_tile = tiles.shifted_tile(DIRECT_BLOCKS, TILE_VECTORS)


@njit(inline="always")
def _unfold_width(xf, buf, n, geo):
    """buf[((c*kw + j)*Hp + h)*ow + xo] = x_pad[n, c, h, xo + j*dw], 0 in the padding.

    The rows holding x go in whole vectors, ascending (the lanes past a row land in the next
    row, rewritten next, or in buf's slack), then the padding rows are zeroed. NOTE: a short
    row copied in scalars cost ~20 cycles, with a branch per row ~13: the padded rows of the
    input gradient's correlation (CIFAR's conv2: 1440 a sample) made the unfold half its time.
    """
    channels, height, width, out_ch, oh, ow, kh, kw, dh, dw, groups, pt, pl, hp = geo
    n_lanes = VECTOR_BYTES // buf.itemsize
    n_vectors = (ow + n_lanes - 1) // n_lanes
    for c in range(channels):
        src0 = (n * channels + c) * height * width
        for j in range(kw):
            off_w = j * dw - pl
            lo, hi = _valid_range(off_w, 1, width, ow)
            d0 = (c * kw + j) * hp * ow
            first, last = src0 + off_w, src0 + (height - 1) * width + off_w
            if first >= 0 and last + n_vectors * n_lanes <= xf.size:
                tiles.copy_rows(buf, d0 + pt * ow, ow, xf, first, width, height, ow, lo, hi)
            else:  # a vector would read outside x
                for h in range(height):
                    d, s = d0 + (pt + h) * ow, first + h * width
                    for xo in range(ow):
                        buf[uintp(d + xo)] = 0
                    for xo in range(lo, hi):
                        buf[uintp(d + xo)] = xf[uintp(s + xo)]
            for i in range(pt * ow):
                buf[uintp(d0 + i)] = 0
            d1 = d0 + (pt + height) * ow
            for i in range((hp - pt - height) * ow):
                buf[uintp(d1 + i)] = 0


@njit(**_OPTS)
def _direct_conv_task(of, xf, wf, bf, t, parts, geo, shifts, blocks, block):
    """Task t = (n, part): for the part's blocks of `block` output channels o0 + k of
    sample n, out[n, o0 + k] = bias + sum over taps q of w[o0 + k, q] * (the run of tap q)."""
    channels, height, width, out_ch, oh, ow, kh, kw, dh, dw, groups, pt, pl, hp = geo
    cg, og = channels // groups, out_ch // groups
    n, part = t // parts, t % parts
    per_part = (groups * blocks + parts - 1) // parts
    buf = np.empty(channels * kw * hp * ow + DIRECT_ALIGN, dtype=of.dtype)
    buf[buf.size - DIRECT_ALIGN :] = 0  # runs of the last rows read up to DIRECT_ALIGN past
    _unfold_width(xf, buf, n, geo)
    tail = np.empty((DIRECT_BLOCKS[-1] + 1) * VECTOR_BYTES // of.itemsize, dtype=of.dtype)
    for blk in range(part * per_part, min(groups * blocks, (part + 1) * per_part)):
        g = blk // blocks
        o0 = g * og + (blk - g * blocks) * block
        o_end = min(o0 + block, (g + 1) * og)
        x0 = g * cg * kw * hp * ow
        _direct_conv_block(of, buf, tail, wf, bf, n, o0, o_end, x0, blk * block, geo, shifts)


@njit(inline="always")
def _direct_conv_block(of, buf, tail, wf, bf, n, o0, o_end, x0, row0, geo, shifts):
    """Output channels [o0, o_end) of sample n from the rows buf (see _direct_conv_task), in
    register tiles of these channels by up to TILE_VECTORS vectors of positions; row0 is the
    block's first row in the blocked weights."""
    channels, height, width, out_ch, oh, ow, kh, kw, dh, dw, groups, pt, pl, hp = geo
    plane = oh * ow
    taps = channels // groups * kh * kw
    n_lanes = VECTOR_BYTES // of.itemsize
    vectors = (plane + n_lanes - 1) // n_lanes
    tiles_ = (vectors + TILE_VECTORS - 1) // TILE_VECTORS
    step = (vectors + tiles_ - 1) // tiles_ * n_lanes  # even tiles: 7 vectors as 4 + 3, not 6 + 1
    w0, b0 = row0 * taps, row0
    for start in range(0, plane, step):
        limit = min(step, plane - start)
        at = (n * out_ch + o0) * plane + start
        nv = (limit + n_lanes - 1) // n_lanes
        args = (at, plane, limit, o_end - o0, tail, buf, x0 + start, shifts, wf, w0, taps, bf, b0)
        _direct_tile(of, *args, nv)
        full = limit // n_lanes * n_lanes
        for r in range(o_end - o0):  # the last partial vector of each row, from tail
            for p in range(full, limit):
                of[uintp(at + r * plane + p)] = tail[uintp(r * n_lanes + p - full)]


@njit(parallel=True, **_OPTS)
def _direct_conv_parallel(of, xf, wf, bf, tasks, parts, geo, shifts, blocks, block):
    for t in prange(tasks):
        _direct_conv_task(of, xf, wf, bf, intp(t), parts, geo, shifts, blocks, block)


@njit(**_OPTS)
def _direct_conv_serial(of, xf, wf, bf, tasks, parts, geo, shifts, blocks, block):
    for t in range(tasks):
        _direct_conv_task(of, xf, wf, bf, intp(t), parts, geo, shifts, blocks, block)


def _block_size(channels: int) -> int:
    """The block of DIRECT_BLOCKS that computes the fewest rows for `channels` outputs per
    group (a partial last block takes the smallest tile that holds it), the larger on ties."""

    def rows(block):
        last = channels % block
        tile = min((b for b in DIRECT_BLOCKS if b >= last), default=0) if last else 0
        return channels - last + tile

    return min(reversed(DIRECT_BLOCKS), key=rows)


def _blocked(w: np.ndarray, groups: int, block: int) -> tuple[np.ndarray, int]:
    """w (O, ...) as flat rows (G, blocks*block, ...), each group's channels padded with zero
    rows to whole blocks; and the blocks per group."""
    og = w.shape[0] // groups
    blocks = -(-og // block)
    rows = np.zeros((groups, blocks * block, w[0].size), dtype=w.dtype)
    rows[:, :og] = w.reshape(groups, og, -1)
    return rows.reshape(-1), blocks


@functools.lru_cache(maxsize=64)  # building a table costs ~50 us (meshgrid): twice per conv
def _row_shifts(channels, padded_h, kernel, dilation, ow) -> np.ndarray:
    """Where tap (c, i, j) of a group's flattened (C/G, kh, kw) weights starts reading in the
    width-unfolded rows of the group's first channel (a table: no divisions in the kernel)."""
    c, i, j = np.meshgrid(*(np.arange(k) for k in (channels, *kernel)), indexing="ij")
    return (((c * kernel[1] + j) * padded_h + i * dilation[0]) * ow).reshape(-1).astype(np.int64)


def direct_conv2d(x, w, b, padding, dilation, groups, out_hw, out=None, block=None):
    """conv2d with stride 1: out (N, O, oh, ow) from x (N, C, H, W) and w (O, C/G, kh, kw),
    into `out` where given; in blocks of `block` output channels (by default _block_size's)."""
    n, out_ch = x.shape[0], w.shape[0]
    out = np.empty((n, out_ch, *out_hw), dtype=x.dtype) if out is None else out
    if out.size == 0:
        return out
    x = np.ascontiguousarray(x)
    pt, pb, pl = padding[:3]
    hp = x.shape[2] + pt + pb
    geo = (*x.shape[1:], out_ch, *out_hw, *w.shape[2:], *dilation, groups, pt, pl, hp)
    block = _block_size(out_ch // groups) if block is None else block
    bias, _ = _blocked(np.zeros(out_ch, x.dtype) if b is None else b, groups, block)
    wf, blocks = _blocked(np.ascontiguousarray(w), groups, block)
    shifts = _row_shifts(w.shape[1], hp, tuple(w.shape[2:]), tuple(dilation), out_hw[1])
    big = parallel(out.size * w[0].size)
    kernel_fn = _direct_conv_parallel if big else _direct_conv_serial
    # NOTE: a task unfolds its sample once for all its blocks (a task per (sample, block) redid
    # the unfold per block: CIFAR conv2 607 -> 1170 us); few samples are split into parts
    parts = min(groups * blocks, -(-2 * THREADS // n)) if big else 1
    args = (wf, bias, n * parts, parts, geo, shifts, blocks, block)
    kernel_fn(out.reshape(-1), x.reshape(-1), *args)
    return out


# ---- stride-1 weight gradient by shifted runs -------------------------------------------------
# With stride 1 the window of tap (c, i, j) over a whole output plane is one contiguous run of
# the (padded) input: x_flat[c*Hp*Wp + i*dh*Wp + j*dw + p] for p = y*Wp + xo, if the output is
# laid out on the input's row pitch Wp (the columns xo >= ow of that layout are junk: there the
# gradient is 0). So the weight gradient is, per (sample, output channel), C*kh*kw long dot
# products. No im2col columns are written, and the loops stay long and unit-stride at small
# channel counts, where BLAS runs im2col's skinny products (6 x 75 against 78400 columns on
# CIFAR's first conv) far from its peak. The dot products run in register tiles (WGRAD_SHAPES)
# of rows output channels by cols taps (kernels/cpu/tiles.py dot_tile; A/B against the former
# four-tap loop: 0.50-0.72x the time on LeNet's and CIFAR's convs). Runs are rounded up
# to RUN_ALIGN elements so the tiles need no scalar remainder; the input buffer carries
# RUN_ALIGN zeros of slack so no read leaves it.
# Shapes: x (N, C, Hp, Wp) padded, g (N, O, oh, ow), C-contiguous;
# geo = (C, Hp, Wp, O, oh, ow, kh, kw, dh, dw, G).
RUN_ALIGN = 16  # a multiple of every vector's lanes (dot_tile steps a vector at a time)
WEIGHT_GRAD_CHUNKS = 8  # samples summed in this many fixed chunks: sums do not depend on threads
WGRAD_SHAPES = tiles.dot_shapes()  # (rows, cols) of the tiles; _wgrad_shape picks one a call
_dot_tile = tiles.dot_tile(WGRAD_SHAPES)
# NOTE: batches of samples per dot_tile, against one sample a call (its accumulators loaded and
# stored once a run: 9 vectors on CIFAR's conv2), same-process A/B, bit-identical results:
# CIFAR's conv2 batches of 2-4 0.85-0.87x the time, LeNet's conv2 (4) 0.90-0.92x; but batches
# outgrowing the L1 cache lose (read again for every tile of taps): whole chunks (8-13 samples)
# made CIFAR's conv1 1.8x and LeNet's conv1 3.0x, and CIFAR's conv1 in batches of 4 1.46x.
WGRAD_BATCH_BYTES = 64 << 10
_SHIFTS_ALIGN = int(np.lcm.reduce([cols for _, cols in WGRAD_SHAPES]))


@njit(inline="always")
def _run_length(oh, ow, wp):
    """Output positions on the input's pitch, rounded up to RUN_ALIGN."""
    return ((oh - 1) * wp + ow + RUN_ALIGN - 1) // RUN_ALIGN * RUN_ALIGN


@njit(inline="always")
def _pitched(gf, gp, d, plane, oh, ow, wp, run):
    """gp[d + y*wp + xo] = g[plane][y, xo] for p = y*wp + xo < run; 0 in the pitch's extra
    columns and past the last row."""
    gp[d : d + run] = 0
    for y in range(oh):
        for xo in range(ow):
            gp[uintp(d + y * wp + xo)] = gf[uintp(plane + y * ow + xo)]


@njit(inline="always")
def _sum_lanes(acc, n_lanes):
    """acc[v*L] = the sum of the L lanes of vector v, added as a tree (each lane plus the one
    half a vector up, then a quarter, ...): the same order always, and vectorized across lanes.
    NOTE: against summing lane after lane (a chain of L - 1 dependent adds per pair, in every
    task whatever its samples), same-process A/B: CIFAR's conv2 weight gradient 0.93x, LeNet's
    conv2 0.88x, CIFAR's conv1 0.97x."""
    half = n_lanes // 2
    while half:
        for v in range(acc.size // n_lanes):
            for lane in range(half):
                acc[uintp(v * n_lanes + lane)] += acc[uintp(v * n_lanes + lane + half)]
        half //= 2


@njit(**_OPTS)
def _shift_weight_grad_part(pf, xf, gf, t, n_batch, geo, shifts, tile_rows, cols, batch):
    """Task t = (chunk, block): dW of tile_rows output channels o0 + r (of one group) summed
    over the chunk's samples into partial rows pf[chunk, o0 + r].

    The chunk's samples go in batches whose gradient rows and input planes fill about
    WGRAD_BATCH_BYTES: a batch's gradient rows are pitched into one buffer, then per tile of
    `cols` taps one dot_tile keeps tile_rows x cols vector accumulators in registers over the
    runs of the batch's samples; their lanes are summed once per chunk. Each accumulator adds
    the samples in order whatever the batches, and the chunking is fixed, so the sums depend
    on neither the batch size nor the number of threads.
    """
    channels, hp, wp, out_ch, oh, ow, kh, kw, dh, dw, groups = geo
    cg, og = channels // groups, out_ch // groups
    blocks = (og + tile_rows - 1) // tile_rows
    chunk, blk = t // (groups * blocks), t % (groups * blocks)
    g = blk // blocks
    o0 = g * og + (blk - g * blocks) * tile_rows
    rows = min(tile_rows, (g + 1) * og - o0)
    per = (n_batch + WEIGHT_GRAD_CHUNKS - 1) // WEIGHT_GRAD_CHUNKS
    run = _run_length(oh, ow, wp)
    taps = cg * kh * kw
    col_tiles = (taps + cols - 1) // cols
    n_lanes = VECTOR_BYTES // pf.itemsize
    pair = tile_rows * cols * n_lanes  # one tile's accumulators
    g_step, x_step = tile_rows * run, channels * hp * wp
    batch = min(batch, per)  # no larger buffer than the chunk needs
    gp = np.zeros(batch * g_step, dtype=gf.dtype)  # rows past `rows` stay 0
    acc = np.zeros(col_tiles * pair, dtype=pf.dtype)
    end = min(n_batch, (chunk + 1) * per)
    for first in range(min(n_batch, chunk * per), end, batch):
        samples = min(batch, end - first)
        for n in range(first, first + samples):
            for r in range(rows):
                d = (n - first) * g_step + r * run
                _pitched(gf, gp, d, (n * out_ch + o0 + r) * oh * ow, oh, ow, wp, run)
        xb = (first * channels + g * cg) * hp * wp
        for c in range(col_tiles):
            args = (shifts, c * cols, tile_rows, samples, g_step, x_step)
            _dot_tile(acc, c * pair, gp, 0, run, xf, xb, *args)
    _sum_lanes(acc, n_lanes)
    for q in range(taps):
        c, col = q // cols, q % cols
        for r in range(rows):
            pf[((chunk * out_ch) + o0 + r) * taps + q] = acc[c * pair + (r * cols + col) * n_lanes]


@njit(parallel=True, **_OPTS)
def _shift_weight_grad_parallel(pf, xf, gf, tasks, n_batch, geo, shifts, tile_rows, cols, batch):
    for t in prange(tasks):
        _shift_weight_grad_part(pf, xf, gf, intp(t), n_batch, geo, shifts, tile_rows, cols, batch)


@njit(**_OPTS)
def _shift_weight_grad_serial(pf, xf, gf, tasks, n_batch, geo, shifts, tile_rows, cols, batch):
    for t in range(tasks):
        _shift_weight_grad_part(pf, xf, gf, intp(t), n_batch, geo, shifts, tile_rows, cols, batch)


def _padded_flat(x: np.ndarray, padding, work=None) -> tuple[np.ndarray, tuple]:
    """x (N, C, H, W) zero-padded by (top, bottom, left, right), flat, with RUN_ALIGN zeros of
    slack after it (in work's array where given, see scratch); and the padded shape."""
    n, c, h, w = x.shape
    pt, pb, pl, pr = padding
    shape = (n, c, h + pt + pb, w + pl + pr)
    flat = scratch(work, "padded", (int(np.prod(shape)) + RUN_ALIGN,), x.dtype)
    padded = flat[: flat.size - RUN_ALIGN].reshape(shape)
    if pt or pb or pl or pr:
        padded.fill(0)
    padded[:, :, pt : pt + h, pl : pl + w] = x
    flat[flat.size - RUN_ALIGN :] = 0
    return flat, shape


def _geometry(x_shape, out_ch, out_hw, kernel, dilation, groups) -> tuple:
    return (*x_shape[1:], out_ch, *out_hw, *kernel, *dilation, groups)


@functools.lru_cache(maxsize=64)
def _tap_shifts(channels, padded_hw, kernel, dilation) -> np.ndarray:
    """Where each tap (c, i, j) of a group's flattened (C/G, kh, kw) weights starts reading,
    relative to the group's first input plane (a table: no divisions in the kernels); zeros pad
    it to whole tiles of every shape's cols taps."""
    hp, wp = padded_hw
    c, i, j = np.meshgrid(*(np.arange(k) for k in (channels, *kernel)), indexing="ij")
    shifts = (c * hp * wp + i * dilation[0] * wp + j * dilation[1]).reshape(-1).astype(np.int64)
    return np.concatenate([shifts, np.zeros(-shifts.size % _SHIFTS_ALIGN, np.int64)])


def _wgrad_shape(channels: int, taps: int) -> tuple[int, int]:
    """The WGRAD_SHAPES tile for `channels` outputs and `taps` taps a group that computes the
    fewest multiply-adds, its empty rows and taps counted (they bound it: tiles.dot_shapes);
    the first shape on ties."""

    def multiply_adds(shape):
        rows, cols = shape
        return -(-channels // rows) * rows * -(-taps // cols) * cols

    return min(WGRAD_SHAPES, key=multiply_adds)


def shifted_conv2d_weight(
    x, g, kernel, padding, dilation, groups, out=None, work=None, shape=None, batch=None
) -> np.ndarray:
    """conv2d's weight gradient with stride 1: dW (O, C/G, kh, kw) from x and g (N, O, oh, ow),
    into `out` where given; its scratch arrays from `work` (see scratch); in dot tiles of
    `shape` (rows, cols) (by default _wgrad_shape's), `batch` samples a dot_tile (by default
    as many as fill WGRAD_BATCH_BYTES).

    The dot products also read x where the output pitch's junk columns sit (times a zero
    gradient): an inf there gives 0 * inf = NaN, so callers redo a non-finite result another way.
    """
    n, out_ch = g.shape[:2]
    cg = x.shape[1] // groups
    parts = scratch(work, "parts", (WEIGHT_GRAD_CHUNKS, out_ch, cg, *kernel), x.dtype)
    parts.fill(0)
    if g.size and parts[0].size:
        xf, padded_shape = _padded_flat(x, padding, work)
        geo = _geometry(padded_shape, out_ch, g.shape[2:], kernel, dilation, groups)
        shape = shape or _wgrad_shape(out_ch // groups, cg * kernel[0] * kernel[1])
        tasks = WEIGHT_GRAD_CHUNKS * groups * -(-(out_ch // groups) // shape[0])
        big = parallel(g.size * parts[0, 0].size)
        kernel_fn = _shift_weight_grad_parallel if big else _shift_weight_grad_serial
        shifts = _tap_shifts(cg, tuple(padded_shape[2:]), tuple(kernel), tuple(dilation))
        gf = np.ascontiguousarray(g).reshape(-1)
        if batch is None:
            run = _run_length.py_func(*g.shape[2:], padded_shape[3])
            per_sample = (shape[0] * run + cg * padded_shape[2] * padded_shape[3]) * x.itemsize
            batch = max(1, WGRAD_BATCH_BYTES // per_sample)
        kernel_fn(parts.reshape(-1), xf, gf, tasks, n, geo, shifts, *shape, batch)
    return parts.sum(axis=0, out=out)


# ---- max pooling --------------------------------------------------------------------------------
@njit(inline="always")
def _window_range(start, dilation, kernel, size):
    """[lo, hi): the taps k of a window starting at `start` with start + k*dilation in bounds."""
    if dilation == 1:
        return max(0, -start), min(kernel, size - start)
    lo = 0 if start >= 0 else (-start + dilation - 1) // dilation
    return lo, min(kernel, (size - 1 - start) // dilation + 1)


@njit(inline="always", **_OPTS)
def _max_pool_at(of, idxf, xf, p, y, xo, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    """out[p, y, xo] = max over window (y, xo) of x[p], idx = its flat h*W + w.

    Like PyTorch: the first maximum wins ties; a NaN wins over numbers (the last NaN). One
    output element: the CPU loops it over a plane, the CUDA kernel runs one per thread.
    """
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow + y * ow + xo
    h0 = y * sh - ph
    w0 = xo * sw - pw
    i_lo, i_hi = _window_range(h0, dh, kh, height)
    j_lo, j_hi = _window_range(w0, dw, kw, width)
    if i_lo >= i_hi or j_lo >= j_hi:  # a window entirely in the padding
        of[uintp(dst)] = -np.inf
        idxf[uintp(dst)] = max(h0, 0) * width + max(w0, 0)
        return
    where = (h0 + i_lo * dh) * width + w0 + j_lo * dw
    best = xf[uintp(src + where)]
    nan = False
    # NOTE: no NaN test inside the hot loop: it defeats branch-free selects (5x slower);
    # a second pass runs only for windows that hold a NaN.
    for i in range(i_lo, i_hi):
        row = (h0 + i * dh) * width + w0
        for j in range(j_lo, j_hi):
            v = xf[uintp(src + row + j * dw)]
            nan |= v != v
            if v > best:
                best = v
                where = row + j * dw
    if nan:
        for i in range(i_lo, i_hi):
            row = (h0 + i * dh) * width + w0
            for j in range(j_lo, j_hi):
                v = xf[uintp(src + row + j * dw)]
                if v != v:
                    best = v
                    where = row + j * dw
    of[uintp(dst)] = best
    idxf[uintp(dst)] = where


@njit(inline="always", **_OPTS)
def _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    """out[p], idx[p]: _max_pool_at for every output element of plane p."""
    for y in range(shape[2]):
        for xo in range(shape[3]):
            _max_pool_at(of, idxf, xf, p, y, xo, shape, kh, kw, sh, sw, ph, pw, dh, dw)


@njit(inline="always", **_OPTS)
def _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw):
    """_max_pool_plane for 2x2 windows that lie inside the image (the common MaxPool2d(2)).

    NOTE: a fixed trip count lets LLVM unroll the window into branch-free selects; the generic
    kernel's runtime-sized window loop measured ~4x slower on LeNet's pooling.
    """
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        for xo in range(ow):
            top = (y * sh) * width + xo * sw
            where = top
            best = xf[uintp(src + top)]
            nan = best != best
            for q in (top + 1, top + width, top + width + 1):
                v = xf[uintp(src + q)]
                nan |= v != v
                if v > best:
                    best = v
                    where = q
            if nan:
                for q in (top, top + 1, top + width, top + width + 1):
                    v = xf[uintp(src + q)]
                    if v != v:
                        best = v
                        where = q
            of[uintp(dst + y * ow + xo)] = best
            idxf[uintp(dst + y * ow + xo)] = where


@njit(inline="always", **_OPTS)
def _max_pool_plane_2x2_values(of, xf, p, shape, sh, sw):
    """_max_pool_plane_2x2 without the indices (inference): the same values, window order and
    NaN rule, as selects. NOTE: 1.6-1.8x faster than with the indices (LeNet's and CIFAR's
    pools, same process)."""
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        row = src + (y * sh) * width
        for xo in range(ow):
            i = row + xo * sw
            best = xf[uintp(i)]
            nan = best
            for v in (xf[uintp(i + 1)], xf[uintp(i + width)], xf[uintp(i + width + 1)]):
                best = v if v > best else best
                nan = v if v != v else nan
            of[uintp(dst + y * ow + xo)] = nan if nan != nan else best


# NOTE: the 2x2 path and the generic one are separate kernels, so a model compiles only the one
# it uses: one driver inlining both behind a flag compiled (cold, parallel) in 3.5 s, the 2x2
# one alone in 0.9 s.
@njit(parallel=True, **_OPTS)
def _max_pool_2x2_parallel(of, idxf, xf, planes, shape, sh, sw):
    for p in prange(planes):
        _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw)


@njit(**_OPTS)
def _max_pool_2x2_serial(of, idxf, xf, planes, shape, sh, sw):
    for p in range(planes):
        _max_pool_plane_2x2(of, idxf, xf, p, shape, sh, sw)


@njit(parallel=True, **_OPTS)
def _max_pool_2x2_values_parallel(of, xf, planes, shape, sh, sw):
    for p in prange(planes):
        _max_pool_plane_2x2_values(of, xf, p, shape, sh, sw)


@njit(**_OPTS)
def _max_pool_2x2_values_serial(of, xf, planes, shape, sh, sw):
    for p in range(planes):
        _max_pool_plane_2x2_values(of, xf, p, shape, sh, sw)


@njit(parallel=True, **_OPTS)
def _max_pool_parallel(of, idxf, xf, planes, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    for p in prange(planes):
        _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw)


@njit(**_OPTS)
def _max_pool_serial(of, idxf, xf, planes, shape, kh, kw, sh, sw, ph, pw, dh, dw):
    for p in range(planes):
        _max_pool_plane(of, idxf, xf, p, shape, kh, kw, sh, sw, ph, pw, dh, dw)


def max_pool2d(
    x: np.ndarray, kernel, stride, padding, dilation, out_size, indices=True, out=(None, None)
):
    """(values, flat indices) of 2-D max pooling over planes x (P, H, W), into the arrays of
    `out` where given; indices=False gives (values, None)."""
    x = np.ascontiguousarray(x)
    planes, height, width = x.shape
    oh, ow = out_size
    out, idx = out
    if out is None:
        out = np.empty((planes, oh, ow), dtype=x.dtype)
    fast = (
        tuple(kernel) == (2, 2)
        and tuple(padding) == (0, 0)
        and tuple(dilation) == (1, 1)
        and (oh - 1) * stride[0] + 2 <= height
        and (ow - 1) * stride[1] + 2 <= width
    )
    big = parallel(x.size) and planes > 1
    geometry = (planes, (height, width, oh, ow))
    if fast and not indices:
        if out.size:
            kernel_fn = _max_pool_2x2_values_parallel if big else _max_pool_2x2_values_serial
            kernel_fn(out.reshape(-1), x.reshape(-1), *geometry, stride[0], stride[1])
        return out, None
    if idx is None:
        idx = np.empty((planes, oh, ow), dtype=np.int64)
    if out.size:
        flat = (out.reshape(-1), idx.reshape(-1), x.reshape(-1), *geometry)
        if fast:
            kernel_fn = _max_pool_2x2_parallel if big else _max_pool_2x2_serial
            kernel_fn(*flat, stride[0], stride[1])
        else:
            kernel_fn = _max_pool_parallel if big else _max_pool_serial
            kernel_fn(*flat, *kernel, *stride, *padding, *dilation)
    return out, (idx if indices else None)


@njit(inline="always", **_OPTS)
def _index_add_plane(of, gf, idxf, p, size, plane):
    """out[p] = 0, then out[p].flat[idx[p, k]] += g[p, k]. NOTE: zeroing each plane in its
    task, in cache just before the adds, instead of filling the whole output first: 0.73-0.79x
    the time (same-process A/B on LeNet's and CIFAR's pools; CIFAR's first 162 -> 122 us)."""
    for i in range(p * plane, (p + 1) * plane):
        of[uintp(i)] = 0
    for k in range(p * size, (p + 1) * size):
        of[uintp(p * plane + idxf[k])] += gf[k]


@njit(parallel=True, **_OPTS)
def _index_add_parallel(of, gf, idxf, planes, size, plane):
    for p in prange(planes):
        _index_add_plane(of, gf, idxf, p, size, plane)


@njit(**_OPTS)
def _index_add_serial(of, gf, idxf, planes, size, plane):
    for p in range(planes):
        _index_add_plane(of, gf, idxf, p, size, plane)


def plane_index_add(g: np.ndarray, idx: np.ndarray, plane_size: int, out=None) -> np.ndarray:
    """out (P, plane_size) zeros with out[p, idx[p, k]] += g[p, k] (max pooling's backward),
    into `out` where given."""
    g = np.ascontiguousarray(g)
    idx = np.ascontiguousarray(idx)
    if out is None:
        out = np.empty((g.shape[0], plane_size), dtype=g.dtype)
    if not g.size:
        out.fill(0)
    elif out.size:
        kernel_fn = _index_add_parallel if parallel(g.size + out.size) else _index_add_serial
        kernel_fn(
            out.reshape(-1), g.reshape(-1), idx.reshape(-1), g.shape[0], g.shape[1], plane_size
        )
    return out


# ---- window sums (average pooling, adaptive average pooling) ----------------------------------
# The window arithmetic is written once, as scalar functions: ops/conv.py builds the CPU's
# bound and scale arrays from them, and the CUDA kernels (kernels/cuda/pool.py) call them as
# device functions per output element.
@njit(inline="always")
def avg_window(o, size, kernel, stride, pad):
    """(lo, hi, span) of window o of average pooling along one dim: it sums the input
    positions [lo, hi); span is its length counting the padding (count_include_pad)."""
    start = o * stride - pad
    end = min(start + kernel, size + pad)
    return max(start, 0), min(end, size), end - start


@njit(inline="always")
def adaptive_window(o, size, n_out):
    """(lo, hi, span): window o of n_out covers [floor(o*size/n_out), ceil((o+1)*size/n_out))."""
    lo = (o * size) // n_out
    hi = -((-(o + 1) * size) // n_out)
    return lo, hi, hi - lo


@njit(inline="always")
def window_scale(h_window, w_window, count_include_pad, divisor_override):
    """1 / divisor of a window given its (lo, hi, span) along each dim, PyTorch's rules: the
    override (0 = none), else the window's size with or without the padding."""
    if divisor_override:
        return 1.0 / divisor_override
    if count_include_pad:
        return 1.0 / (h_window[2] * w_window[2])
    return 1.0 / ((h_window[1] - h_window[0]) * (w_window[1] - w_window[0]))


@njit(inline="always", **_OPTS)
def _window_total(xf, src, width, h_lo, h_hi, w_lo, w_hi, total):
    """total + the sum of plane x[src:] (row length width) over [h_lo, h_hi) x [w_lo, w_hi)."""
    for h in range(h_lo, h_hi):
        row = src + h * width
        for w in range(w_lo, w_hi):
            total += xf[uintp(row + w)]
    return total


@njit(inline="always", **_OPTS)
def _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale):
    """out[p, y, xo] = scale[y, xo] * sum(x[p, hs[y]:he[y], ws[xo]:we[xo]])."""
    height, width, oh, ow = shape
    src = p * height * width
    dst = p * oh * ow
    for y in range(oh):
        for xo in range(ow):
            total = _window_total(xf, src, width, hs[y], he[y], ws[xo], we[xo], scale[0, 0] * 0)
            of[uintp(dst + y * ow + xo)] = total * scale[y, xo]


@njit(parallel=True, **_OPTS)
def _window_sum_parallel(of, xf, planes, shape, hs, he, ws, we, scale):
    for p in prange(planes):
        _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_sum_serial(of, xf, planes, shape, hs, he, ws, we, scale):
    for p in range(planes):
        _window_sum_plane(of, xf, p, shape, hs, he, ws, we, scale)


def window_sum(x: np.ndarray, hs, he, ws, we, scale) -> np.ndarray:
    """Scaled sums over rectangular windows [hs, he) x [ws, we) of planes x (P, H, W)."""
    x = np.ascontiguousarray(x)
    planes = x.shape[0]
    out_hw = (hs.shape[0], ws.shape[0])
    out = np.zeros((planes,) + out_hw, dtype=x.dtype)
    if out.size and x.size:
        kernel_fn = _window_sum_parallel if parallel(x.size) and planes > 1 else _window_sum_serial
        kernel_fn(
            out.reshape(-1),
            x.reshape(-1),
            planes,
            x.shape[1:] + out_hw,
            hs,
            he,
            ws,
            we,
            scale.astype(x.dtype),
        )
    return out


@njit(inline="always", **_OPTS)
def _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale):
    """The adjoint of window_sum: out[p, h, w] += scale[y, xo] * g[p, y, xo] over windows."""
    height, width, oh, ow = shape
    src = p * oh * ow
    dst = p * height * width
    for y in range(oh):
        for xo in range(ow):
            v = gf[uintp(src + y * ow + xo)] * scale[y, xo]
            for h in range(hs[y], he[y]):
                row = dst + h * width
                for w in range(ws[xo], we[xo]):
                    of[uintp(row + w)] += v


@njit(parallel=True, **_OPTS)
def _window_spread_parallel(of, gf, planes, shape, hs, he, ws, we, scale):
    for p in prange(planes):
        _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale)


@njit(**_OPTS)
def _window_spread_serial(of, gf, planes, shape, hs, he, ws, we, scale):
    for p in range(planes):
        _window_spread_plane(of, gf, p, shape, hs, he, ws, we, scale)


def window_spread(g: np.ndarray, plane_shape, hs, he, ws, we, scale) -> np.ndarray:
    """Planes (P, H, W) that receive scale * g spread over each window (window_sum's adjoint)."""
    g = np.ascontiguousarray(g)
    planes = g.shape[0]
    out = np.zeros((planes,) + tuple(plane_shape), dtype=g.dtype)
    if g.size and out.size:
        kernel_fn = (
            _window_spread_parallel if parallel(out.size) and planes > 1 else _window_spread_serial
        )
        kernel_fn(
            out.reshape(-1),
            g.reshape(-1),
            planes,
            tuple(plane_shape) + g.shape[1:],
            hs,
            he,
            ws,
            we,
            scale.astype(g.dtype),
        )
    return out
