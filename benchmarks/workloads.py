"""Workloads written once against the PyTorch API, run on minitorch or torch.

Each builder takes the library module (`minitorch` or `torch`) and a device ("cpu" or "cuda":
the model and data are moved there, as a PyTorch script does) and returns a `step()` closure
on fixed data. Training builders do one training step (zero_grad, forward, loss, backward,
optimizer.step) and return the loss; the `*_infer` builders run the same model in eval mode
under `no_grad()` and return the logits. The same code on both libraries is the point: it is
what `import minitorch as torch` promises.
"""

from __future__ import annotations

import numpy as np


def _data(lib, *shape, classes=None, seed=0, device="cpu"):
    rng = np.random.default_rng(seed)
    if classes is not None:
        return lib.from_numpy(rng.integers(0, classes, size=shape).astype(np.int64)).to(device)
    return lib.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(device)


def _inference(lib, model, x):
    """step() = logits of `model` on `x`, in eval mode and without autograd."""
    model.eval()

    def step():
        with lib.no_grad():
            return model(x)

    return step


def _mlp_model(lib):
    """784-512-256-10 MLP with dropout 0.2."""
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(784, 512),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(512, 256),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(256, 10),
    )


def mlp(lib, device="cpu"):
    """784-512-256-10 MLP with dropout 0.2, batch 64, Adam, cross-entropy."""
    model = _mlp_model(lib).to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = lib.nn.CrossEntropyLoss()
    x, y = _data(lib, 64, 784, device=device), _data(lib, 64, classes=10, device=device)

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


def _lenet_model(lib, spec: _LeNetSpec):
    """Two (5x5 conv, 2x2 max pool, ReLU) stages with Dropout2d, then two linear layers."""
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

    return LeNet()


def _lenet(lib, spec: _LeNetSpec, batch: int, device: str):
    F = lib.nn.functional
    model = _lenet_model(lib, spec).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = _data(lib, batch, spec.channels, spec.side, spec.side, device=device)
    y = _data(lib, batch, classes=10, device=device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


_MNIST_LENET = _LeNetSpec(1, 28, 10, 20, 50)


def lenet(lib, device="cpu"):
    """LeNet (conv 1-10-20, fc 320-50-10), batch 64, SGD momentum."""
    return _lenet(lib, _MNIST_LENET, 64, device)


def cifar_cnn(lib, device="cpu"):
    """LeNet for 3x32x32 (conv 3-6-16, fc 400-120-10), batch 100, SGD momentum."""
    return _lenet(lib, _LeNetSpec(3, 32, 6, 16, 120), 100, device)


def gru(lib, device="cpu"):
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

    model = Model().to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = _data(lib, 32, 32, 28, device=device), _data(lib, 32, classes=10, device=device)
    h0 = lib.zeros(1, 32, 100, device=device)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x, h0), y)
        loss.backward()
        opt.step()
        return loss

    return step


def transformer(lib, device="cpu"):
    """Pre-norm transformer encoder block: batch 8, seq 64, dim 128, 4 heads, AdamW."""
    nn = lib.nn
    block = nn.TransformerEncoderLayer(
        128, 4, dim_feedforward=512, dropout=0.1, batch_first=True, norm_first=True
    ).to(device)
    opt = lib.optim.AdamW(block.parameters(), lr=1e-3)
    x = _data(lib, 8, 64, 128, device=device)
    target = _data(lib, 8, 64, 128, seed=1, device=device)

    def step():
        opt.zero_grad()
        loss = ((block(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step


def linreg(lib, device="cpu"):
    """Linear regression: nn.Linear(5, 1) on 100 samples, Adam, MSE loss."""
    model = lib.nn.Linear(5, 1).to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    x = _data(lib, 100, 5, device=device)
    true_w = lib.from_numpy(np.arange(1, 6, dtype=np.float32).reshape(5, 1)).to(device)
    y = x @ true_w + 0.1 * _data(lib, 100, 1, seed=1, device=device)

    def step():
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _qnet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Linear(4, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2)
    )


def dqn(lib, device="cpu", batch: int = 64, gamma: float = 0.99):
    """DQN update: Q-net 4-128-128-2, target net under no_grad, batch 64, Adam, smooth L1."""
    qnet, target = _qnet(lib).to(device), _qnet(lib).to(device)
    target.load_state_dict(qnet.state_dict())
    opt = lib.optim.Adam(qnet.parameters(), lr=1e-3)
    states = _data(lib, batch, 4, seed=1, device=device)
    next_states = _data(lib, batch, 4, seed=2, device=device)
    actions = _data(lib, batch, classes=2, seed=3, device=device)
    rewards = _data(lib, batch, seed=4, device=device)
    # about 16% of the transitions are terminal
    dones = (_data(lib, batch, seed=5, device=device) > 1.0).float()

    def step():
        opt.zero_grad()
        with lib.no_grad():
            next_q = target(next_states).max(1)[0]  # [0]: values of the (values, indices) pair
            y = rewards + gamma * next_q * (1 - dones)
        q = qnet(states).gather(1, actions.unsqueeze(1)).squeeze(1)
        loss = lib.nn.functional.smooth_l1_loss(q, y)
        loss.backward()
        opt.step()
        return loss

    return step


def mlp_infer(lib, device="cpu"):
    """Inference of the mlp workload's model (eval mode, no_grad), batch 64; returns logits."""
    model = _mlp_model(lib).to(device)
    return _inference(lib, model, _data(lib, 64, 784, device=device))


def lenet_infer(lib, device="cpu"):
    """Inference of the lenet workload's model (eval mode, no_grad), batch 64; returns logits."""
    model = _lenet_model(lib, _MNIST_LENET).to(device)
    return _inference(lib, model, _data(lib, 64, 1, 28, 28, device=device))


# Training steps (return the loss), then inference steps (return the logits).
WORKLOADS = {
    "mlp": mlp,
    "lenet": lenet,
    "cifar_cnn": cifar_cnn,
    "gru": gru,
    "transformer": transformer,
    "linreg": linreg,
    "dqn": dqn,
    "mlp_infer": mlp_infer,
    "lenet_infer": lenet_infer,
}
