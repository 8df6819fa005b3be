"""ImageNet-10 and ImageNet-Dogs, the ImageNet subsets of deep-clustering papers.

DAC introduced both subsets and CC, SCAN and later work reuse them: ImageNet-10
has 10 easy, distinct classes and ImageNet-Dogs 15 fine-grained dog breeds. Both
are read from the standard ILSVRC train-folder layout (one folder per WordNet id),
so pointing at a full ImageNet ``train`` directory works: only the subset's
folders are used. Images are returned as file paths, decoded later on demand.
"""

from __future__ import annotations

import os
import warnings
from typing import List, Sequence, Tuple

import numpy as np

from usb_asd.data.splits import DatasetFormatError, ImageSplits

IMAGENET10_NAME = "imagenet10"
IMAGENET_DOGS_NAME = "imagenet_dogs"

#: WordNet ids of ImageNet-10, index-aligned with the targets.
IMAGENET10_WNIDS: List[str] = [
    "n02056570", "n02085936", "n02128757", "n02690373", "n02692877",
    "n03095699", "n04254680", "n04285008", "n04467665", "n07747607",
]

#: WordNet ids of ImageNet-Dogs, index-aligned with the targets.
IMAGENET_DOGS_WNIDS: List[str] = [
    "n02085936", "n02086646", "n02088238", "n02091467", "n02097130",
    "n02099601", "n02101388", "n02101556", "n02102177", "n02105056",
    "n02105412", "n02105855", "n02107142", "n02110958", "n02112137",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: File extensions read as images (compared lower-cased).
IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")

_LAYOUT = (
    "ImageNet ILSVRC train-folder layout: <data_dir>/train/<wnid>/*.JPEG "
    "(or <data_dir>/<wnid>/*.JPEG), one folder per WordNet id of the subset, plus an "
    "optional <data_dir>/val/<wnid>/*.JPEG used as the test split"
)


def _list_images(folder: str) -> List[str]:
    """Image files directly inside ``folder``, sorted.

    Args:
        folder: A ``<wnid>`` folder.

    Returns:
        Sorted paths of files with an image extension (ILSVRC class folders are flat).
    """
    with os.scandir(folder) as entries:
        return sorted(
            entry.path
            for entry in entries
            if entry.is_file() and entry.name.lower().endswith(IMAGE_EXTENSIONS)
        )


def _missing_wnids(root: str, wnids: Sequence[str]) -> List[str]:
    """Wnids of the subset with no folder, or a folder without images, under ``root``.

    Args:
        root: Folder holding ``<wnid>`` folders.
        wnids: The subset's WordNet ids.

    Returns:
        The missing or empty wnids, in subset order.
    """
    missing = []
    for wnid in wnids:
        folder = os.path.join(root, wnid)
        if not os.path.isdir(folder) or not _list_images(folder):
            missing.append(wnid)
    return missing


def _read_split(root: str, wnids: Sequence[str], dataset: str) -> Tuple[List[str], np.ndarray]:
    """Collect the subset's images under ``root``.

    Args:
        root: Folder holding ``<wnid>`` folders (other wnids are ignored).
        wnids: The subset's WordNet ids; a wnid's index is its target.
        dataset: Dataset name for error messages.

    Returns:
        ``(paths, targets)``: paths sorted, targets ``int64``.

    Raises:
        DatasetFormatError: Some wnid folders are missing or hold no images.
    """
    missing = _missing_wnids(root, wnids)
    if missing:
        raise DatasetFormatError(
            dataset, root, _LAYOUT,
            f"{len(missing)} of {len(wnids)} wnid folders missing or without images: "
            + ", ".join(missing),
        )
    pairs = [
        (path, target)
        for target, wnid in enumerate(wnids)
        for path in _list_images(os.path.join(root, wnid))
    ]
    # Sort by path so the order never depends on the wnid list's order or the filesystem.
    pairs.sort(key=lambda pair: pair[0])
    return [p for p, _ in pairs], np.asarray([t for _, t in pairs], dtype=np.int64)


def _load_subset(data_dir: str, wnids: Sequence[str], dataset: str) -> ImageSplits:
    """Load one ImageNet subset (see :func:`load_imagenet10`).

    Args:
        data_dir: ImageNet root (with ``train/``), or the train folder itself.
        wnids: The subset's WordNet ids.
        dataset: Dataset name for error messages and the returned splits.

    Returns:
        The subset's :class:`ImageSplits`.
    """
    data_dir = os.path.abspath(os.fspath(data_dir))
    if not os.path.isdir(data_dir):
        raise DatasetFormatError(dataset, data_dir, _LAYOUT, "directory does not exist")
    train_root = os.path.join(data_dir, "train")
    if not os.path.isdir(train_root):
        # No train/ folder: data_dir is expected to hold the <wnid> folders itself.
        train_root = data_dir
    train_paths, train_targets = _read_split(train_root, wnids, dataset)

    test_paths, test_targets = train_paths, train_targets
    val_root = os.path.join(data_dir, "val")
    if os.path.isdir(val_root):
        missing = _missing_wnids(val_root, wnids)
        if len(missing) == len(wnids):
            # The official ILSVRC val folder is flat (no <wnid> folders) and so can't be
            # labelled here; fall back to train, as clustering papers do, but say so.
            warnings.warn(
                f"dataset '{dataset}': '{val_root}' has no <wnid> folders of the subset; "
                "using the train images as the test split",
                stacklevel=3,
            )
        else:
            # A val folder with only some of the subset's classes is a broken copy:
            # scoring on it would be silently wrong, so fail with the missing wnids.
            test_paths, test_targets = _read_split(val_root, wnids, dataset)

    return ImageSplits(
        name=dataset,
        train_images=train_paths,
        train_targets=train_targets,
        test_images=test_paths,
        test_targets=test_targets,
        num_classes=len(wnids),
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        class_names=list(wnids),
    )


def load_imagenet10(data_dir: str) -> ImageSplits:
    """Load ImageNet-10 (10 classes, about 13,000 train images in ILSVRC-2012).

    Clustering papers train and score on the same images for this set, so when
    there is no ``<data_dir>/val/<wnid>/`` folder the test split is the train split.
    If ``val/`` exists but has none of the subset's wnid folders (e.g. the official
    flat ILSVRC val folder), a warning is issued and the train split is reused too.

    Args:
        data_dir: ImageNet root holding ``train/<wnid>/`` (and optionally
            ``val/<wnid>/``), or a folder holding the ``<wnid>/`` folders directly.
            Other wnids present are ignored.

    Returns:
        :class:`ImageSplits` whose images are sorted lists of file paths (not decoded),
        targets the index of each image's wnid in :data:`IMAGENET10_WNIDS`,
        class names the wnids, and ImageNet mean/std.

    Raises:
        DatasetFormatError: ``data_dir`` is missing, or some of the subset's wnid
            folders are missing or hold no ``.jpeg``/``.jpg``/``.png`` image
            (the message lists them).
    """
    return _load_subset(data_dir, IMAGENET10_WNIDS, IMAGENET10_NAME)


def load_imagenet_dogs(data_dir: str) -> ImageSplits:
    """Load ImageNet-Dogs (15 dog breeds, about 19,500 train images in ILSVRC-2012).

    Same layout, splits, errors and return value as :func:`load_imagenet10`,
    with the wnids of :data:`IMAGENET_DOGS_WNIDS`.
    """
    return _load_subset(data_dir, IMAGENET_DOGS_WNIDS, IMAGENET_DOGS_NAME)
