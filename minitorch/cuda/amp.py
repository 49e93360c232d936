"""minitorch.cuda.amp: torch.cuda.amp's older spellings of minitorch.amp for the CUDA device.

`from torch.cuda.amp import autocast, GradScaler` scripts import this module; `autocast()` here
is `minitorch.autocast("cuda", ...)`.
"""

from __future__ import annotations

import functools

from .. import amp as _amp

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]

autocast = _amp._CudaAutocast
GradScaler = _amp.GradScaler
custom_fwd = functools.partial(_amp.custom_fwd, device_type="cuda")
custom_bwd = functools.partial(_amp.custom_bwd, device_type="cuda")
