"""Image datasets with torchvision's names: Digits, MNIST, FashionMNIST, CIFAR10/100, FakeData.

Nothing is downloaded (this framework runs without network access): MNIST-style datasets read
the standard IDX files, CIFAR the standard python batches, from files you place yourself;
`download=True` only extracts an archive that is already there, and otherwise raises a
RuntimeError naming exactly which files to put where. Digits needs no files: it is the
1797 8x8 digits that scikit-learn ships.

Samples are `(image, target)`: the image a uint8 numpy array, (H, W) or (H, W, C), standing in
for torchvision's PIL image (so `transforms.ToTensor()` makes it a CHW float tensor), the target
an int.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ..functional import from_numpy
from ..random import Generator, rand, randint
from ..utils.data import Dataset
from .transforms import InterpolationMode, resize_array

__all__ = [
    "VisionDataset",
    "Digits",
    "MNIST",
    "FashionMNIST",
    "CIFAR10",
    "CIFAR100",
    "FakeData",
    "read_idx",
]


class VisionDataset(Dataset):
    """Base: root, transform, target_transform, and a readable repr."""

    def __init__(self, root=None, transform=None, target_transform=None) -> None:
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else None
        self.transform = transform
        self.target_transform = target_transform

    def _apply(self, img, target):
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        if hasattr(self, "train"):
            lines.append(f"    Split: {'Train' if self.train else 'Test'}")
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


# ---- Digits (scikit-learn) -------------------------------------------------------------------
class Digits(VisionDataset):
    """scikit-learn's 1797 handwritten digits (8x8, from UCI) as an MNIST-like dataset.

    The first 1437 images are the train split, the last 360 the test split (a fixed rule, so
    every run and every process sees the same split). Pixels 0..16 are scaled to uint8
    0..255; `upscale=True` resizes them (bilinear) to 28x28 like MNIST, `upscale=n` to n x n.

    Args:
        root: unused (the data ships with scikit-learn); kept for torchvision's signature.
        train: train split (1437 images) or test split (360).
        transform, target_transform: applied to the image / the int label.
        upscale: False (8x8), True (28x28) or an int size.

    Example:
        >>> ds = Digits(train=False, upscale=True)
        >>> img, label = ds[0]
        >>> len(ds), img.shape, img.dtype.name, type(label).__name__
        (360, (28, 28), 'uint8', 'int')
    """

    n_train = 1437
    classes = [str(i) for i in range(10)]

    def __init__(
        self,
        root=None,
        train: bool = True,
        transform=None,
        target_transform=None,
        upscale: bool | int = False,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        try:
            from sklearn.datasets import load_digits  # noqa: PLC0415
        except ImportError:
            raise ImportError(
                "Digits needs scikit-learn, which ships the 8x8 digit images: "
                "pip install 'minitorch[data]' (or pip install scikit-learn)"
            ) from None
        digits = load_digits()
        split = slice(None, self.n_train) if train else slice(self.n_train, None)
        images = digits.images[split] * (255.0 / 16.0)
        size = 28 if upscale is True else int(upscale or 8)
        if size != 8:
            images = resize_array(images, size, size, InterpolationMode.BILINEAR)
        self._images = np.clip(np.round(images), 0, 255).astype(np.uint8)
        self._targets = digits.target[split].astype(np.int64)
        self.data = from_numpy(self._images)
        self.targets = from_numpy(self._targets)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index: int):
        return self._apply(self._images[index], int(self._targets[index]))


# ---- MNIST-style IDX files -------------------------------------------------------------------
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (MNIST's format; gzipped or not) into a numpy array.

    Raises RuntimeError naming the file when it is truncated, corrupt or not IDX.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise RuntimeError(f"{path}: cannot read it as a (gzipped) IDX file: {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(
            f"{path}: not an IDX file (first bytes {raw[:4].hex() or 'none'}; "
            "expected 00 00 <type> <ndim>)"
        )
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise RuntimeError(f"{path}: truncated IDX header ({len(raw)} bytes)")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">i4", ndim, 4))
    start = 4 + 4 * ndim
    need = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != need:
        problem = "truncated" if len(raw) < need else "corrupt (extra bytes at the end)"
        raise RuntimeError(
            f"{path}: {problem}: the header says shape {shape} ({need} bytes), "
            f"the file has {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype, int(np.prod(shape, dtype=np.int64)), start)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(VisionDataset):
    """MNIST from its four IDX files, looked up in root/MNIST/raw, root/MNIST, then root.

    Files: train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    t10k-labels-idx1-ubyte, each optionally gzipped (.gz).

    Args:
        root: the folder that holds MNIST/raw (or the files themselves).
        train: the 60000-image train split or the 10000-image test split.
        transform, target_transform: applied to the (28, 28) uint8 image / the int label.
        download: there is no network here: raises a RuntimeError saying which files to place
            where, unless they are already there.
    """

    files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        image_file, label_file = (self._find(name, download) for name in self.files[train])
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise RuntimeError(
                f"{image_file}: expected uint8 images of shape (N, H, W), got "
                f"{images.dtype} {images.shape}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise RuntimeError(
                f"{label_file}: expected {len(images)} labels (one per image in "
                f"{image_file}), got shape {labels.shape}"
            )
        self._images = images
        self._targets = labels.astype(np.int64)
        self.data = from_numpy(self._images)
        self.targets = from_numpy(self._targets)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _folders(self) -> list[str]:
        return [self.raw_folder, os.path.join(self.root, type(self).__name__), self.root]

    def _find(self, name: str, download: bool) -> str:
        for folder in self._folders():
            for candidate in (name, name + ".gz"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        wanted = [n + ".gz" for pair in self.files.values() for n in pair]
        where = f"{type(self).__name__}: {name}[.gz] not found in {', '.join(self._folders())}."
        how = (
            f"Download these files elsewhere (e.g. from {self.mirror}) and place them, "
            f"gzipped or not, in {os.path.abspath(self.raw_folder)}: {', '.join(wanted)}."
        )
        if download:
            raise RuntimeError(
                f"{type(self).__name__}: download=True needs network access, "
                f"which this environment does not have. {how}"
            )
        raise RuntimeError(f"Dataset not found. {where} {how}")

    def __len__(self) -> int:
        return len(self._targets)

    def __getitem__(self, index: int):
        return self._apply(self._images[index], int(self._targets[index]))


class FashionMNIST(MNIST):
    """Fashion-MNIST: MNIST's file names and format, looked up under root/FashionMNIST/raw."""

    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


