"""minitorch.vision: torchvision-style image datasets and transforms.

from minitorch.vision import datasets, transforms
train = datasets.Digits(train=True, upscale=True, transform=transforms.ToTensor())
"""

from . import datasets, transforms

__all__ = ["datasets", "transforms"]
