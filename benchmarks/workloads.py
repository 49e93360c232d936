"""Training workloads written once against the PyTorch API, run on minitorch or torch.

Each builder takes the library module (`minitorch` or `torch`) and returns a `step()` closure
doing one training step (zero_grad, forward, loss, backward, optimizer.step) on fixed data.
The same code on both libraries is the point: it is what `import minitorch as torch` promises.
"""

from __future__ import annotations

import numpy as np


def _data(lib, *shape, classes=None, seed=0):
    rng = np.random.default_rng(seed)
    if classes is not None:
        return lib.from_numpy(rng.integers(0, classes, size=shape).astype(np.int64))
    return lib.from_numpy(rng.standard_normal(shape).astype(np.float32))


def mlp(lib):
    """784-512-256-10 MLP with dropout 0.2, batch 64, Adam, cross-entropy."""
    nn = lib.nn
    model = nn.Sequential(
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(256, 10),
    )
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(lib, 64, 784), _data(lib, 64, classes=10)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


class _LeNetSpec:
    """LeNet layer sizes for 1x28x28 (lenet) or 3x32x32 (cifar_cnn) inputs."""

    def __init__(self, channels, side, c1, c2, hidden):
        self.channels, self.side, self.c1, self.c2, self.hidden = channels, side, c1, c2, hidden


def _lenet(lib, spec: _LeNetSpec, batch: int):
    nn = lib.nn
    F = lib.nn.functional
    side = ((spec.side - 4) // 2 - 4) // 2  # two (5x5 valid conv, 2x2 pool) stages
    flat = spec.c2 * side * side

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(spec.channels, spec.c1, kernel_size=5)
            self.conv2 = nn.Conv2d(spec.c1, spec.c2, kernel_size=5)
            self.drop = nn.Dropout2d(0.25)
            self.fc1 = nn.Linear(flat, spec.hidden)
            self.fc2 = nn.Linear(spec.hidden, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.drop(self.conv2(x)), 2))
            x = x.flatten(1)
            return self.fc2(F.relu(self.fc1(x)))

    model = LeNet()
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = _data(lib, batch, spec.channels, spec.side, spec.side)
    y = _data(lib, batch, classes=10)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def lenet(lib):
    """LeNet (conv 1-10-20, fc 320-50-10), batch 64, SGD momentum."""
    return _lenet(lib, _LeNetSpec(1, 28, 10, 20, 50), 64)


def cifar_cnn(lib):
    """LeNet for 3x32x32 (conv 3-6-16, fc 400-120-10), batch 100, SGD momentum."""
    return _lenet(lib, _LeNetSpec(3, 32, 6, 16, 120), 100)


def gru(lib):
    """GRU sequence model: seq 32, batch 32, input 28, hidden 100, explicit h0, Adam."""
    nn = lib.nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(28, 100, batch_first=True)
            self.head = nn.Linear(100, 10)

        def forward(self, x, h0):
            out, h = self.gru(x, h0)
            return self.head(out[:, -1])

    model = Model()
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(lib, 32, 32, 28), _data(lib, 32, classes=10)
    h0 = lib.zeros(1, 32, 100)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x, h0), y)
        loss.backward()
        opt.step()
        return loss

    return step


def transformer(lib):
    """Pre-norm transformer encoder block: batch 8, seq 64, dim 128, 4 heads, AdamW."""
    nn = lib.nn
    block = nn.TransformerEncoderLayer(
        128, 4, dim_feedforward=512, dropout=0.1, batch_first=True, norm_first=True
    )
    opt = lib.optim.AdamW(block.parameters(), lr=1e-3)
    x, target = _data(lib, 8, 64, 128), _data(lib, 8, 64, 128, seed=1)

    def step():
        opt.zero_grad()
        loss = ((block(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


WORKLOADS = {
    "mlp": mlp,
    "lenet": lenet,
    "cifar_cnn": cifar_cnn,
    "gru": gru,
    "transformer": transformer,
}
