"""minitorch.vision: transforms, Digits, MNIST/FashionMNIST IDX files, CIFAR batches, FakeData.

The MNIST and CIFAR readers run on small files the tests write (there is no network).
torch is imported inside tests, after minitorch (numba must load LLVM first).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest

import minitorch
from minitorch.utils.data import DataLoader
from minitorch.vision import datasets
from minitorch.vision import transforms as T
from minitorch.vision.datasets import read_idx


def _image(h=6, w=5, c=3, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


# ---- transforms -----------------------------------------------------------------------------
def test_to_tensor_and_normalize():
    img = _image()
    t = T.ToTensor()(img)
    assert t.shape == (3, 6, 5) and t.dtype == minitorch.float32
    np.testing.assert_allclose(t.numpy(), img.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(img[:, :, 0])
    assert gray.shape == (1, 6, 5)
    floats = T.ToTensor()(np.full((2, 2), 7.0, np.float32))
    assert floats.tolist() == [[[7.0, 7.0], [7.0, 7.0]]]  # only uint8 is scaled
    mean, std = (0.5, 0.25, 0.1), (0.2, 0.3, 0.4)
    out = T.Normalize(mean, std)(t)
    expected = (t.numpy() - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    x = t.clone().requires_grad_(True)  # the op path: differentiable
    T.Normalize(mean, std)(x).sum().backward()
    np.testing.assert_allclose(
        x.grad.numpy(), np.broadcast_to(1 / np.array(std)[:, None, None], x.shape), rtol=1e-6
    )
    same = t.clone()
    assert T.Normalize(mean, std, inplace=True)(same) is same
    np.testing.assert_allclose(same.numpy(), expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="3 mean and 3 std values for an image with 1 channels"):
        T.Normalize(mean, std)(gray)
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(t)
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional"):
        T.ToTensor()(np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(gray)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.0,), (1.0,))(minitorch.zeros(1, 2, 2, dtype=minitorch.int64))


def test_compose_and_lambda():
    tf = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize((1.0,), (1.0,))])
    out = tf(np.full((2, 3), 255, np.uint8))
    assert out.shape == (1, 2, 3) and out.tolist() == [[[1.0] * 3] * 2]
    assert "Lambda()" in repr(tf) and "ToTensor()" in repr(tf)
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_random_horizontal_flip():
    img = _image()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(img), img)
    t = T.ToTensor()(img)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(t).numpy(), t.numpy()[..., ::-1])
    minitorch.manual_seed(0)
    flips = [T.RandomHorizontalFlip()(img)[0, 0, 0] != img[0, 0, 0] for _ in range(200)]
    assert 60 < sum(flips) < 140  # about half of them


def test_random_crop_is_a_window_and_seeded():
    img = _image(10, 9)
    crop = T.RandomCrop((4, 5))
    minitorch.manual_seed(3)
    first = [crop(img) for _ in range(5)]
    minitorch.manual_seed(3)
    second = [crop(img) for _ in range(5)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
        assert a.shape == (4, 5, 3)
        windows = [img[i : i + 4, j : j + 5] for i in range(7) for j in range(5)]
        assert any(np.array_equal(a, w) for w in windows)
    t = T.ToTensor()(img)
    out = T.RandomCrop(4, padding=2)(t)
    assert out.shape == (3, 4, 4)
    padded = T.RandomCrop((14, 13), padding=2)(img)  # the whole padded image: zero border
    assert padded.shape == (14, 13, 3) and padded[:2].sum() == 0 and padded[:, :2].sum() == 0
    np.testing.assert_array_equal(padded[2:-2, 2:-2], img)
    assert T.RandomCrop(12, pad_if_needed=True)(img).shape == (12, 12, 3)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(11)(img)


def test_resize_matches_torch_interpolate():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    x = np.random.default_rng(1).standard_normal((2, 3, 12, 10)).astype(np.float32)
    cases = [((7, 5), True), ((7, 5), False), ((20, 17), True), ((5, 14), False)]
    for size, antialias in cases:
        ours = T.Resize(size, antialias=antialias)(minitorch.from_numpy(x))
        theirs = F.interpolate(
            torch.from_numpy(x),
            size=size,
            mode="bilinear",
            align_corners=False,
            antialias=antialias,
        )
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)
    ours = T.Resize((7, 4), interpolation=T.InterpolationMode.NEAREST)(minitorch.from_numpy(x))
    theirs = F.interpolate(torch.from_numpy(x), size=(7, 4), mode="nearest")
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_resize_arrays_and_int_size():
    img = _image(8, 16)
    out = T.Resize(4)(img)  # the shorter edge becomes 4, the aspect ratio is kept
    assert out.shape == (4, 8, 3) and out.dtype == np.uint8
    flat = np.full((8, 8), 200, np.uint8)
    assert T.Resize((28, 28))(flat).shape == (28, 28) and (T.Resize(28)(flat) == 200).all()
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize("big")


# ---- Digits, FakeData -------------------------------------------------------------------------
def test_digits_splits_and_upscale():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)
    img, label = train[0]
    assert img.shape == (8, 8) and img.dtype == np.uint8 and type(label) is int
    raw = load_digits()
    np.testing.assert_array_equal(img, np.round(raw.images[0] * 255 / 16).astype(np.uint8))
    assert test[0][1] == raw.target[1437] and train.targets.shape == (1437,)
    big = datasets.Digits(train=False, upscale=True, transform=T.ToTensor())
    x, y = big[5]
    assert x.shape == (1, 28, 28) and 0.0 <= x.min().item() and x.max().item() <= 1.0
    assert y == raw.target[1437 + 5]
    assert datasets.Digits(train=False, upscale=16)[0][0].shape == (16, 16)
    xb, yb = next(iter(DataLoader(big, batch_size=32)))
    assert xb.shape == (32, 1, 28, 28) and yb.dtype == minitorch.int64
    loader = DataLoader(big, batch_size=100, shuffle=True, num_workers=2, timeout=60)
    labels = sorted(int(v) for _, y in loader for v in y.tolist())
    assert labels == sorted(raw.target[1437:].tolist())


def test_fake_data():
    ds = datasets.FakeData(size=6, image_size=(3, 5, 4), num_classes=3)
    img, label = ds[2]
    assert img.shape == (5, 4, 3) and img.dtype == np.uint8 and 0 <= label < 3
    np.testing.assert_array_equal(ds[2][0], img)  # the same sample for the same index
    assert not np.array_equal(ds[3][0], img) and len(ds) == 6
    assert datasets.FakeData(2, (1, 7, 7))[0][0].shape == (7, 7)
    with pytest.raises(IndexError):
        ds[6]


# ---- MNIST IDX --------------------------------------------------------------------------------
def _write_idx(path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if gz:
        raw = gzip.compress(raw)
    path.write_bytes(raw)


def _write_mnist(folder, n_train=5, n_test=3, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        _write_idx(folder / f"{split}-images-idx3-ubyte{suffix}", images, gz=gz)
        _write_idx(folder / f"{split}-labels-idx1-ubyte{suffix}", labels, gz=gz)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    written = _write_mnist(tmp_path / "MNIST" / "raw", gz=gz)
    train = datasets.MNIST(tmp_path, train=True)
    test = datasets.MNIST(str(tmp_path), train=False, transform=T.ToTensor())
    assert (len(train), len(test)) == (5, 3)
    img, label = train[4]
    np.testing.assert_array_equal(img, written["train"][0][4])
    assert label == int(written["train"][1][4]) and type(label) is int
    x, y = test[1]
    assert x.shape == (1, 28, 28)
    np.testing.assert_allclose(x.numpy()[0], written["t10k"][0][1] / 255.0, rtol=1e-6)
    assert train.targets.dtype == minitorch.int64 and train.data.shape == (5, 28, 28)


def test_fashion_mnist_and_other_layouts(tmp_path):
    _write_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    ds = datasets.FashionMNIST(tmp_path)
    assert len(ds) == 5 and ds.classes[9] == "Ankle boot"
    _write_mnist(tmp_path / "flat")  # the files straight in root also work
    assert len(datasets.MNIST(tmp_path / "flat", train=False)) == 3


def test_read_idx_dtypes_and_bad_files(tmp_path):
    ints = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    _write_idx(tmp_path / "i.idx", ints, code=0x0C)
    np.testing.assert_array_equal(read_idx(tmp_path / "i.idx"), ints)
    floats = np.linspace(0, 1, 5).astype(np.float64)
    _write_idx(tmp_path / "f.idx", floats, code=0x0E, gz=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), floats)
    good = (tmp_path / "i.idx").read_bytes()
    bad = {
        "truncated": good[:-3],
        "extra": good + b"\x00",
        "header": good[:6],
        "foreign": b"PNG......",
        "badgz": b"\x1f\x8b" + b"\x00" * 10,
    }
    messages = {
        "truncated": "truncated",
        "extra": "extra bytes",
        "header": "truncated IDX header",
        "foreign": "not an IDX file",
        "badgz": "cannot read it as a",
    }
    for name, blob in bad.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(RuntimeError, match=messages[name]):
            read_idx(tmp_path / name)


def test_mnist_missing_files_and_download(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found") as info:
        datasets.MNIST(tmp_path)
    assert os.path.join(str(tmp_path), "MNIST", "raw") in str(info.value)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    with pytest.raises(RuntimeError, match="download=True needs network access") as info:
        datasets.MNIST(tmp_path, download=True)
    assert os.path.join(str(tmp_path), "MNIST", "raw") in str(info.value)
    folder = tmp_path / "MNIST" / "raw"
    _write_mnist(folder)
    _write_idx(folder / "train-labels-idx1-ubyte", np.zeros(4, np.uint8))  # 5 images, 4 labels
    with pytest.raises(RuntimeError, match="expected 5 labels"):
        datasets.MNIST(tmp_path)
    assert len(datasets.MNIST(tmp_path, train=False, download=True)) == 3  # files there: fine


# ---- CIFAR10 ----------------------------------------------------------------------------------
def _write_cifar(folder, per_batch=4, bytes_keys=True, protocol=2):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    key = (lambda s: s.encode()) if bytes_keys else (lambda s: s)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        entry = {
            key("batch_label"): key(name),
            key("labels"): labels,
            key("data"): data,
            key("filenames"): [key(f"img{i}.png") for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(entry, protocol=protocol))
        batches[name] = (data, labels)
    names = [
        key(c)
        for c in ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    ]
    meta = {key("label_names"): names, key("num_cases_per_batch"): per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=protocol))
    return batches


@pytest.mark.parametrize("bytes_keys,protocol", [(True, 2), (False, 4)])
def test_cifar10_reads_python_batches(tmp_path, bytes_keys, protocol):
    batches = _write_cifar(
        tmp_path / "cifar-10-batches-py", bytes_keys=bytes_keys, protocol=protocol
    )
    train = datasets.CIFAR10(tmp_path, train=True)
    test = datasets.CIFAR10(tmp_path, train=False, transform=T.ToTensor())
    assert (len(train), len(test)) == (20, 4)
    img, label = train[5]  # the second image of data_batch_2
    data, labels = batches["data_batch_2"]
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8 and label == labels[1]
    # a row is 1024 red, 1024 green, 1024 blue values, each 32x32 row-major
    np.testing.assert_array_equal(img[:, :, 1], data[1, 1024:2048].reshape(32, 32))
    x, _ = test[0]
    assert x.shape == (3, 32, 32)
    assert train.classes[1] == "car" and train.class_to_idx["truck"] == 9


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch EVIL_MARKER",))


def test_cifar10_refuses_code_in_pickles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": _Evil(), "labels": [1]}))
    with pytest.raises(RuntimeError, match="refusing to load global posix.system"):
        datasets.CIFAR10(tmp_path, train=True)
    assert not (tmp_path / "EVIL_MARKER").exists()
    objects = np.array([1, "x"], dtype=object)  # object arrays could hide pickled objects too
    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": objects, "labels": [1]}))
    with pytest.raises(RuntimeError, match="not a valid CIFAR python batch"):
        datasets.CIFAR10(tmp_path, train=True)
    (folder / "data_batch_3").write_bytes(
        pickle.dumps({"data": np.zeros((2, 5), np.uint8), "labels": [1, 2]})
    )
    with pytest.raises(RuntimeError, match=r"expected a dict with 'data' \(uint8, N x 3072\)"):
        datasets.CIFAR10(tmp_path, train=True)
    (folder / "data_batch_3").write_bytes(b"\x80\x02}q\x00(X")  # truncated
    with pytest.raises(RuntimeError, match="data_batch_3: not a valid CIFAR python batch"):
        datasets.CIFAR10(tmp_path, train=True)


def test_cifar10_missing_files_and_download(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or incomplete") as info:
        datasets.CIFAR10(tmp_path)
    assert "cifar-10-batches-py" in str(info.value) and "data_batch_1" in str(info.value)
    with pytest.raises(RuntimeError, match="download=True needs network access") as info:
        datasets.CIFAR10(tmp_path, download=True)
    assert "cifar-10-python.tar.gz" in str(info.value) and str(tmp_path) in str(info.value)
