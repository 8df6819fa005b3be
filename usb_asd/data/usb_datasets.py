"""Turn :class:`ImageSplits` into the datasets USB's learners consume.

USB's ``AlgorithmBase.set_dataset`` returns ``{"train_lb", "train_ulb", "eval",
"test"}`` of ``semilearn``'s ``BasicDataset``; items are dicts whose keys
(``idx_ulb``, ``x_ulb_w``, ``x_ulb_s``, ...) depend on the learner.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import numpy as np
from semilearn.datasets.cv_datasets.datasetbase import BasicDataset

from .image_io import load_image
from .labelled_split import select_labelled_indices, split_labelled_unlabelled
from .splits import ImageSplits, ImageStore
from .transforms import build_augmentations


class ConcatImages:
    """Read-only concatenation of image stores (arrays, memmaps or path lists) without copying."""

    def __init__(self, parts: Sequence[ImageStore]) -> None:
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: int):
        part = int(np.searchsorted(self.offsets, idx, side="right")) - 1
        return self.parts[part][idx - int(self.offsets[part])]


class IndexedImages:
    """A view of an image store restricted to some indices (no copy for path lists or memmaps)."""

    def __init__(self, store: Union[ImageStore, ConcatImages], indices: np.ndarray) -> None:
        self.store = store
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, idx: int):
        return self.store[int(self.indices[idx])]


class ImageDataset(BasicDataset):
    """USB's ``BasicDataset`` that also accepts image file paths (decoded on access).

    Targets equal to ``-1`` (unknown) pass through; only scoring reads them.
    """

    def __sample__(self, idx: int):
        img, target = super().__sample__(idx)
        if isinstance(img, str):
            img = load_image(img)
        elif not isinstance(img, np.ndarray):
            img = np.asarray(img)
        return img, target


def _subset(store: ImageStore, indices: np.ndarray):
    if isinstance(store, np.ndarray) and not isinstance(store, np.memmap):
        return store[indices]
    return IndexedImages(store, indices)


def build_usb_datasets(
    splits: ImageSplits,
    algorithm: str,
    kind: str,
    img_size: int,
    crop_ratio: float,
    num_labels: int,
    seed: int,
    include_lb_to_ulb: bool = True,
) -> Dict[str, Optional[BasicDataset]]:
    """Build USB's dataset dict from loaded splits.

    Args:
        splits: The dataset's train and test images.
        algorithm: USB learner name (``BasicDataset`` returns learner-specific keys).
        kind: Augmentation kind (``natural`` or ``glyph``).
        img_size: Network input side (USB's ``img_size``).
        crop_ratio: USB's ``crop_ratio``.
        num_labels: Labelled training samples; ``0`` builds no labelled dataset.
        seed: Seed of the labelled draw.
        include_lb_to_ulb: USB's flag: labelled samples also sit in the unlabelled pool.

    Returns:
        ``{"train_lb", "train_ulb", "eval", "test"}``; ``train_lb`` is ``None`` when
        ``num_labels == 0``, ``test`` is always ``None`` (``eval`` is the test split).
    """
    aug = build_augmentations(kind, img_size, crop_ratio, splits.mean, splits.std)
    k = splits.num_classes
    n_train = len(splits.train_targets)
    train_store: Union[ImageStore, ConcatImages] = splits.train_images
    train_targets = splits.train_targets

    lb_dset = None
    if num_labels > 0:
        lb_idx = select_labelled_indices(train_targets, num_labels, k, seed)
        lb_idx, ulb_idx = split_labelled_unlabelled(n_train, lb_idx, include_lb_to_ulb)
        lb_dset = ImageDataset(
            algorithm, _subset(train_store, lb_idx), train_targets[lb_idx], k, aug.weak, False, aug.strong, False
        )
    else:
        ulb_idx = np.arange(n_train)

    ulb_images = _subset(train_store, ulb_idx)
    ulb_targets = train_targets[ulb_idx]
    if splits.extra_train_images is not None:
        ulb_images = ConcatImages([ulb_images, splits.extra_train_images])
        ulb_targets = np.concatenate(
            [ulb_targets, np.full(len(splits.extra_train_images), -1, dtype=np.int64)]
        )
    ulb_dset = ImageDataset(algorithm, ulb_images, ulb_targets, k, aug.weak, True, aug.strong, False)
    eval_dset = ImageDataset(
        algorithm, splits.test_images, splits.test_targets, k, aug.eval, False, None, False
    )
    return {"train_lb": lb_dset, "train_ulb": ulb_dset, "eval": eval_dset, "test": None}
