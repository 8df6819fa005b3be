"""Reader for the binary release of STL-10 (``stl10_binary.tar.gz``).

Images in the ``*_X.bin`` files are ``uint8`` and stored as ``3 x 96 x 96`` per
image in column-major order, so the standard reader's
``reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)`` yields upright ``(N, 96, 96, 3)``
images. Labels in ``*_y.bin`` are one ``uint8`` per image in ``1..10``.
"""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import numpy as np

from usb_asd.data.splits import DatasetFormatError, ImageSplits

STL10_NAME = "stl10"
STL10_FOLDER = "stl10_binary"
# USB's (semilearn.datasets.cv_datasets.stl10) values, so runs match its STL-10 setup.
STL10_MEAN = tuple(x / 255 for x in (112.4, 109.1, 98.6))
STL10_STD = tuple(x / 255 for x in (68.4, 66.6, 68.5))
STL10_NUM_CLASSES = 10

# Bytes per image: 3 channels of 96x96.
IMAGE_BYTES = 3 * 96 * 96

_LAYOUT = (
    f"<data_dir>/{STL10_FOLDER}/{{train_X.bin, train_y.bin, test_X.bin, test_y.bin, "
    "class_names.txt, optional unlabeled_X.bin}} (the binary release stl10_binary.tar.gz, "
    f"unpacked), or data_dir pointing at the {STL10_FOLDER} folder itself"
)


def _resolve_root(data_dir: str) -> str:
    """Find the folder holding the ``.bin`` files.

    Args:
        data_dir: The ``stl10_binary`` folder or its parent.

    Returns:
        Absolute path of the release folder.

    Raises:
        DatasetFormatError: ``data_dir`` is missing or holds neither layout.
    """
    data_dir = os.path.abspath(os.fspath(data_dir))
    if not os.path.isdir(data_dir):
        raise DatasetFormatError(STL10_NAME, data_dir, _LAYOUT, "directory does not exist")
    nested = os.path.join(data_dir, STL10_FOLDER)
    if os.path.isdir(nested):
        return nested
    # Also accept data_dir being the release folder itself, recognised by its files.
    if os.path.isfile(os.path.join(data_dir, "train_X.bin")):
        return data_dir
    raise DatasetFormatError(
        STL10_NAME, data_dir, _LAYOUT,
        f"found neither a '{STL10_FOLDER}' folder nor a 'train_X.bin' file",
    )


def _count_images(path: str) -> int:
    """Number of images in an ``*_X.bin`` file, from its size.

    Args:
        path: The ``.bin`` file.

    Returns:
        File size divided by ``3 * 96 * 96``.

    Raises:
        DatasetFormatError: Missing, empty, or size not a multiple of one image.
    """
    if not os.path.isfile(path):
        raise DatasetFormatError(STL10_NAME, path, _LAYOUT, "file is missing")
    size = os.path.getsize(path)
    # A size that is not a whole number of images means a truncated download or a
    # different format; reading it would silently shift every later image.
    if size == 0 or size % IMAGE_BYTES:
        raise DatasetFormatError(
            STL10_NAME, path, _LAYOUT,
            f"size {size} bytes is not a positive multiple of {IMAGE_BYTES} (3*96*96)",
        )
    return size // IMAGE_BYTES


def _to_hwc(raw: np.ndarray) -> np.ndarray:
    """Reorder flat column-major STL-10 bytes to ``(N, 96, 96, 3)`` upright images.

    Args:
        raw: ``uint8`` array holding whole images (flat or memory-mapped).

    Returns:
        A view with axes (image, row, column, channel).
    """
    return raw.reshape(-1, 3, 96, 96).transpose(0, 3, 2, 1)


