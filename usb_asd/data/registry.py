"""Which datasets the plugin reads, and how (loader, augmentation kind, folder)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, Optional

from .splits import DatasetFormatError, ImageSplits


@dataclass(frozen=True)
class DatasetSpec:
    """How one ``dataset:`` name is read.

    Args:
        name: The config value (``dataset: cifar10``).
        load: ``load(root, num_classes) -> ImageSplits``.
        kind: Augmentation policy, one of :data:`usb_asd.data.transforms.IMAGE_KINDS`.
        subdir: Folder under ``data_dir`` tried first (USB puts CIFAR-10 in
            ``<data_dir>/cifar10``); ``data_dir`` itself is used when it is absent.
            ``None``: read ``data_dir`` itself.
        needs_dir: False for data that ships with a package (digits).
    """

    name: str
    load: Callable[[str, Optional[int]], ImageSplits]
    kind: str
    subdir: Optional[str]
    needs_dir: bool = True


def _digits(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .digits import load_digits

    return load_digits(root)


def _digits_restyled(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .digits import load_digits_restyled

    return load_digits_restyled(root)


def _digits_half_a(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .digits import load_digits_half_a

    return load_digits_half_a(root)


def _mnist5k(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .mnist5k import load_mnist5k

    return load_mnist5k(root)


def _cifar10(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .cifar import load_cifar10

    return load_cifar10(root)


def _cifar100_20(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .cifar import load_cifar100_20

    return load_cifar100_20(root)


def _stl10(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .stl10 import load_stl10

    return load_stl10(root)


def _imagenet10(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .imagenet_subsets import load_imagenet10

    return load_imagenet10(root)


def _imagenet_dogs(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .imagenet_subsets import load_imagenet_dogs

    return load_imagenet_dogs(root)


def _folder(root: str, num_classes: Optional[int]) -> ImageSplits:
    from .folder import load_image_folder

    return load_image_folder(root, num_classes=num_classes)


DATASETS: Dict[str, DatasetSpec] = {}


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the plugin's registry (the name must be new)."""
    if spec.name in DATASETS:
        raise KeyError(f"dataset {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


for _spec in (
    DatasetSpec("digits", _digits, "glyph", None, needs_dir=False),
    DatasetSpec("digits_restyled", _digits_restyled, "glyph", None, needs_dir=False),
    DatasetSpec("digits_half_a", _digits_half_a, "glyph", None, needs_dir=False),
    DatasetSpec("mnist5k", _mnist5k, "glyph", None, needs_dir=False),
    DatasetSpec("cifar10", _cifar10, "natural", "cifar10"),
    DatasetSpec("cifar100_20", _cifar100_20, "natural", "cifar100"),
    DatasetSpec("stl10", _stl10, "natural", "stl10"),
    DatasetSpec("imagenet10", _imagenet10, "natural", "imagenet10"),
    DatasetSpec("imagenet_dogs", _imagenet_dogs, "natural", "imagenet_dogs"),
    DatasetSpec("folder", _folder, "natural", None),
):
    register_dataset(_spec)


def dataset_root(spec: DatasetSpec, data_dir: str) -> str:
    """The directory a dataset is read from: ``<data_dir>/<subdir>`` if present, else ``data_dir``."""
    if spec.subdir is not None:
        nested = os.path.join(data_dir, spec.subdir)
        if os.path.isdir(nested):
            return nested
    return data_dir


def load_splits(name: str, data_dir: str, num_classes: Optional[int] = None) -> ImageSplits:
    """Read a registered dataset.

    Args:
        name: ``dataset:`` config value.
        data_dir: ``data_dir:`` config value.
        num_classes: ``num_classes:`` config value (needed by unlabelled folders).

    Returns:
        The dataset's :class:`ImageSplits`.

    Raises:
        KeyError: for an unknown name, listing the known ones.
        DatasetFormatError: for a missing or malformed directory.
    """
    if name not in DATASETS:
        raise KeyError(f"dataset {name!r} is not one of the plugin's datasets: {sorted(DATASETS)}")
    spec = DATASETS[name]
    if not spec.needs_dir:
        return spec.load("", num_classes)
    root = dataset_root(spec, data_dir)
    if not os.path.isdir(root):
        raise DatasetFormatError(name, root, f"a directory (set data_dir) holding {name} in its standard format",
                                 "directory does not exist; check data_dir")
    return spec.load(root, num_classes)
