"""minitorch.utils: data loading (`minitorch.utils.data`) and `checkpoint`, as in torch.utils."""

from . import checkpoint, data

__all__ = ["checkpoint", "data"]
