"""The in-memory form every dataset loader returns.

A loader reads one dataset's standard on-disk format and returns an
:class:`ImageSplits`; :mod:`usb_asd.data.usb_datasets` turns that into the
``train_lb`` / ``train_ulb`` / ``eval`` datasets USB's learners consume.
Loaders know nothing of USB, so each can be tested alone on tiny files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Union

import numpy as np
from sklearn.model_selection import train_test_split

from ..errors import UserError

#: Targets equal to this value mark images whose class is unknown.
UNKNOWN_TARGET = -1

ImageStore = Union[np.ndarray, List[str]]


class DatasetFormatError(UserError, ValueError):
    """A dataset directory is missing or not in the layout its loader expects.

    The message names the dataset, the path tried and the layout expected.
    """

    def __init__(self, dataset: str, path: str, expected: str, problem: str = "") -> None:
        self.dataset = dataset
        self.path = path
        self.expected = expected
        detail = f" ({problem})" if problem else ""
        super().__init__(
            f"dataset '{dataset}': cannot read '{path}'{detail}. Expected layout: {expected}"
        )


@dataclass
class ImageSplits:
    """Train and test images of one dataset, with their targets.

    Args:
        name: Dataset name as used in configs (``dataset:`` key).
        train_images: ``uint8`` array ``(N, H, W, C)`` or a list of N image file paths.
        train_targets: ``int64`` array ``(N,)``; :data:`UNKNOWN_TARGET` where unknown.
        test_images: Same form as ``train_images``.
        test_targets: Same form as ``train_targets``.
        num_classes: Number of ground-truth classes (the ``k`` a clustering run asks for).
        mean: Per-channel mean used to normalise, in ``[0, 1]``.
        std: Per-channel standard deviation used to normalise.
        class_names: Optional human-readable class names, index-aligned with targets.
        extra_train_images: Images with no label at all that only enlarge the
            unlabelled pool (STL-10's ``unlabeled`` split), or ``None``.
    """

    name: str
    train_images: ImageStore
    train_targets: np.ndarray
    test_images: ImageStore
    test_targets: np.ndarray
    num_classes: int
    mean: Sequence[float] = (0.5, 0.5, 0.5)
    std: Sequence[float] = (0.5, 0.5, 0.5)
    class_names: Optional[List[str]] = None
    extra_train_images: Optional[ImageStore] = field(default=None)

    def __post_init__(self) -> None:
        self.train_targets = np.asarray(self.train_targets, dtype=np.int64)
        self.test_targets = np.asarray(self.test_targets, dtype=np.int64)
        if len(self.train_images) != len(self.train_targets):
            raise ValueError(
                f"dataset '{self.name}': {len(self.train_images)} train images but "
                f"{len(self.train_targets)} train targets"
            )
        if len(self.test_images) != len(self.test_targets):
            raise ValueError(
                f"dataset '{self.name}': {len(self.test_images)} test images but "
                f"{len(self.test_targets)} test targets"
            )

    @property
    def has_train_labels(self) -> bool:
        """True when every train image has a known class."""
        return bool(len(self.train_targets)) and bool(np.all(self.train_targets >= 0))

    @property
    def has_test_labels(self) -> bool:
        """True when every test image has a known class (needed to score)."""
        return bool(len(self.test_targets)) and bool(np.all(self.test_targets >= 0))


def stratified_split_indices(targets: np.ndarray, test_fraction: float, split_seed: int):
    """Sorted train and test indices of a seeded split that keeps each class's share.

    Args:
        targets: ``(N,)`` class of each image.
        test_fraction: Fraction of each class held out for the test split.
        split_seed: Seed of the split (fixed per data set, not tied to the training seed).

    Returns:
        ``(train_idx, test_idx)``, each sorted.
    """
    train_idx, test_idx = train_test_split(
        np.arange(len(targets)), test_size=test_fraction, stratify=targets, random_state=split_seed
    )
    return np.sort(train_idx), np.sort(test_idx)
