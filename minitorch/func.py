"""minitorch.func: function transforms (PyTorch's torch.func); so far functional_call."""

from .nn.utils.stateless import functional_call

__all__ = ["functional_call"]