# ---- CIFAR python batches, read with a restricted unpickler ----------------------------------
def _no_object_dtype(*args):
    d = np.dtype(*args)
    if d.hasobject:
        raise pickle.UnpicklingError("object arrays are not allowed")
    return d


def _latin1_encode(text, encoding="latin1", errors="strict"):
    # How Python 3 pickles bytes at protocol 2: _codecs.encode(str, "latin1"). Only that.
    if encoding not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1", errors)


_SAFE_GLOBALS = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _no_object_dtype,
    ("_codecs", "encode"): _latin1_encode,
}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _SAFE_GLOBALS[(_module, "_reconstruct")] = np.zeros(1).__reduce__()[0]
    _SAFE_GLOBALS[(_module, "scalar")] = np.int64(0).__reduce__()[0]
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _SAFE_GLOBALS[(_module, "_frombuffer")] = np.zeros(1).__reduce_ex__(5)[0]


class _SafeUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, bytes, numbers and numpy arrays; no other globals."""

    def find_class(self, module: str, name: str):
        found = _SAFE_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: CIFAR batches hold only dicts, "
                "lists, strings, bytes, numbers and numpy arrays"
            )
        return found

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("persistent ids are not allowed")


def safe_load_pickle(path) -> object:
    """Load a CIFAR-style pickle without running code from it; RuntimeError if it is not one."""
    try:
        with open(path, "rb") as f:
            obj = _SafeUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise
    except Exception as e:  # any unpickling failure: truncated, corrupt, or not allowed
        raise RuntimeError(f"{path}: not a valid CIFAR python batch: {e}") from None
    return obj


def _field(entry, *names):
    for name in names:
        for key in (name, name.encode()):
            if isinstance(entry, dict) and key in entry:
                return entry[key]
    return None


class CIFAR10(VisionDataset):
    """CIFAR-10 from the python batches in root/cifar-10-batches-py (or root itself).

    Files: data_batch_1 .. data_batch_5, test_batch and (optionally) batches.meta, as in
    cifar-10-python.tar.gz. They are read with a restricted unpickler that builds only dicts,
    lists, strings, bytes, numbers and numpy arrays: a file naming any other global is refused.
    With `download=True` an archive already in root is extracted (nothing is fetched).

    Samples: a (32, 32, 3) uint8 image and an int label.
    """

    base_folder = "cifar-10-batches-py"
    archive = "cifar-10-python.tar.gz"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = ("batches.meta", "label_names")
    label_key = "labels"
    classes = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]

    def __init__(
        self,
        root,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        folder = self._folder(download)
        images, targets = [], []
        for name in self.train_list if train else self.test_list:
            path = os.path.join(folder, name)
            entry = safe_load_pickle(path)
            data, labels = _field(entry, "data"), _field(entry, self.label_key)
            if (
                not isinstance(data, np.ndarray)
                or data.dtype != np.uint8
                or data.ndim != 2
                or data.shape[1] != 3072
                or labels is None
                or len(labels) != len(data)
            ):
                raise RuntimeError(
                    f"{path}: expected a dict with 'data' (uint8, N x 3072) and "
                    f"'{self.label_key}' (N ints)"
                )
            images.append(data.reshape(-1, 3, 32, 32))
            targets.extend(int(t) for t in labels)
        self.data = np.ascontiguousarray(np.concatenate(images).transpose(0, 2, 3, 1))
        self.targets = targets
        meta_path = os.path.join(folder, self.meta[0])
        if os.path.isfile(meta_path):
            names = _field(safe_load_pickle(meta_path), self.meta[1])
            if names is not None:
                self.classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _folder(self, download: bool) -> str:
        needed = self.train_list + self.test_list
        candidates = [os.path.join(self.root, self.base_folder), self.root]
        for folder in candidates:
            if all(os.path.isfile(os.path.join(folder, n)) for n in needed):
                return folder
        archive = os.path.join(self.root, self.archive)
        if download and os.path.isfile(archive):
            _extract(archive, self.root)
            return self._folder(download=False)
        how = (
            f"Download {self.url} elsewhere and either place it in "
            f"{os.path.abspath(self.root)} (download=True extracts it), or extract it there "
            f"so that {os.path.abspath(candidates[0])} holds {', '.join(needed)}."
        )
        if download:
            raise RuntimeError(
                f"{type(self).__name__}: download=True needs network access, "
                f"which this environment does not have. {how}"
            )
        raise RuntimeError(f"Dataset not found or incomplete in {candidates[0]}. {how}")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self._apply(self.data[index], self.targets[index])


class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from root/cifar-100-python: files train, test and meta."""

    base_folder = "cifar-100-python"
    archive = "cifar-100-python.tar.gz"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    train_list = ["train"]
    test_list = ["test"]
    meta = ("meta", "fine_label_names")
    label_key = "fine_labels"
    classes = [str(i) for i in range(100)]


