"""Batched matrix product on the device: a register-tiled, double-buffered SGEMM/DGEMM.

    for n, i, j: out[n, i, j] = sum_k a[n, i, k] * b[n, k, j]

A block computes a BM x BN tile of out[n]: it walks K in BK-deep slices, each staged in shared
memory (A's slice transposed, B's as is), and each of its threads accumulates a TM x TN
micro-tile in registers. The textbook kernel this replaces (one output per thread, 16 x 16
tiles) reached ~6.9 TFLOP/s at 4096 on an H100 (DESIGN.md): every multiply-add cost two
shared-memory loads. Here a thread loads TM + TN values from shared memory per k and does
TM * TN multiply-adds with them: with the 8 x 8 micro-tile, 4 16-byte vector loads per 64
FMAs (the SASS ptxas makes for sm_90: 16 LDS.128, 256 FFMA and 22 other instructions per 4
k-steps), so the FMA units, not shared memory, set the pace.

Why each piece:
- A is stored transposed (sa[k, m]) so that, for one k, a thread's TM values of A and TN values
  of B are both contiguous runs in shared memory: the inner loop reads them with vector loads
  (ld.shared.v4) and no bank conflicts.
- Double buffering: while a block multiplies the slice in one shared buffer, its threads have
  already issued the global loads of the next slice into registers; those land in the other
  buffer after the FMAs. Global latency hides behind arithmetic, and one __syncthreads per
  k-step suffices (a buffer is rewritten only after the barrier that ends its last reader).
- A thread's micro-tile is two runs of TM/2 rows (and TN/2 columns) half a tile apart, not
  TM adjacent ones: neighbouring threads' 16-byte loads are then adjacent in shared memory
  (no bank conflicts; 8 adjacent values per thread would put them 32 bytes apart), and a
  warp's stores of out are contiguous runs.
- A warp covers 4 x 8 micro-tiles (`_thread_position`), so for one k it reads 64 bytes of A
  and 128 of B from shared memory (192 bytes; a 2 x 16 warp would read 288).
- Global loads follow the operand's layout (a compile-time flag per kernel): threads walk the
  operand's contiguous dimension, so row-major and transposed (column-major) operands both load
  coalesced.
- Operands go in as 1-D views from their first element plus element strides, indexed in
  unsigned arithmetic from per-thread offsets that advance by warp-uniform steps: indexing
  the 3-D arrays cost ~30 instructions per load (numba's 64-bit wraparound checks and stride
  products), here a few. Any non-negative strides (transposed, broadcast, batched views) take
  this path; negative ones index the 3-D arrays (`product`).
- Every load and store is bounds-checked, so M, N and K need not be multiples of the tile.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numba import cuda, from_dtype, uint64

from . import SIM, as_strided


class Tiles(NamedTuple):
    """Compile-time tile sizes of one GEMM kernel (threads per block: (bm/tm) * (bn/tn))."""

    bm: int  # rows of out per block
    bn: int  # columns of out per block
    bk: int  # depth of the K slice staged in shared memory per step
    tm: int  # rows of out per thread (even: two halves)
    tn: int  # columns of out per thread (even: two halves)

    @property
    def threads(self) -> int:
        return (self.bm // self.tm) * (self.bn // self.tn)


# 128 x 128 tiles with 8 x 8 per thread (256 threads): 64 float32 accumulators, 16 fragment
# values and 8 staged loads fit in 128 registers (ptxas -v for sm_90: 128, and 40-52 bytes of
# spills, all in a tile's prologue and epilogue, none in the K loop), so two blocks (16 warps
# to hide latency) share an SM; 16.5 KiB of shared memory per block is far from the limit. BK = 8
# keeps the staging registers few; a deeper slice would only cut barriers, already one per 512
# FMAs per thread.
LARGE = Tiles(bm=128, bn=128, bk=8, tm=8, tn=8)
# 64 x 64 tiles with 4 x 4 per thread (256 threads): for products whose 128 x 128 grid would
# leave SMs idle (fewer blocks than the device has SMs, 132 on an H100; SMALL makes 4 times
# as many), and for float64, whose 8 x 8 micro-tile would not fit 128 registers.
SMALL = Tiles(bm=64, bn=64, bk=8, tm=4, tn=4)
# The simulator runs every thread of a block as a Python thread: a tiny tile keeps the CPU
# tests quick. Tests run the GPU tiles above through `product` on small shapes.
SIMULATOR = Tiles(bm=8, bn=8, bk=4, tm=2, tn=2)

BLOCKS_PER_SM = 2  # launch bounds: caps ptxas at 65536 / (2 * 256) = 128 registers
MAX_GRID_YZ = 65535  # CUDA's limit on gridDim.y and gridDim.z: the kernel loops past it
_kernels: dict = {}


def tiles_for(dtype: np.dtype, batch: int, m_rows: int, n_cols: int) -> Tiles:
    """The tile sizes matmul uses for this product (see LARGE and SMALL)."""
    if SIM:
        return SIMULATOR
    if dtype != np.float32:
        return SMALL
    blocks = batch * -(-m_rows // LARGE.bm) * -(-n_cols // LARGE.bn)
    return LARGE if blocks >= _multiprocessors() else SMALL


@functools.cache
def _multiprocessors() -> int:
    """The device's SM count (132 on an H100): fewer LARGE blocks than this leave SMs idle."""
    return cuda.get_current_device().MULTIPROCESSOR_COUNT


