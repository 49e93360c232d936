"""nn layers. Each file lists its public names in __all__; this package re-exports them."""

from .activation import *
from .container import *
from .conv import *
from .distance import *
from .dropout import *
from .flatten import *
from .fold import *
from .lazy import LazyModuleMixin
from .linear import *
from .loss import *
from .module import Module, RemovableHandle
from .normalization import *
from .padding import *
from .pooling import *
from .rnn import *
from .sparse import *
from .transformer import *
from .upsampling import *

__all__ = sorted(
    n
    for n, v in globals().items()
    if isinstance(v, type) and issubclass(v, Module) and not n.startswith("_")
) + ["LazyModuleMixin"]