def _extract(archive: str, dest: str) -> None:
    """Extract a tar archive, refusing members that would land outside dest."""
    dest_path = Path(dest).resolve()
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                target = (dest_path / member.name).resolve()
                if dest_path not in target.parents and target != dest_path:
                    raise RuntimeError(
                        f"{archive}: member {member.name!r} would be written outside {dest}"
                    )
                if not (member.isfile() or member.isdir()):
                    raise RuntimeError(f"{archive}: member {member.name!r} is not a plain file")
            tar.extractall(dest_path)  # members checked above: no escapes, no links
    except (tarfile.TarError, EOFError, OSError) as e:
        raise RuntimeError(f"{archive}: cannot extract it: {e}") from None


# ---- FakeData ---------------------------------------------------------------------------------
class FakeData(VisionDataset):
    """Random uint8 images and labels, the same for the same index (for tests and benchmarks).

    Args:
        size: number of samples.
        image_size: (C, H, W); images come as (H, W, C) uint8 arrays ((H, W) when C == 1).
        num_classes: labels are in [0, num_classes).
        random_offset: shifts the per-index seeds (a different fake dataset).
    """

    def __init__(
        self,
        size: int = 1000,
        image_size=(3, 224, 224),
        num_classes: int = 10,
        transform=None,
        target_transform=None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(None, transform, target_transform)
        self.size = size
        self.image_size = tuple(image_size)
        self.num_classes = num_classes
        self.random_offset = random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        index %= self.size
        g = Generator().manual_seed(index + self.random_offset)
        pixels = rand(*self.image_size, generator=g).numpy()
        img = np.minimum(pixels * 256, 255).astype(np.uint8)
        img = img[0] if img.shape[0] == 1 else np.ascontiguousarray(np.moveaxis(img, 0, -1))
        target = int(randint(0, self.num_classes, (1,), generator=g).item())
        return self._apply(img, target)