def _k_fastest(strides: tuple, k_dim: int) -> bool:
    """Whether walking K moves through memory faster than the other matrix dim does."""
    return abs(strides[k_dim]) <= abs(strides[3 - k_dim])


def kernel_for(dtype: np.dtype, tiles: Tiles, a_k_fastest: bool, b_k_fastest: bool, flat: bool):
    """The compiled GEMM for this dtype, tile shape and operand layout (cached)."""
    key = (np.dtype(dtype).str, tiles, a_k_fastest, b_k_fastest, flat)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = _make(np.dtype(dtype), tiles, a_k_fastest, b_k_fastest, flat)
    return kernel


def matmul(out, a, b) -> None:
    """out = a @ b for 3-D (batch, M, K) and (batch, K, N) device arrays of out's dtype.

    Any strides (transposed, broadcast and batched views are read in place); out is written
    element by element, so it may be a strided view too.
    """
    if out.size:
        product(out, a, b, tiles_for(out.dtype, *out.shape))


def product(out, a, b, tiles: Tiles, flat: bool | None = None) -> None:
    """matmul with the given tile sizes (tests run the GPU's on the simulator).

    flat (by default, when both operands allow it): the kernel reads each operand through a
    1-D view from its first element and its element strides, in unsigned arithmetic: a few
    instructions per load. flat=False (and any negative stride) indexes the 3-D arrays,
    where numba adds 64-bit wraparound checks and stride products to every load (~30 SASS
    instructions each, as many as the FMAs they feed).
    """
    a_flat, b_flat = _flat_operand(a), _flat_operand(b)
    if flat is None:
        flat = a_flat is not None and b_flat is not None
    layout = (_k_fastest(a.strides, 2), _k_fastest(b.strides, 1), flat)
    kernel = kernel_for(out.dtype, tiles, *layout)
    args = (*a_flat, *b_flat) if flat else (a, _NO_STRIDES, b, _NO_STRIDES)
    batch, m_rows, n_cols = out.shape
    blocks = (
        -(-n_cols // tiles.bn),
        min(MAX_GRID_YZ, -(-m_rows // tiles.bm)),
        min(MAX_GRID_YZ, batch),
    )
    kernel[blocks, tiles.threads](out, *args, a.shape[2])


_NO_STRIDES = (np.uint64(0),) * 3


def _flat_operand(x) -> tuple | None:
    """(1-D view of x from its first element, its element strides as uint64), or None when a
    stride is negative or not a whole number of elements."""
    item = x.dtype.itemsize
    # a size-1 dim's stride is never used (and numpy leaves it arbitrary)
    strides = tuple(0 if d == 1 else s for d, s in zip(x.shape, x.strides))
    if any(s < 0 or s % item for s in strides):
        return None
    strides = tuple(s // item for s in strides)
    span = 1 + sum((d - 1) * s for d, s in zip(x.shape, strides)) if x.size else 0
    return as_strided(x, (span,), (item,)), tuple(np.uint64(s) for s in strides)


@cuda.jit(device=True, inline="always")
def _fetch_flat(x, offset, n, i, j):
    """Element (n, i, j) of a flat operand, at offset (unsigned: no wraparound checks)."""
    return x[offset]


@cuda.jit(device=True, inline="always")
def _fetch_strided(x, offset, n, i, j):
    """Element (n, i, j) of a 3-D operand (offset unused: the array carries its strides)."""
    return x[n, i, j]


def _make(dtype: np.dtype, tiles: Tiles, a_k_fastest: bool, b_k_fastest: bool, flat: bool):
    """Build the kernel for one dtype, tile shape and operand layout. The sizes are closure
    constants: numba folds them, LLVM unrolls the micro-tile loops, and the local arrays
    become registers (ptxas -v reports no local memory)."""
    value_type = from_dtype(dtype)
    zero = dtype.type(0)
    bm, bn, bk, tm, tn = tiles
    threads = tiles.threads
    half_m, half_n = tm // 2, tn // 2  # a micro-tile is two runs, half a tile apart
    a_loads, b_loads = bm * bk // threads, bk * bn // threads  # staged elements per thread
    _check(tiles, a_loads, b_loads)
    # NOTE: 4 elements of padding per shared row: K-fastest loads make a warp store 8 k-values
    # of 4 columns, which would all hit one bank (bank = column mod 32) without it; 4 keeps the
    # rows 16-byte aligned for the vector loads.
    sa_row, sb_row = bm + 4, bn + 4
    align = None if SIM else 16  # the simulator refuses the argument
    options = {} if SIM else {"launch_bounds": (threads, BLOCKS_PER_SM)}
    thread_position = _thread_position(tiles)
    fetch = _fetch_flat if flat else _fetch_strided
    # element p of a thread's staged A is (m, k) + p * (a_dm, a_dk) of its element 0; for B,
    # (k, j) + p * (b_dk, b_dj) (see a_element and b_element)
    a_dm, a_dk = (threads // bk, 0) if a_k_fastest else (0, threads // bm)
    b_dk, b_dj = (0, threads // bk) if b_k_fastest else (threads // bn, 0)

    @cuda.jit(device=True, inline="always")
    def a_element(p, t):
        """(row m, depth k) in the A tile of the p-th element thread t stages: consecutive
        threads walk A's contiguous dim, so a warp's global loads coalesce."""
        e = t + p * threads
        if a_k_fastest:
            return e // bk, e % bk
        return e % bm, e // bm

    @cuda.jit(device=True, inline="always")
    def b_element(p, t):
        """(depth k, column j) in the B tile of the p-th element thread t stages."""
        e = t + p * threads
        if b_k_fastest:
            return e % bk, e // bk
        return e // bn, e % bn

    @cuda.jit(device=True, inline="always")
    def origins(a_strides, b_strides, n, row0, col0, t):
        """Flat offsets of this thread's first staged A and B elements at k = 0 (the others
        are a fixed step further: element p is (m, k) + p * (a_dm, a_dk) of the first)."""
        m, k = a_element(0, t)
        a_at = uint64(n) * a_strides[0] + uint64(row0 + m) * a_strides[1]
        a_at += uint64(k) * a_strides[2]
        k, j = b_element(0, t)
        b_at = uint64(n) * b_strides[0] + uint64(k) * b_strides[1]
        return a_at, b_at + uint64(col0 + j) * b_strides[2]

    @cuda.jit(device=True, inline="always")
    def load_slice(stage_a, stage_b, operands, at, dims, n, row0, col0, k0, t):
        """Global -> registers: this thread's elements of the K slice at k0 (0 outside).

        Flat offsets advance by warp-uniform steps (the uniform datapath computes them), so
        a load costs an add and a bounds check.
        """
        a, a_strides, b, b_strides = operands
        m_rows, k_len, n_cols = dims
        a_k = at[0] + uint64(k0) * a_strides[2]
        a_step = uint64(a_dm) * a_strides[1] + uint64(a_dk) * a_strides[2]
        for p in range(a_loads):
            m, k = a_element(p, t)
            inside = row0 + m < m_rows and k0 + k < k_len
            x = fetch(a, a_k + uint64(p) * a_step, n, row0 + m, k0 + k) if inside else zero
            stage_a[p] = x
        b_k = at[1] + uint64(k0) * b_strides[1]
        b_step = uint64(b_dk) * b_strides[1] + uint64(b_dj) * b_strides[2]
        for p in range(b_loads):
            k, j = b_element(p, t)
            inside = k0 + k < k_len and col0 + j < n_cols
            x = fetch(b, b_k + uint64(p) * b_step, n, k0 + k, col0 + j) if inside else zero
            stage_b[p] = x

    @cuda.jit(device=True, inline="always")
    def store_slice(sa, sb, buf, stage_a, stage_b, t):
        """Registers -> shared buffer buf (A transposed: sa[buf, k, m])."""
        for p in range(a_loads):
            m, k = a_element(p, t)
            sa[buf, k, m] = stage_a[p]
        for p in range(b_loads):
            k, j = b_element(p, t)
            sb[buf, k, j] = stage_b[p]

    @cuda.jit(device=True, inline="always")
    def multiply_k(acc, frag_a, frag_b, sa, sb, buf, k, ty, tx):
        """acc += this thread's rows of sa[buf, k] times its columns of sb[buf, k]."""
        for i in range(tm):
            frag_a[i] = sa[buf, k, (i // half_m) * (bm // 2) + ty * half_m + i % half_m]
        for j in range(tn):
            frag_b[j] = sb[buf, k, (j // half_n) * (bn // 2) + tx * half_n + j % half_n]
        for i in range(tm):
            for j in range(tn):
                acc[i, j] += frag_a[i] * frag_b[j]

    @cuda.jit(device=True, inline="always")
    def multiply_slice(acc, frag_a, frag_b, sa, sb, buf, ty, tx):
        """acc += this thread's rows of sa[buf]^T times its columns of sb[buf].

        Unrolled by 4 by hand (LLVM does not unroll a body of 64 FMAs): the 4 steps share one
        address computation, and ptxas can overlap a step's loads with the FMAs before it.
        """
        for kk in range(0, bk, 4):
            k = kk & (bk - 1)  # NOTE: a no-op that proves k >= 0 (see `kernel`)
            multiply_k(acc, frag_a, frag_b, sa, sb, buf, k, ty, tx)
            multiply_k(acc, frag_a, frag_b, sa, sb, buf, k + 1, ty, tx)
            multiply_k(acc, frag_a, frag_b, sa, sb, buf, k + 2, ty, tx)
            multiply_k(acc, frag_a, frag_b, sa, sb, buf, k + 3, ty, tx)

    @cuda.jit(device=True, inline="always")
    def write_tile(out, acc, n, row0, col0, ty, tx):
        """out[n]'s tile <- acc, skipping rows and columns past the matrix."""
        for i in range(tm):
            row = row0 + (i // half_m) * (bm // 2) + ty * half_m + i % half_m
            for j in range(tn):
                col = col0 + (j // half_n) * (bn // 2) + tx * half_n + j % half_n
                if row < out.shape[1] and col < out.shape[2]:
                    out[n, row, col] = acc[i, j]

    @cuda.jit(**options)
    def kernel(out, a, a_strides, b, b_strides, k_len):
        """for n, i, j: out[n, i, j] = sum_k a[n, i, k] * b[n, k, j]

        Block (threads,) computes a bm x bn tile of out[n]; grid (N tiles, M tiles, batch),
        looping past the grid's y and z limits. Per K slice s: loads of slice s + 1 in flight,
        FMAs on buffer s % 2, stores into the other buffer, one barrier.
        """
        sa = cuda.shared.array((2, bk, sa_row), value_type, alignment=align)
        sb = cuda.shared.array((2, bk, sb_row), value_type, alignment=align)
        acc = cuda.local.array((tm, tn), value_type)
        frag_a = cuda.local.array(tm, value_type)
        frag_b = cuda.local.array(tn, value_type)
        stage_a = cuda.local.array(a_loads, value_type)
        stage_b = cuda.local.array(b_loads, value_type)
        # NOTE: numba checks every index for wraparound (index < 0) unless LLVM can prove it
        # non-negative, and the check also stops LLVM from merging the shared loads into
        # vector loads: masks (& (2**n - 1)) on t, k and buf keep the proof visible.
        t = cuda.threadIdx.x & (threads - 1)
        ty, tx = thread_position(t)
        col0 = cuda.blockIdx.x * bn
        dims = (out.shape[1], k_len, out.shape[2])
        operands = (a, a_strides, b, b_strides)
        slices = (k_len + bk - 1) // bk
        for n in range(cuda.blockIdx.z, out.shape[0], cuda.gridDim.z):
            for row0 in range(cuda.blockIdx.y * bm, out.shape[1], cuda.gridDim.y * bm):
                for i in range(tm):
                    for j in range(tn):
                        acc[i, j] = zero
                at = origins(a_strides, b_strides, n, row0, col0, t)
                load_slice(stage_a, stage_b, operands, at, dims, n, row0, col0, 0, t)
                store_slice(sa, sb, 0, stage_a, stage_b, t)
                cuda.syncthreads()
                for s in range(slices):
                    buf = s & 1
                    if s + 1 < slices:  # issue the next slice's loads before the FMAs
                        k0 = (s + 1) * bk
                        load_slice(stage_a, stage_b, operands, at, dims, n, row0, col0, k0, t)
                    multiply_slice(acc, frag_a, frag_b, sa, sb, buf, ty, tx)
                    if s + 1 < slices:
                        store_slice(sa, sb, 1 - buf, stage_a, stage_b, t)
                    cuda.syncthreads()
                write_tile(out, acc, n, row0, col0, ty, tx)

    return kernel


def _check(tiles: Tiles, a_loads: int, b_loads: int) -> None:
    """The kernel's assumptions about its tile sizes."""
    bm, bn, bk, tm, tn = tiles
    threads = tiles.threads
    assert a_loads * threads == bm * bk and b_loads * threads == bk * bn, tiles
    assert tm % 2 == 0 and tn % 2 == 0 and bm % tm == 0 and bn % tn == 0, tiles
    assert all(x & (x - 1) == 0 for x in (bk, bn // tn, threads)) and bk >= 4, tiles
    # a thread's staged elements are one step apart (see `origins`)
    assert threads % bk == 0 and threads % bm == 0 and threads % bn == 0, tiles


def _thread_position(tiles: Tiles):
    """Device function t -> (ty, tx): the thread's row and column in the block's grid of
    (bm / tm) x (bn / tn) micro-tiles.

    A warp covers 4 x 8 micro-tiles (not 1 x 32 or 2 x 16): for one k it then reads 4
    distinct runs of A and 8 of B from shared memory, 192 bytes per warp instead of 288 for
    2 x 16: the shared-memory pipe needs about as many cycles as the warp's 64 FMAs.
    """
    col_threads = tiles.bn // tiles.tn
    lane_cols = min(8, col_threads)
    lane_rows = min(32 // lane_cols, tiles.threads // col_threads)
    group = lane_rows * lane_cols  # a warp (fewer threads for the simulator's tiles)
    groups_per_row = col_threads // lane_cols
    # NOTE: shifts and ors, not // and + : written with them, LLVM merged only some of the
    # fragment loads into 16-byte vector loads (seen in the PTX)
    lane_rows_shift = lane_rows.bit_length() - 1
    group_shift, lane_shift, row_shift = (
        x.bit_length() - 1 for x in (group, lane_cols, groups_per_row)
    )

    @cuda.jit(device=True, inline="always")
    def thread_position(t):
        g, lane = t >> group_shift, t & (group - 1)
        ty = ((g >> row_shift) << lane_rows_shift) | (lane >> lane_shift)
        tx = ((g & (groups_per_row - 1)) << lane_shift) | (lane & (lane_cols - 1))
        return ty, tx

    return thread_position
