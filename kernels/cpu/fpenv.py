"""The x86 floating-point control register (MXCSR) of the calling thread, read and written
from njit code: torch.set_flush_denormal's flush-to-zero and denormals-are-zero bits.

NOTE: an arithmetic result or operand in the denormal range (below ~1.2e-38 in float32) takes
a microcode assist of ~100 cycles on Intel cores: a DQN's Adam update over 17,410 values, 1,500
of them decaying denormal moments of dead units, took ~106 us against ~56 us with these bits.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

FLUSH_TO_ZERO = 1 << 15  # FTZ: denormal results become 0
DENORMALS_ARE_ZERO = 1 << 6  # DAZ: denormal operands read as 0
SUPPORTED = platform.machine().lower() in ("x86_64", "amd64")


def _mxcsr_call(builder, name: str, slot) -> None:
    i8p = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p]), name)
    builder.call(fn, [builder.bitcast(slot, i8p)])


@intrinsic
def _load_mxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        _mxcsr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.zext(builder.load(slot), ir.IntType(64))

    return types.int64(), codegen


@intrinsic
def _store_mxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = cgutils.alloca_once(builder, ir.IntType(32))
        builder.store(builder.trunc(args[0], ir.IntType(32)), slot)
        _mxcsr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()

    return types.void(types.int64), codegen


@njit(cache=True)
def mxcsr() -> int:
    """The calling thread's MXCSR."""
    return _load_mxcsr()


@njit(cache=True)
def set_mxcsr(value: int) -> None:
    _store_mxcsr(value)
