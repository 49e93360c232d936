"""minitorch.backends: the switches PyTorch scripts set (cudnn.benchmark, allow_tf32, mps).

minitorch's kernels are Numba's and BLAS's, not cuDNN's, so these flags are kept (a script
reads back what it set) and change nothing: there is no autotuning to enable, and products
never round to TF32.
"""

from __future__ import annotations

from types import SimpleNamespace

cudnn = SimpleNamespace(
    benchmark=False,
    deterministic=False,
    enabled=True,
    allow_tf32=True,
    is_available=lambda: False,
    version=lambda: None,
)
cuda = SimpleNamespace(
    matmul=SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True)
)
mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
mkldnn = SimpleNamespace(enabled=True, is_available=lambda: False)
