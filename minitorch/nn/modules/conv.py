"""Convolution layers: Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d.

They hold weight and bias (PyTorch's shapes, names and initialization); the math is in
nn.functional (functional_conv.py), one conv2d op per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter
from ._factory import new_empty
from .lazy import LazyModuleMixin
from .module import Module

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "LazyConv1d",
    "LazyConv2d",
]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value) if len(value) != 1 else tuple(value) * n
    return (value,) * n


class _ConvNd(Module):
    """Shared state of the convolution layers (PyTorch's _ConvNd)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed,
        output_padding,
        groups,
        bias,
        padding_mode,
        n,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"padding_mode must be one of {set(_PADDING_MODES)}, but got "
                f"padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.dilation = _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _ntuple(padding, n)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._reversed_padding()
        shape = (
            (in_channels, out_channels // groups)
            if transposed
            else (out_channels, in_channels // groups)
        ) + self.kernel_size
        self.weight = Parameter(new_empty(shape, device, dtype))
        if bias:
            self.bias = Parameter(new_empty((out_channels,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _reversed_padding(self) -> list:
        """F.pad's (left, right, top, bottom) for padding_mode != 'zeros'."""
        pads = []
        if isinstance(self.padding, str):
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1) if self.padding == "same" else 0
                pads += [total // 2, total - total // 2]
            return pads
        for p in reversed(self.padding):
            pads += [p, p]
        return pads

    def reset_parameters(self) -> None:
        # NOTE: kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in PyTorch.
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"  # PyTorch's repr: padding=same, unquoted
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    """Conv1d, Conv2d and Conv3d: the subclass sets the spatial dims and the functional to call."""

    _spatial_dims: int
    _functional: Callable

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            False,
            0,
            groups,
            bias,
            padding_mode,
            self._spatial_dims,
            device,
            dtype,
        )

    def forward(self, input: Tensor) -> Tensor:
        padding = self.padding
        if self.padding_mode != "zeros":
            # the functional pads with zeros only, so other modes pad here and convolve unpadded
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            padding = 0
        return self._functional(
            input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups
        )


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) input.

    Args:
        in_channels, out_channels: channels of input and output.
        kernel_size, stride, dilation: int or (h, w).
        padding: int, (h, w), 'valid' or 'same' (stride 1).
        groups: split channels into groups convolved separately (depthwise: groups=C_in).
        bias: learn an additive bias. padding_mode: 'zeros', 'reflect', 'replicate', 'circular'.

    Shape: output (N, C_out, H_out, W_out), H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1.

    Example:
        >>> import minitorch as torch
        >>> m = torch.nn.Conv2d(3, 8, 3, padding=1)
        >>> m(torch.randn(2, 3, 16, 16)).shape
        minitorch.Size([2, 8, 16, 16])
    """

    _spatial_dims = 2
    _functional = staticmethod(F.conv2d)


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W) (or unbatched (C_in, D, H, W)) input.

    Args:
        in_channels, out_channels: channels of input and output.
        kernel_size, stride, dilation: int or (d, h, w).
        padding: int, (d, h, w), 'valid' or 'same' (stride 1).
        groups: split channels into groups convolved separately (depthwise: groups=C_in).
        bias: learn an additive bias. padding_mode: 'zeros', 'reflect', 'replicate', 'circular'.

    Shape: output (N, C_out, D_out, H_out, W_out), D_out = floor((D + 2p - d(k - 1) - 1) / s) + 1.

    Example:
        >>> import minitorch as torch
        >>> m = torch.nn.Conv3d(2, 4, 3, padding=1)
        >>> m(torch.randn(1, 2, 6, 6, 6)).shape
        minitorch.Size([1, 4, 6, 6, 6])
    """

    _spatial_dims = 3
    _functional = staticmethod(F.conv3d)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) input.

    Example:
        >>> import minitorch as torch
        >>> torch.nn.Conv1d(4, 2, 3)(torch.randn(1, 4, 10)).shape
        minitorch.Size([1, 2, 8])
    """

    _spatial_dims = 1
    _functional = staticmethod(F.conv1d)


class _LazyConv(LazyModuleMixin):
    """LazyConv1d and LazyConv2d: in_channels comes from the first input's channel dim."""

    _in_size = "in_channels"

    def __init__(
        self,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False, padding_mode)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor) -> None:
        unbatched = input.dim() == self._spatial_dims + 1
        self.in_channels = input.shape[0 if unbatched else 1]
        if self.in_channels % self.groups != 0:
            raise ValueError(
                f"{self._get_name()}: in_channels={self.in_channels} (from input of shape "
                f"{tuple(input.shape)}) must be divisible by groups={self.groups}"
            )
        if self.has_uninitialized_params():
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


class LazyConv1d(_LazyConv, Conv1d):
    """A Conv1d whose in_channels is inferred from the first input (becomes a Conv1d).

    Example:
        >>> import minitorch as torch
        >>> torch.nn.LazyConv1d(2, 3)(torch.randn(1, 4, 10)).shape
        minitorch.Size([1, 2, 8])
    """

    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """A Conv2d whose in_channels is inferred from the first input (becomes a Conv2d).

    Example:
        >>> import minitorch as torch
        >>> torch.nn.LazyConv2d(8, 3, padding=1)(torch.randn(2, 3, 16, 16)).shape
        minitorch.Size([2, 8, 16, 16])
    """

    cls_to_become = Conv2d


class _ConvTransposeNd(_ConvNd):
    """ConvTranspose1d and ConvTranspose2d: the subclass sets the spatial dims and functional."""

    _spatial_dims: int
    _functional: Callable

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            True,
            output_padding,
            groups,
            bias,
            padding_mode,
            self._spatial_dims,
            device,
            dtype,
        )

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return self._functional(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """output_padding that makes the output exactly output_size (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._spatial_dims
        size = list(output_size)[-n:]
        spatial = input.shape[-n:]
        result = []
        for d in range(n):
            smallest = (
                (spatial[d] - 1) * self.stride[d]
                - 2 * self.padding[d]
                + self.dilation[d] * (self.kernel_size[d] - 1)
                + 1
            )
            largest = smallest + self.stride[d] - 1
            if not smallest <= size[d] <= largest:
                raise ValueError(
                    f"requested an output size of {size}, but valid sizes range from "
                    f"{smallest} to {largest} (for an input of {list(spatial)})"
                )
            result.append(size[d] - smallest)
        return tuple(result)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution (a.k.a. fractionally strided convolution).

    Shape: H_out = (H - 1) s - 2p + d (k - 1) + output_padding + 1.

    Example:
        >>> import minitorch as torch
        >>> m = torch.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
        >>> m(torch.randn(1, 4, 5, 5)).shape
        minitorch.Size([1, 2, 10, 10])
    """

    _spatial_dims = 2
    _functional = staticmethod(F.conv_transpose2d)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution over (N, C_in, L) input."""

    _spatial_dims = 1
    _functional = staticmethod(F.conv_transpose1d)
