"""minitorch.cpu.amp: torch.cpu.amp's older spellings of minitorch.amp for the CPU.

`from torch.cpu.amp import autocast` scripts import this module; `autocast()` here is
`minitorch.autocast("cpu", ...)`.
"""

from __future__ import annotations

from .. import amp as _amp

__all__ = ["GradScaler", "autocast"]

autocast = _amp._CpuAutocast
GradScaler = _amp.GradScaler
