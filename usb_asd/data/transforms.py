"""Weak, strong and evaluation augmentations, by kind of image.

``natural`` reproduces USB's CIFAR pipelines (``semilearn/datasets/cv_datasets/cifar.py``):
weak = resize, reflect-padded random crop, horizontal flip; strong = weak +
RandAugment(3, 5). ``glyph`` is for digits and other characters, where a flip
changes the class and reflect padding would mirror strokes: weak = small
zero-padded translations; strong = random affine + Gaussian noise, without
cutout, which lowers FixMatch's top-1 on 8x8 digits (docs/PROTOCOL.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torchvision import transforms

#: Image kinds with their own augmentation policy.
IMAGE_KINDS = ("natural", "glyph")


class AddGaussianNoise:
    """Adds ``N(0, std^2)`` noise to a tensor image (values in ``[0, 1]`` before normalising)."""

    def __init__(self, std: float) -> None:
        self.std = std

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return img + torch.randn_like(img) * self.std

    def __repr__(self) -> str:
        return f"{type(self).__name__}(std={self.std})"


@dataclass
class AugmentationSet:
    """The three pipelines USB's datasets need."""

    weak: Callable
    strong: Callable
    eval: Callable


def build_augmentations(
    kind: str, img_size: int, crop_ratio: float, mean: Sequence[float], std: Sequence[float]
) -> AugmentationSet:
    """Build the weak / strong / eval pipelines for one kind of image.

    Args:
        kind: One of :data:`IMAGE_KINDS`.
        img_size: Side of the square network input (USB's ``img_size``).
        crop_ratio: USB's ``crop_ratio``; the random-crop padding is ``img_size * (1 - crop_ratio)``.
        mean: Per-channel normalisation mean.
        std: Per-channel normalisation standard deviation.

    Returns:
        An :class:`AugmentationSet` of PIL-image -> tensor callables.
    """
    if kind not in IMAGE_KINDS:
        raise ValueError(f"image kind must be one of {IMAGE_KINDS}, got {kind!r}")
    pad = max(1, int(round(img_size * (1.0 - crop_ratio))))
    resize = transforms.Resize((img_size, img_size))
    finish = [transforms.ToTensor(), transforms.Normalize(mean, std)]
    eval_tf = transforms.Compose([resize, *finish])
    if kind == "natural":
        from semilearn.datasets.augmentation import RandAugment

        crop = transforms.RandomCrop(img_size, padding=pad, padding_mode="reflect")
        weak = transforms.Compose([resize, crop, transforms.RandomHorizontalFlip(), *finish])
        strong = transforms.Compose(
            [resize, crop, transforms.RandomHorizontalFlip(), RandAugment(3, 5), *finish]
        )
        return AugmentationSet(weak=weak, strong=strong, eval=eval_tf)
    crop = transforms.RandomCrop(img_size, padding=pad, padding_mode="constant", fill=0)
    weak = transforms.Compose([resize, crop, *finish])
    strong = transforms.Compose(
        [
            resize,
            transforms.RandomAffine(degrees=15, translate=(0.125, 0.125), scale=(0.85, 1.15), shear=10),
            transforms.ToTensor(),
            AddGaussianNoise(0.1),
            transforms.Normalize(mean, std),
        ]
    )
    return AugmentationSet(weak=weak, strong=strong, eval=eval_tf)
