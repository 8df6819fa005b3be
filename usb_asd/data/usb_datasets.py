"""Turn :class:`ImageSplits` into the datasets USB's learners consume.

USB's ``AlgorithmBase.set_dataset`` returns ``{"train_lb", "train_ulb", "eval",
"test"}`` of ``semilearn``'s ``BasicDataset``; items are dicts whose keys
(``idx_ulb``, ``x_ulb_w``, ``x_ulb_s``, ...) depend on the learner.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Sequence, Union

import numpy as np
from semilearn.datasets.cv_datasets.datasetbase import BasicDataset

from .image_io import load_image
from .labelled_split import select_labelled_indices, split_labelled_unlabelled
from .splits import ImageSplits, ImageStore
from .transforms import build_augmentations

#: ``num_labels`` value meaning "every training sample is labelled".
ALL_LABELS = -1


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
        num_labels: Labelled training samples; ``0`` builds no labelled dataset,
            ``-1`` labels every training sample (:data:`ALL_LABELS`).
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
    if num_labels == ALL_LABELS:
        if np.any(train_targets < 0):
            raise ValueError(
                f"num_labels: {ALL_LABELS} (all) needs a label for every training image, but dataset "
                f"'{splits.name}' has unlabelled training images"
            )
        lb_idx = np.arange(n_train)
    elif num_labels > 0:
        lb_idx = select_labelled_indices(train_targets, num_labels, k, seed)
    elif num_labels < 0:
        raise ValueError(f"num_labels must be >= 0 or {ALL_LABELS} (all training labels), got {num_labels}")
    if num_labels != 0:
        lb_idx, ulb_idx = split_labelled_unlabelled(n_train, lb_idx, include_lb_to_ulb)
        lb_dset = ImageDataset(
            algorithm, _subset(train_store, lb_idx), train_targets[lb_idx], k, aug.weak, False, aug.strong, False
        )
    else:
        ulb_idx = np.arange(n_train)
    if len(ulb_idx) == 0 and splits.extra_train_images is None:
        raise ValueError(
            f"num_labels: {num_labels} with include_lb_to_ulb: False leaves no unlabelled training images "
            f"in '{splits.name}'; set include_lb_to_ulb: True or label fewer samples"
        )

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


def build_domain_adaptation_datasets(
    source: ImageSplits,
    target: ImageSplits,
    algorithm: str,
    kind: str,
    img_size: int,
    crop_ratio: float,
    num_labels: int,
    seed: int,
) -> Dict[str, Optional[BasicDataset]]:
    """USB's dataset dict for unsupervised domain adaptation.

    The labelled batch comes from the source's training split, the unlabelled
    batch from the target's training split, and evaluation is on the target's
    test split; no target label is read for training. Both domains go through
    the same augmentations, normalised with the *source* statistics (the
    model sees one input pipeline; per-domain normalisation would itself undo
    part of some shifts and hide them).

    Args:
        source: Labelled domain.
        target: Unlabelled domain, with the same classes as ``source``.
        algorithm: USB learner name (item keys depend on it).
        kind: Augmentation kind.
        img_size: Network input side.
        crop_ratio: USB's ``crop_ratio``.
        num_labels: Labelled source samples (``-1``: all of them).
        seed: Seed of the labelled draw.

    Returns:
        ``{"train_lb", "train_ulb", "eval", "test"}`` with ``test`` None.

    Raises:
        ValueError: when the domains' class counts differ or ``num_labels`` is 0.
    """
    if source.num_classes != target.num_classes:
        raise ValueError(
            f"domain adaptation needs the same classes in both domains: source '{source.name}' has "
            f"{source.num_classes}, target '{target.name}' has {target.num_classes}"
        )
    if num_labels == 0:
        raise ValueError("da_target_dataset is set but num_labels is 0: the source must be labelled (-1: all)")
    src = build_usb_datasets(source, algorithm, kind, img_size, crop_ratio, num_labels, seed, include_lb_to_ulb=True)
    same_norm = dataclasses.replace(target, mean=source.mean, std=source.std)
    tgt = build_usb_datasets(same_norm, algorithm, kind, img_size, crop_ratio, 0, seed)
    return {"train_lb": src["train_lb"], "train_ulb": tgt["train_ulb"], "eval": tgt["eval"], "test": None}
