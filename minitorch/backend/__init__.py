"""Devices: "cpu" (numpy arrays) and "cuda" (numba DeviceNDArrays, see backend/cuda.py).

Nothing here imports numba.cuda: the CUDA runtime loads on the first use of a cuda device,
so `import minitorch` stays fast and works without numba-cuda installed.
"""

from __future__ import annotations

import numpy as np


class Device:
    """torch.device: a type ("cpu" or "cuda") and an optional index."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | Device, index: int | None = None):
        if isinstance(type, Device):
            type, index = type.type, type.index
        if ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


cpu_device = Device("cpu")
cuda_device = Device("cuda", 0)  # the one GPU this backend drives (phase 1: a single device)


def to_device(device) -> Device:
    """Validate a device argument: the CPU, or a usable CUDA device (normalized to cuda:0).

    Raises RuntimeError, naming the simulator and the `cuda` extra, when no CUDA device exists.
    """
    if device is None:
        return cpu_device
    device = Device(device) if not isinstance(device, Device) else device
    if device.type == "cpu":
        return cpu_device
    from . import cuda  # noqa: PLC0415  (loads numba.cuda: only on first cuda use)

    cuda.require(str(device))
    if device.index not in (None, 0):
        raise RuntimeError(
            f"cuda: invalid device ordinal {device.index} in {str(device)!r}: this backend "
            "drives one GPU (cuda:0)"
        )
    return cuda_device


def device_of(array) -> Device:
    """The device an array lives on: numpy arrays are on the CPU, anything else is a device
    array (only backend/cuda.py makes those)."""
    return cpu_device if isinstance(array, (np.ndarray, np.generic)) else cuda_device


def common_device(op: str, inputs, device: Device | None = None) -> Device:
    """The device all tensor inputs of op share; PyTorch's RuntimeError when they differ.

    Plain numbers and 0-d CPU tensors count as scalars, which PyTorch lets mix with cuda
    tensors (x_cuda * torch.tensor(2.0) works). `device` is the op's own device parameter
    (creation and random ops, which may have no tensor inputs)."""
    found = device if isinstance(device, Device) and device.type == "cuda" else None
    for x in inputs if found is None else ():
        data = getattr(x, "_data", None)
        if data is None or isinstance(data, (np.ndarray, np.generic)):
            continue
        found = cuda_device
        break
    if found is None:
        return cpu_device
    for x in inputs:
        data = getattr(x, "_data", None)
        if isinstance(data, np.ndarray) and data.ndim > 0:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"cuda:0 and cpu! ({op}: move the cpu tensor with .to('cuda') or the cuda one "
                "with .cpu())"
            )
    return found
