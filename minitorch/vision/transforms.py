"""Image transforms with torchvision's names and semantics.

Images are minitorch Tensors shaped (..., C, H, W), or numpy arrays shaped (H, W, C) or
(H, W) standing in for PIL images (what the datasets here return before ToTensor).
Geometric transforms accept both and return the same kind; random ones draw from
minitorch's default generator, so `minitorch.manual_seed` (and each DataLoader worker's
own seed) makes them reproducible.

    tf = transforms.Compose([transforms.RandomCrop(32, padding=4),
                             transforms.RandomHorizontalFlip(),
                             transforms.ToTensor(),
                             transforms.Normalize((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))])
"""

from __future__ import annotations

import numbers
from enum import Enum

import numpy as np

from .. import dtypes
from ..functional import from_numpy
from ..random import rand, randint
from ..tensor import Tensor

__all__ = [
    "Compose",
    "ToTensor",
    "Normalize",
    "RandomCrop",
    "CenterCrop",
    "Pad",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "Resize",
    "Lambda",
    "InterpolationMode",
]


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


class Compose:
    """Apply transforms one after another.

    Example:
        >>> import numpy as np
        >>> tf = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
        >>> tf(np.full((2, 2), 255, np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __init__(self, transforms) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({inner}\n)"


class ToTensor:
    """HWC (or HW) numpy array / PIL image -> CHW tensor; uint8 is scaled to float in [0, 1].

    Other dtypes keep their values (as torchvision does).
    """

    def __call__(self, pic) -> Tensor:
        if isinstance(pic, Tensor) or not (
            isinstance(pic, np.ndarray) or hasattr(pic, "__array_interface__")
        ):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        arr = np.asarray(pic)
        if arr.ndim not in (2, 3):
            raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
        if arr.ndim == 2:
            arr = arr[:, :, None]
        chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
        if chw.dtype == np.uint8:
            out_dtype = dtypes.get_default_dtype().np
            return from_numpy(np.divide(chw, out_dtype.type(255), dtype=out_dtype))
        return from_numpy(chw)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """(tensor - mean[c]) / std[c] per channel of a (..., C, H, W) float tensor.

    A tensor that requires grad goes through minitorch ops (so the result is differentiable);
    any other tensor is normalised with one numpy expression, because a transform runs once
    per sample and op dispatch would cost more than the arithmetic.
    """

    def __init__(self, mean, std, inplace: bool = False) -> None:
        self.mean = mean
        self.std = std
        self.inplace = inplace
        self._stats: dict = {}  # numpy dtype -> (mean, std) arrays shaped (C, 1, 1)

    def __call__(self, t: Tensor) -> Tensor:
        if not isinstance(t, Tensor):
            raise TypeError(f"img should be Tensor Image. Got {type(t)}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"Input tensor should be a float tensor. Got {t.dtype}.")
        if t.ndim < 3:
            raise ValueError(
                "Expected tensor to be a tensor image of size (..., C, H, W). Got "
                f"tensor.size() = {tuple(t.shape)}"
            )
        mean, std = self._stats_for(t)
        if t.requires_grad or self.inplace:
            mean, std = from_numpy(mean), from_numpy(std)
            return t.sub_(mean).div_(std) if self.inplace else (t - mean) / std
        return from_numpy((np.asarray(t) - mean) / std)

    def _stats_for(self, t: Tensor) -> tuple[np.ndarray, np.ndarray]:
        np_dtype = np.asarray(t).dtype
        if np_dtype not in self._stats:
            mean = np.asarray(_as_list(self.mean), np_dtype).reshape(-1, 1, 1)
            std = np.asarray(_as_list(self.std), np_dtype).reshape(-1, 1, 1)
            if (std == 0).any():
                raise ValueError(
                    f"std evaluated to zero after conversion to {t.dtype}, leading to division "
                    "by zero."
                )
            self._stats[np_dtype] = mean, std
        mean, std = self._stats[np_dtype]
        channels = t.shape[-3]
        if max(len(mean), len(std)) not in (1, channels):
            raise RuntimeError(
                f"Normalize: {len(mean)} mean and {len(std)} std values for an image with "
                f"{channels} channels (shape {tuple(t.shape)}); give one value or one per channel."
            )
        return mean, std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


# ---- geometry -------------------------------------------------------------------------------
class Pad:
    """Pad the borders: padding int (all sides), (left/right, top/bottom) or (l, t, r, b).

    padding_mode: "constant" (with `fill`), "edge", "reflect" or "symmetric".
    """

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        _check_padding(padding, padding_mode)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return _pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop:
    """Crop a random (h, w) window, after optional padding (see Pad).

    Args:
        size: int (square) or (h, w).
        padding: padded onto the borders first.
        pad_if_needed: pad when the image is smaller than size.
        fill, padding_mode: as in Pad.
    """

    def __init__(
        self,
        size,
        padding=None,
        pad_if_needed: bool = False,
        fill=0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = _setup_size(size)
        if padding is not None:
            _check_padding(padding, padding_mode)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a random crop of output_size."""
        h, w = _image_size(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(
                f"Required crop size {(th, tw)} is larger than input image size {(h, w)}"
            )
        if (h, w) == (th, tw):
            return 0, 0, h, w
        i = int(randint(0, h - th + 1, size=(1,)).item())
        j = int(randint(0, w - tw + 1, size=(1,)).item())
        return i, j, th, tw

    def __call__(self, img):
        if self.padding is not None:
            img = _pad(img, self.padding, self.fill, self.padding_mode)
        h, w = _image_size(img)
        th, tw = self.size
        if self.pad_if_needed and w < tw:
            img = _pad(img, [tw - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            img = _pad(img, [0, th - h], self.fill, self.padding_mode)
        i, j, ch, cw = self.get_params(img, self.size)
        return _crop(img, i, j, ch, cw)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Crop the central (h, w) window (padding with zeros when the image is smaller)."""

    def __init__(self, size) -> None:
        self.size = _setup_size(size)

    def __call__(self, img):
        h, w = _image_size(img)
        th, tw = self.size
        if th > h or tw > w:
            pad = [
                (tw - w) // 2 if tw > w else 0,
                (th - h) // 2 if th > h else 0,
                (tw - w + 1) // 2 if tw > w else 0,
                (th - h + 1) // 2 if th > h else 0,
            ]
            img = _pad(img, pad, 0, "constant")
            h, w = _image_size(img)
            if (h, w) == (th, tw):
                return img
        return _crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


class RandomHorizontalFlip:
    """Mirror left-right with probability p."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        if rand(1).item() < self.p:
            return _flip(img, horizontal=True)
        return img

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom with probability p."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img):
        if rand(1).item() < self.p:
            return _flip(img, horizontal=False)
        return img


class Resize:
    """Resize to size: (h, w), or an int that the shorter edge is matched to (aspect kept).

    Args:
        size: (h, w) or int.
        interpolation: InterpolationMode.BILINEAR (default), NEAREST or NEAREST_EXACT.
        max_size: with an int size, cap the longer edge.
        antialias: low-pass filter when downsampling with bilinear (torchvision's default).

    Matches `torch.nn.functional.interpolate(..., align_corners=False, antialias=...)`;
    integer images are rounded and clipped back to their dtype.
    """

    def __init__(
        self,
        size,
        interpolation=InterpolationMode.BILINEAR,
        max_size=None,
        antialias: bool | None = True,
    ) -> None:
        if isinstance(size, int):
            size = [size]
        if not isinstance(size, (list, tuple)) or len(size) not in (1, 2):
            raise TypeError(f"Size should be int or sequence of one or two ints. Got {size!r}")
        self.size = list(size)
        self.interpolation = InterpolationMode(interpolation)
        if self.interpolation is InterpolationMode.BICUBIC:
            raise ValueError(
                "Resize: bicubic interpolation is not implemented; use "
                "InterpolationMode.BILINEAR or NEAREST"
            )
        if max_size is not None and len(self.size) != 1:
            raise ValueError(
                "max_size should only be passed if size specifies the length of "
                f"the smaller edge, i.e. size should be an int; got size={size}"
            )
        self.max_size = max_size
        self.antialias = bool(antialias)

    def __call__(self, img):
        h, w = _image_size(img)
        oh, ow = _resized_size(h, w, self.size, self.max_size)
        if (oh, ow) == (h, w):
            return img
        if isinstance(img, Tensor):
            return from_numpy(
                resize_array(np.asarray(img), oh, ow, self.interpolation, self.antialias)
            )
        chw = np.asarray(img)[None] if np.ndim(img) == 2 else np.moveaxis(np.asarray(img), 2, 0)
        out = resize_array(chw, oh, ow, self.interpolation, self.antialias)
        return out[0] if np.ndim(img) == 2 else np.ascontiguousarray(np.moveaxis(out, 0, 2))

    def __repr__(self) -> str:
        return f"Resize(size={self.size}, interpolation={self.interpolation.value})"


def resize_array(
    x: np.ndarray, oh: int, ow: int, mode=InterpolationMode.BILINEAR, antialias: bool = True
) -> np.ndarray:
    """Resize the last two dims of x to (oh, ow); the dtype is kept (integers rounded)."""
    mode = InterpolationMode(mode)
    h, w = x.shape[-2:]
    work = x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        exact = mode is InterpolationMode.NEAREST_EXACT
        out = work[..., _nearest_index(h, oh, exact)[:, None], _nearest_index(w, ow, exact)]
    else:
        wh = _linear_weights(h, oh, antialias).astype(work.dtype)
        ww = _linear_weights(w, ow, antialias).astype(work.dtype)
        out = wh @ work @ ww.T
    if out.dtype != x.dtype:
        info = np.iinfo(x.dtype) if x.dtype.kind in "iu" else None
        out = np.round(out)
        if info is not None:
            out = np.clip(out, info.min, info.max)
        out = out.astype(x.dtype)
    return np.ascontiguousarray(out)


def _nearest_index(n_in: int, n_out: int, exact: bool) -> np.ndarray:
    # NOTE: PyTorch computes the source index in float32 (floorf(i * (float)in / out)); float64
    # would pick a different pixel whenever i * in / out is an integer.
    scale = np.float32(n_in) / np.float32(n_out)
    i = np.arange(n_out, dtype=np.float32)
    if exact:
        i = i + np.float32(0.5)
    return np.minimum(np.floor(i * scale).astype(np.int64), n_in - 1)


def _linear_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """The (n_out, n_in) matrix of a 1-D linear resize (half-pixel centres, align_corners=False).

    With antialias, the triangle filter is stretched by the downscale factor and each row is
    normalised (PyTorch's _upsample_bilinear2d_aa, from PIL); otherwise it is plain
    bilinear with edge clamping (PyTorch's upsample_bilinear2d).
    """
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in), np.float64)
    if antialias:
        support = scale if scale >= 1.0 else 1.0
        invscale = 1.0 / scale if scale >= 1.0 else 1.0
        for i in range(n_out):
            center = scale * (i + 0.5)
            lo = max(int(center - support + 0.5), 0)
            hi = min(int(center + support + 0.5), n_in)
            j = np.arange(lo, hi)
            wgt = np.maximum(0.0, 1.0 - np.abs((j - center + 0.5) * invscale))
            total = wgt.sum()
            weights[i, lo:hi] = wgt / total if total != 0 else wgt
        return weights
    src = np.maximum(scale * (np.arange(n_out) + 0.5) - 0.5, 0.0)
    i0 = src.astype(np.int64)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = src - i0
    rows = np.arange(n_out)
    np.add.at(weights, (rows, i0), 1.0 - frac)
    np.add.at(weights, (rows, i1), frac)
    return weights


def _resized_size(h: int, w: int, size: list, max_size) -> tuple[int, int]:
    if len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size[0], int(size[0] * long / short)
    if max_size is not None:
        if max_size <= size[0]:
            raise ValueError(
                f"max_size = {max_size} must be strictly greater than the requested "
                f"size for the smaller edge size = {size}"
            )
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


# ---- helpers: one place that knows tensors are (..., H, W) and arrays (H, W[, C]) ------------
def _image_size(img) -> tuple[int, int]:
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise TypeError(f"Tensor is not a torch image: shape {tuple(img.shape)}")
        return int(img.shape[-2]), int(img.shape[-1])
    shape = np.shape(img)
    if len(shape) not in (2, 3):
        raise TypeError(f"expected an image array of shape (H, W) or (H, W, C), got {shape}")
    return int(shape[0]), int(shape[1])


def _crop(img, top: int, left: int, h: int, w: int):
    if isinstance(img, Tensor):
        return img[..., top : top + h, left : left + w]
    return np.asarray(img)[top : top + h, left : left + w]


def _flip(img, horizontal: bool):
    if isinstance(img, Tensor):
        return img.flip(-1 if horizontal else -2)
    arr = np.asarray(img)
    return np.ascontiguousarray(arr[:, ::-1] if horizontal else arr[::-1])


def _pad(img, padding, fill, mode: str):
    left, top, right, bottom = _padding_ltrb(padding)
    is_tensor = isinstance(img, Tensor)
    arr = np.asarray(img)
    spatial = [(top, bottom), (left, right)]
    widths = (
        [(0, 0)] * (arr.ndim - 2) + spatial if is_tensor else spatial + [(0, 0)] * (arr.ndim - 2)
    )
    np_mode = {
        "constant": "constant",
        "edge": "edge",
        "reflect": "reflect",
        "symmetric": "symmetric",
    }[mode]
    kwargs = {"constant_values": fill} if mode == "constant" else {}
    out = np.pad(arr, widths, mode=np_mode, **kwargs)
    return from_numpy(out) if is_tensor else out


def _padding_ltrb(padding) -> tuple[int, int, int, int]:
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return p, p, p, p
    padding = list(padding)
    if len(padding) == 1:
        return (padding[0],) * 4
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    return tuple(padding)


def _check_padding(padding, mode: str) -> None:
    if not isinstance(padding, (numbers.Integral, tuple, list)):
        raise TypeError(f"Got inappropriate padding arg: {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) not in (1, 2, 4):
        raise ValueError(
            "Padding must be an int or a 1, 2, or 4 element tuple, not a "
            f"{len(padding)} element tuple"
        )
    if mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


def _setup_size(size) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    return int(size[0]), int(size[1])


def _as_list(values) -> list[float]:
    if isinstance(values, numbers.Number):
        return [float(values)]
    return [float(v) for v in values]
