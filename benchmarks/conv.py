"""conv2d forward, input gradient and weight gradient on the small-channel convolutions of the
suite's CNNs: minitorch's register-tiled kernels ("tiled": the direct forward, the direct
correlation for the input gradient, shifted runs for the weight gradient) against its im2col +
GEMM paths (same process, alternating), and PyTorch (own process).

    python benchmarks/conv.py [--torch] [--blocks 8] [--calls 20]

The harness (alternating blocks, PyTorch's worker process) is benchmarks/sidebyside.py.
"""

import minitorch  # noqa: I001  (before numpy: it sets OpenBLAS's thread timeout)
import functools
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


def _gradient(x_shape, out_ch):
    x, w, _ = _arrays(x_shape, out_ch)
    out_hw = [s - 4 for s in x_shape[2:]]
    g = np.random.default_rng(1).standard_normal((x_shape[0], out_ch, *out_hw)).astype(np.float32)
    return x, w, g


def minitorch_times(blocks: int, calls: int) -> dict:
    from minitorch.ops import conv as C  # noqa: PLC0415

    params = dict(stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    limits = {"tiled": (C.DIRECT_MAX_OUT_CHANNELS, C.SHIFT_MAX_OUT_CHANNELS), "im2col+gemm": (0, 0)}
    rows = {}

    def timed(make):
        def run(limit):
            C.DIRECT_MAX_OUT_CHANNELS, C.SHIFT_MAX_OUT_CHANNELS = limit
            return make()

        return {name: functools.partial(run, limit) for name, limit in limits.items()}

    for name, (x_shape, out_ch) in SHAPES.items():
        x, w, b = _arrays(x_shape, out_ch)
        tx, tw, tb = (minitorch.from_numpy(a) for a in (x, w, b))
        _, _, g = _gradient(x_shape, out_ch)
        tg = minitorch.from_numpy(g)
        meta = C.conv2d.infer(tx, tw, tb, **params)
        rows[name] = alternate(
            timed(lambda: C.conv2d.forward(meta, x, w, b, **params)), blocks, calls
        )
        size = dict(output_size=tuple(x_shape[2:]))
        meta_dx = C.conv_transpose2d.infer(tg, tw, **params, **size)
        dx = lambda: C.conv_transpose2d.forward(meta_dx, g, w, **params, **size)  # noqa: E731
        rows[name + " dx"] = alternate(timed(dx), blocks, calls)
        kernel = dict(kernel_size=(5, 5))
        meta_dw = C.conv2d_weight.infer(tx, tg, **kernel, **params)
        dw = lambda: C.conv2d_weight.forward(meta_dw, x, g, **kernel, **params)  # noqa: E731
        rows[name + " dW"] = alternate(timed(dw), blocks, calls)
    C.DIRECT_MAX_OUT_CHANNELS, C.SHIFT_MAX_OUT_CHANNELS = limits["tiled"]
    return rows


def torch_times(blocks: int, calls: int) -> dict:
    import torch  # noqa: PLC0415  (only in the worker process)

    torch.set_num_threads(2)
    grad = torch.nn.grad
    rows = {}
    with torch.no_grad():
        for name, (x_shape, out_ch) in SHAPES.items():
            x, w, b = (torch.from_numpy(a) for a in _arrays(x_shape, out_ch))
            g = torch.from_numpy(_gradient(x_shape, out_ch)[2])
            fns = {"torch": lambda: torch.nn.functional.conv2d(x, w, b)}
            rows[name] = alternate(fns, blocks, calls)
            fns = {"torch": lambda: grad.conv2d_input(x.shape, w, g)}
            rows[name + " dx"] = alternate(fns, blocks, calls)
            fns = {"torch": lambda: grad.conv2d_weight(x, w.shape, g)}
            rows[name + " dW"] = alternate(fns, blocks, calls)
    return rows


def main() -> None:
    columns = ["tiled", "im2col+gemm", "torch"]
    times = (minitorch_times, torch_times)
    sidebyside.main(__file__, __doc__, "conv2d (us)", columns, *times, calls=20)


if __name__ == "__main__":
    main()
