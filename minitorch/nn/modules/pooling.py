"""Pooling layers: max, average and adaptive average pooling (1-D, 2-D and 3-D).

Stateless wrappers over nn.functional; each 1-D/2-D call is one pooling op with a Numba
kernel, the 3-D ones compose the 2-D ops (functional_conv3d.py).
"""

from __future__ import annotations

from collections.abc import Callable

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
]


def _single(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


class _MaxPoolNd(Module):
    """MaxPool1d and MaxPool2d: the subclass sets the functional to call."""

    _functional: Callable

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def forward(self, input: Tensor):
        return self._functional(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )


class MaxPool2d(_MaxPoolNd):
    """Max over k x k windows of (N, C, H, W) input; return_indices also gives flat argmaxes.

    Example:
        >>> import minitorch as torch
        >>> torch.nn.MaxPool2d(2)(torch.randn(1, 3, 8, 8)).shape
        minitorch.Size([1, 3, 4, 4])
    """

    _functional = staticmethod(F.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max over kD x kH x kW windows of (N, C, D, H, W) input; return_indices also gives flat
    (d * H * W + h * W + w) argmaxes.

    Example:
        >>> import minitorch as torch
        >>> torch.nn.MaxPool3d(2)(torch.randn(1, 3, 4, 8, 8)).shape
        minitorch.Size([1, 3, 2, 4, 4])
    """

    _functional = staticmethod(F.max_pool3d)


class MaxPool1d(_MaxPoolNd):
    """Max over windows of length k of (N, C, L) input."""

    _functional = staticmethod(F.max_pool1d)


class _AvgPoolNd(Module):
    """Options shared by AvgPool1d and AvgPool2d (stride defaults to kernel_size)."""

    def __init__(self, kernel_size, stride, padding, ceil_mode: bool, count_include_pad: bool):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """Mean over k x k windows of (N, C, H, W) input.

    count_include_pad counts zero padding in the divisor; divisor_override replaces it.

    Example:
        >>> import minitorch as torch
        >>> torch.nn.AvgPool2d(2)(torch.ones(1, 1, 4, 4)).shape
        minitorch.Size([1, 1, 2, 2])
    """

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool3d(AvgPool2d):
    """Mean over kD x kH x kW windows of (N, C, D, H, W) input.

    Example:
        >>> import minitorch as torch
        >>> torch.nn.AvgPool3d(2)(torch.ones(1, 1, 4, 4, 4)).shape
        minitorch.Size([1, 1, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool3d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of length k of (N, C, L) input."""

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        # NOTE: PyTorch keeps AvgPool1d's sizes as 1-tuples (unlike the other pools): repr shows it.
        stride = _single(stride if (stride is not None) else kernel_size)
        super().__init__(
            _single(kernel_size), stride, _single(padding), ceil_mode, count_include_pad
        )

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed (H_out, W_out), whatever the input size (None keeps a dim).

    Example:
        >>> import minitorch as torch
        >>> torch.nn.AdaptiveAvgPool2d((1, 1))(torch.randn(2, 8, 7, 5)).shape
        minitorch.Size([2, 8, 1, 1])
    """

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, L) input to a fixed length."""

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed (H_out, W_out), whatever the input size (None keeps a dim);
    return_indices also returns each maximum's flat position (for MaxUnpool-style uses).

    Example:
        >>> import minitorch as torch
        >>> torch.nn.AdaptiveMaxPool2d((2, 3))(torch.randn(2, 8, 7, 5)).shape
        minitorch.Size([2, 8, 2, 3])
    """

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, L) input to a fixed length."""

    def forward(self, input: Tensor):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, D, H, W) input to a fixed (D_out, H_out, W_out).

    Example:
        >>> import minitorch as torch
        >>> torch.nn.AdaptiveAvgPool3d(1)(torch.randn(2, 8, 3, 7, 5)).shape
        minitorch.Size([2, 8, 1, 1, 1])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """Max pooling of (N, C, D, H, W) input to a fixed (D_out, H_out, W_out)."""

    def forward(self, input: Tensor):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)