def _read_split(root: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """Read ``<split>_X.bin`` and ``<split>_y.bin``.

    Args:
        root: Release folder.
        split: ``train`` or ``test``.

    Returns:
        ``(images, targets)``: ``uint8`` ``(N, 96, 96, 3)`` contiguous and ``int64`` 0-based.

    Raises:
        DatasetFormatError: Missing files, bad sizes, count mismatch or labels out of 1..10.
    """
    x_path = os.path.join(root, f"{split}_X.bin")
    y_path = os.path.join(root, f"{split}_y.bin")
    n_images = _count_images(x_path)
    if not os.path.isfile(y_path):
        raise DatasetFormatError(STL10_NAME, y_path, _LAYOUT, "file is missing")
    labels = np.fromfile(y_path, dtype=np.uint8)
    if len(labels) != n_images:
        raise DatasetFormatError(
            STL10_NAME, y_path, _LAYOUT,
            f"{len(labels)} labels but {x_path} holds {n_images} images",
        )
    if labels.size and (labels.min() < 1 or labels.max() > STL10_NUM_CLASSES):
        raise DatasetFormatError(
            STL10_NAME, y_path, _LAYOUT, f"labels must be in 1..{STL10_NUM_CLASSES}"
        )
    # Copy to contiguous memory once so later per-image access is cheap.
    images = np.ascontiguousarray(_to_hwc(np.fromfile(x_path, dtype=np.uint8)))
    # The release numbers classes from 1; everything downstream counts from 0.
    return images, labels.astype(np.int64) - 1


def _read_class_names(root: str) -> Optional[List[str]]:
    """Read ``class_names.txt`` (one name per line), when present.

    Args:
        root: Release folder.

    Returns:
        The 10 names, or ``None`` when the file is absent.

    Raises:
        DatasetFormatError: The file does not hold exactly 10 names.
    """
    path = os.path.join(root, "class_names.txt")
    # Names are only cosmetic; their absence should not stop a run.
    if not os.path.isfile(path):
        return None
    with open(path, "r", encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if len(names) != STL10_NUM_CLASSES:
        raise DatasetFormatError(
            STL10_NAME, path, _LAYOUT, f"expected {STL10_NUM_CLASSES} names, found {len(names)}"
        )
    return names


def load_stl10(data_dir: str, include_unlabeled: bool = False) -> ImageSplits:
    """Load STL-10 from its binary release.

    Args:
        data_dir: Folder containing ``stl10_binary`` or that folder itself.
        include_unlabeled: Also expose the 100,000 ``unlabeled_X.bin`` images as
            ``extra_train_images``. They are memory-mapped (read lazily), and the
            returned array is a transposed view of the map, so a few images can be
            indexed without reading the 2.7 GB file.

    Returns:
        :class:`ImageSplits` with ``uint8`` images ``(N, 96, 96, 3)``, targets in
        ``0..9``, names from ``class_names.txt`` when present, and the usual STL-10
        mean/std.

    Raises:
        DatasetFormatError: Missing folder or file, a size that is not a whole number
            of images, X/y count mismatch, labels outside 1..10, or
            ``include_unlabeled`` with no ``unlabeled_X.bin``.
    """
    root = _resolve_root(data_dir)
    train_x, train_y = _read_split(root, "train")
    test_x, test_y = _read_split(root, "test")
    extra: Optional[np.ndarray] = None
    if include_unlabeled:
        path = os.path.join(root, "unlabeled_X.bin")
        if not os.path.isfile(path):
            raise DatasetFormatError(
                STL10_NAME, path, _LAYOUT,
                "file is missing but include_unlabeled is True",
            )
        n_images = _count_images(path)
        # A memory map keeps the 100k images (2.7 GB) on disk until indexed.
        raw = np.memmap(path, dtype=np.uint8, mode="r", shape=(n_images * IMAGE_BYTES,))
        extra = _to_hwc(raw)
    return ImageSplits(
        name=STL10_NAME,
        train_images=train_x,
        train_targets=train_y,
        test_images=test_x,
        test_targets=test_y,
        num_classes=STL10_NUM_CLASSES,
        mean=STL10_MEAN,
        std=STL10_STD,
        class_names=_read_class_names(root),
        extra_train_images=extra,
    )
