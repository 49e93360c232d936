"""Devices. The CPU is always there; "cuda" arrives with the CUDA backend."""

from __future__ import annotations


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


def to_device(device) -> Device:
    """Validate a device argument; only the CPU exists in this build."""
    if device is None:
        return cpu_device
    device = Device(device) if not isinstance(device, Device) else device
    if device.type == "cuda":
        raise RuntimeError(
            f"cuda: no CUDA device found for device={str(device)!r}; use device='cpu', or set "
            "NUMBA_ENABLE_CUDASIM=1 to test kernels on the simulator once the CUDA backend is "
            "installed (pip install 'minitorch[cuda]')."
        )
    return device
