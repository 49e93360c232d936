"""conv2d forward on the small-channel convolutions of the suite's CNNs: minitorch's direct
kernel against its im2col + GEMM path (same process, alternating), and PyTorch (own process).

    python benchmarks/conv.py [--torch] [--blocks 8] [--calls 50]

The harness (alternating blocks, PyTorch's worker process) is benchmarks/sidebyside.py.
"""

import minitorch  # noqa: I001  (before numpy: it sets OpenBLAS's thread timeout)
import numpy as np
import sidebyside
from sidebyside import alternate

SHAPES = {  # name: (x shape, output channels); 5x5 kernels, stride 1, no padding
    "lenet conv1": ((64, 1, 28, 28), 10),
    "lenet conv2": ((64, 10, 12, 12), 20),
    "cifar conv1": ((100, 3, 32, 32), 6),
    "cifar conv2": ((100, 6, 14, 14), 16),
}


def _arrays(x_shape, out_ch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((out_ch, x_shape[1], 5, 5)).astype(np.float32)
    return x, w, rng.standard_normal(out_ch).astype(np.float32)


def minitorch_times(blocks: int, calls: int) -> dict:
    from minitorch.ops import conv as C  # noqa: PLC0415

    params = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    direct_max = C.DIRECT_MAX_OUT_CHANNELS
    rows = {}
    for name, (x_shape, out_ch) in SHAPES.items():
        x, w, b = _arrays(x_shape, out_ch)
        tx, tw, tb = (minitorch.from_numpy(a) for a in (x, w, b))

        def run(limit):
            C.DIRECT_MAX_OUT_CHANNELS = limit
            meta = C.conv2d.infer(tx, tw, tb, **params)
            return C.conv2d.forward(meta, x, w, b, **params)

        fns = {"direct": lambda: run(direct_max), "im2col+gemm": lambda: run(0)}
        rows[name] = alternate(fns, blocks, calls)
    C.DIRECT_MAX_OUT_CHANNELS = direct_max
    return rows


def torch_times(blocks: int, calls: int) -> dict:
    import torch  # noqa: PLC0415  (only in the worker process)

    torch.set_num_threads(2)
    rows = {}
    with torch.no_grad():
        for name, (x_shape, out_ch) in SHAPES.items():
            x, w, b = (torch.from_numpy(a) for a in _arrays(x_shape, out_ch))
            fns = {"torch": lambda: torch.nn.functional.conv2d(x, w, b)}
            rows[name] = alternate(fns, blocks, calls)
    return rows


def main() -> None:
    columns = ["direct", "im2col+gemm", "torch"]
    times = (minitorch_times, torch_times)
    sidebyside.main(__file__, __doc__, "conv2d forward (us)", columns, *times, calls=50)


if __name__ == "__main__":
    main()
