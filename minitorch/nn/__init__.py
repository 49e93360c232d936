"""minitorch.nn: modules, functional, init, utils.

Example:
    >>> import minitorch.nn as nn
    >>> model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
"""

from . import functional, init, utils
from .modules import *  # every layer file's __all__ (see modules/__init__.py)
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
