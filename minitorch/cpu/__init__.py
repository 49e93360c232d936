"""minitorch.cpu: PyTorch's torch.cpu names; so far its `amp` submodule (torch.cpu.amp)."""

from . import amp

__all__ = ["amp"]
