"""linear(x, W, b) of small batches: minitorch's register tiles (kernels/cpu/linear.py) against
its OpenBLAS path (same process, alternating), and PyTorch's F.linear (own process).

    python benchmarks/linear.py [--torch] [--blocks 8] [--calls 50]

The harness (alternating blocks, PyTorch's worker process) is benchmarks/sidebyside.py.
"""

import minitorch  # noqa: F401, I001  (before numpy: it sets OpenBLAS's thread timeout)
import numpy as np
import sidebyside
from sidebyside import alternate

SHAPES = {  # name: (rows, inputs, outputs)
    "mlp fc1 64x784->512": (64, 784, 512),
    "mlp fc2 64x512->256": (64, 512, 256),
    "16x784->512": (16, 784, 512),
    "128x784->512": (128, 784, 512),
    "32x256->256": (32, 256, 256),
}


def _arrays(m, k, n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, k)).astype(np.float32)
    return (
        x,
        rng.standard_normal((n, k)).astype(np.float32),
        rng.standard_normal(n).astype(np.float32),
    )


def minitorch_times(blocks: int, calls: int) -> dict:
    from minitorch.kernels.cpu import linear as tiled  # noqa: PLC0415
    from minitorch.ops import linear as L  # noqa: PLC0415

    rule = L.Linear.__dict__["_tiled"]
    rows = {}
    for name, shape in SHAPES.items():
        assert tiled.linear_wins(*shape), name
        x, w, b = _arrays(*shape)
        meta = L.Meta((shape[0], shape[2]), np.dtype(np.float32))

        def blas_path():
            L.Linear._tiled = staticmethod(lambda *a: False)
            try:
                return L.linear.forward(meta, x, w, b)
            finally:
                L.Linear._tiled = rule

        fns = {"tiled": lambda: L.linear.forward(meta, x, w, b), "openblas": blas_path}
        rows[name] = alternate(fns, blocks, calls)
    return rows


def torch_times(blocks: int, calls: int) -> dict:
    import torch  # noqa: PLC0415  (only in the worker process)

    torch.set_num_threads(2)
    rows = {}
    with torch.no_grad():
        for name, shape in SHAPES.items():
            x, w, b = (torch.from_numpy(a) for a in _arrays(*shape))
            rows[name] = alternate(
                {"torch": lambda: torch.nn.functional.linear(x, w, b)}, blocks, calls
            )
    return rows


def main() -> None:
    columns = ["tiled", "openblas", "torch"]
    sidebyside.main(
        __file__, __doc__, "linear (us)", columns, minitorch_times, torch_times, calls=50
    )


if __name__ == "__main__":
    main()
