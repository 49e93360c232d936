"""The CUDA caching allocator: size buckets, reuse of freed blocks, PyTorch's memory stats.

`cudaMalloc` costs ~41 us and synchronizes the device (DESIGN.md), so freed blocks are kept
per size bucket and handed out again; `empty_cache()` returns the cached ones to the driver.
The bookkeeping (`BucketPool`) is plain Python shared by both targets:
- a real GPU: `make_emm_plugin()` wraps it in numba's External Memory Management plugin
  interface, so every numba allocation (ours and numba's own) goes through the pool;
- the simulator: backend/cuda.py draws host buffers from the same pool, so the statistics and
  empty_cache behave, and are tested, the same way.
"""

from __future__ import annotations

import weakref

SMALL = 1 << 20  # requests up to 1 MiB round up to 512 bytes, larger ones to 2 MiB (PyTorch's)


def bucket_size(nbytes: int) -> int:
    """The block size a request of nbytes is served from (never 0: empty tensors get 512)."""
    unit = 512 if nbytes <= SMALL else 2 << 20
    return max(unit, -(-nbytes // unit) * unit)


class BucketPool:
    """Free blocks by bucket size, with the counters behind minitorch.cuda.memory_*.

    `new_block(size)` makes a fresh block (a device pointer, or a host buffer in the simulator)
    and `free_block(block)` gives one back to the driver on `empty_cache`.
    """

    def __init__(self, new_block, free_block):
        self._new, self._free_fn = new_block, free_block
        self.cached: dict[int, list] = {}
        self.allocated = 0  # bytes in blocks handed out and not yet released
        self.peak = 0
        self.reserved = 0  # bytes held from the driver: handed out + cached

    def acquire(self, nbytes: int):
        """A block of at least nbytes: a cached one of the same bucket, else a fresh one."""
        size = bucket_size(nbytes)
        free = self.cached.get(size)
        block = free.pop() if free else None
        if block is None:
            block = self._new(size)
            self.reserved += size
        self.allocated += size
        self.peak = max(self.peak, self.allocated)
        return size, block

    def release(self, size: int, block) -> None:
        """Take a block back into its bucket (called when the last array using it dies)."""
        self.allocated -= size
        self.cached.setdefault(size, []).append(block)

    def empty_cache(self) -> None:
        """Give every cached (unused) block back to the driver."""
        for size, blocks in self.cached.items():
            for block in blocks:
                self._free_fn(block)
                self.reserved -= size
        self.cached.clear()

    def reset_peak(self) -> None:
        self.peak = self.allocated


def attach_release(owner, pool: BucketPool, size: int, block) -> None:
    """Return block to pool once `owner` (the object every view of the block keeps alive) dies."""
    weakref.finalize(owner, pool.release, size, block)


def make_emm_plugin(pool_factory):
    """numba's EMM plugin class serving allocations from a BucketPool (real GPU only).

    Use: `numba.cuda.set_memory_manager(make_emm_plugin(...))` before the context exists.
    pool_factory(alloc, free) builds the BucketPool once the context exists.
    # NOTE: written against numba-cuda 0.30.4's NumbaCUDAMemoryManager and not yet run on a
    # GPU (phase 2): the simulator has no memory manager to plug into.
    """
    from numba.cuda.cudadrv import driver  # noqa: PLC0415

    class CachingMemoryManager(driver.NumbaCUDAMemoryManager):
        """memalloc from size buckets; a freed pointer goes back to its bucket, not the driver."""

        def initialize(self):
            super().initialize()
            self.pool = pool_factory(self._driver_alloc, self._driver_free)

        def _driver_alloc(self, size):
            return super().memalloc(size)  # an owning pointer, freed when dropped

        def _driver_free(self, pointer):
            pointer.free()

        def memalloc(self, size):
            bucket, raw = self.pool.acquire(size)
            ctx = self.context
            return driver.MemoryPointer(
                ctx, raw.device_pointer, size, finalizer=lambda: self.pool.release(bucket, raw)
            )

    return CachingMemoryManager
