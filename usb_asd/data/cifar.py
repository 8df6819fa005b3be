"""Readers for the python-pickle releases of CIFAR-10 and CIFAR-100 (20 superclasses).

Both readers take the folder the official archives unpack to
(``cifar-10-batches-py`` / ``cifar-100-python``) or its parent, and return an
:class:`~usb_asd.data.splits.ImageSplits` with ``uint8`` images ``(N, 32, 32, 3)``.

The release files are pickles, so only point these readers at files you trust
(the same caveat applies to every CIFAR reader, torchvision's included).
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from usb_asd.data.splits import DatasetFormatError, ImageSplits

CIFAR10_NAME = "cifar10"
CIFAR100_20_NAME = "cifar100_20"

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR100_FOLDER = "cifar-100-python"

CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
CIFAR10_META_FILE = "batches.meta"

CIFAR100_TRAIN_FILE = "train"
CIFAR100_TEST_FILE = "test"
CIFAR100_META_FILE = "meta"

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

_CIFAR10_LAYOUT = (
    f"<data_dir>/{CIFAR10_FOLDER}/{{data_batch_1..data_batch_5, test_batch, batches.meta}} "
    "(the python-pickle release cifar-10-python.tar.gz, unpacked), or data_dir pointing "
    f"at the {CIFAR10_FOLDER} folder itself"
)
_CIFAR100_LAYOUT = (
    f"<data_dir>/{CIFAR100_FOLDER}/{{train, test, meta}} "
    "(the python-pickle release cifar-100-python.tar.gz, unpacked), or data_dir pointing "
    f"at the {CIFAR100_FOLDER} folder itself"
)

# One 32x32 RGB image stored as three 1024-byte channel planes.
_IMAGE_BYTES = 3 * 32 * 32


def _resolve_root(data_dir: str, dataset: str, folder: str, marker: str, layout: str) -> str:
    """Find the folder holding the release files.

    Args:
        data_dir: Path given by the user: the release folder or its parent.
        dataset: Dataset name for error messages.
        folder: Name of the release folder (e.g. ``cifar-10-batches-py``).
        marker: A file that must be in the release folder, used to recognise it.
        layout: Expected-layout text for error messages.

    Returns:
        Absolute path of the release folder.

    Raises:
        DatasetFormatError: ``data_dir`` does not exist or holds neither layout.
    """
    data_dir = os.path.abspath(os.fspath(data_dir))
    if not os.path.isdir(data_dir):
        raise DatasetFormatError(dataset, data_dir, layout, "directory does not exist")
    nested = os.path.join(data_dir, folder)
    if os.path.isdir(nested):
        return nested
    # Accept data_dir pointing straight at the release folder (any name), recognised by
    # its marker file, so users can keep the files wherever they like.
    if os.path.isfile(os.path.join(data_dir, marker)):
        return data_dir
    raise DatasetFormatError(
        dataset, data_dir, layout, f"found neither a '{folder}' folder nor a '{marker}' file"
    )


def _get(entry: Dict[Any, Any], key: str) -> Any:
    """Look a key up whether the pickle was decoded with ``bytes`` or ``latin1`` keys.

    Args:
        entry: The unpickled dict.
        key: Key name as text.

    Returns:
        The value, or ``None`` when absent.
    """
    # encoding='latin1' turns the release's Python 2 str keys into str, while
    # encoding='bytes' (or a file written by Python 3 with bytes keys) gives bytes.
    if key.encode("latin1") in entry:
        return entry[key.encode("latin1")]
    return entry.get(key)


def _load_pickle(path: str, dataset: str, layout: str) -> Dict[Any, Any]:
    """Unpickle one release file.

    Args:
        path: File to read.
        dataset: Dataset name for error messages.
        layout: Expected-layout text for error messages.

    Returns:
        The unpickled dict.

    Raises:
        DatasetFormatError: The file is missing, unreadable or not a dict.
    """
    if not os.path.isfile(path):
        raise DatasetFormatError(dataset, path, layout, "file is missing")
    try:
        with open(path, "rb") as handle:
            # latin1 is what numpy recommends for the Python 2 pickles of the release:
            # it keeps the pickled numpy arrays' raw bytes intact.
            entry = pickle.load(handle, encoding="latin1")
    except Exception as exc:  # any unpickling failure means a damaged/foreign file
        raise DatasetFormatError(
            dataset, path, layout, f"not a readable pickle: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(entry, dict):
        raise DatasetFormatError(
            dataset, path, layout, f"expected a pickled dict, got {type(entry).__name__}"
        )
    return entry


def _decode_batch(
    entry: Dict[Any, Any],
    label_key: str,
    num_classes: int,
    path: str,
    dataset: str,
    layout: str,
) -> Tuple[np.ndarray, np.ndarray]:
    """Turn one batch dict into images ``(N, 32, 32, 3)`` and targets ``(N,)``.

    Args:
        entry: The unpickled batch.
        label_key: Key of the labels to use (``labels`` or ``coarse_labels``).
        num_classes: Labels must lie in ``[0, num_classes)``.
        path: File the batch came from, for error messages.
        dataset: Dataset name for error messages.
        layout: Expected-layout text for error messages.

    Returns:
        ``(images, targets)`` as ``uint8`` and ``int64`` arrays.

    Raises:
        DatasetFormatError: Keys missing, wrong shapes or labels out of range.
    """
    data = _get(entry, "data")
    labels = _get(entry, label_key)
    if data is None or labels is None:
        raise DatasetFormatError(
            dataset, path, layout, f"batch dict lacks the 'data' or '{label_key}' key"
        )
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != _IMAGE_BYTES:
        raise DatasetFormatError(
            dataset, path, layout,
            f"'data' has shape {data.shape}, expected (N, {_IMAGE_BYTES})",
        )
    if data.dtype != np.uint8:
        if data.size and (data.min() < 0 or data.max() > 255):
            raise DatasetFormatError(dataset, path, layout, "'data' values are not in 0..255")
        data = data.astype(np.uint8)
    targets = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(targets) != len(data):
        raise DatasetFormatError(
            dataset, path, layout,
            f"{len(data)} images but {len(targets)} entries in '{label_key}'",
        )
    if targets.size and (targets.min() < 0 or targets.max() >= num_classes):
        raise DatasetFormatError(
            dataset, path, layout, f"'{label_key}' values are not in 0..{num_classes - 1}"
        )
    # Each row is the R, G and B planes of a 32x32 image one after another.
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, targets


def _load_batches(
    root: str,
    files: Sequence[str],
    label_key: str,
    num_classes: int,
    dataset: str,
    layout: str,
) -> Tuple[np.ndarray, np.ndarray]:
    """Read and concatenate several batch files.

    Args:
        root: Release folder.
        files: Batch file names inside ``root``, in order.
        label_key: Key of the labels to use.
        num_classes: Labels must lie in ``[0, num_classes)``.
        dataset: Dataset name for error messages.
        layout: Expected-layout text for error messages.

    Returns:
        ``(images, targets)`` concatenated in file order.
    """
    # Check every file exists before reading any, so a half-unpacked release
    # fails fast instead of after reading hundreds of MB.
    for name in files:
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            raise DatasetFormatError(dataset, path, layout, "file is missing")
    images: List[np.ndarray] = []
    targets: List[np.ndarray] = []
    for name in files:
        path = os.path.join(root, name)
        batch_images, batch_targets = _decode_batch(
            _load_pickle(path, dataset, layout), label_key, num_classes, path, dataset, layout
        )
        images.append(batch_images)
        targets.append(batch_targets)
    return np.concatenate(images), np.concatenate(targets)


def _class_names(
    root: str, meta_file: str, key: str, num_classes: int, dataset: str, layout: str
) -> Optional[List[str]]:
    """Read class names from the meta file, when it is there.

    Args:
        root: Release folder.
        meta_file: Meta file name inside ``root``.
        key: Key holding the list of names.
        num_classes: Number of names expected.
        dataset: Dataset name for error messages.
        layout: Expected-layout text for error messages.

    Returns:
        The names, or ``None`` when the meta file is absent.

    Raises:
        DatasetFormatError: The meta file exists but lacks the names or has the wrong count.
    """
    path = os.path.join(root, meta_file)
    # Names are only cosmetic (reports, plots); a missing meta file is not fatal.
    if not os.path.isfile(path):
        return None
    names = _get(_load_pickle(path, dataset, layout), key)
    if names is None or len(names) != num_classes:
        raise DatasetFormatError(
            dataset, path, layout, f"expected '{key}' with {num_classes} names"
        )
    return [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names]


def load_cifar10(data_dir: str) -> ImageSplits:
    """Load CIFAR-10 from its python-pickle release.

    Args:
        data_dir: Folder containing ``cifar-10-batches-py`` or that folder itself.

    Returns:
        :class:`ImageSplits` with 50,000 train and 10,000 test ``uint8`` images
        ``(N, 32, 32, 3)`` for the full release, 10 classes, names from
        ``batches.meta`` when present, and the usual CIFAR-10 mean/std.

    Raises:
        DatasetFormatError: The folder or a batch file is missing or malformed.
    """
    root = _resolve_root(
        data_dir, CIFAR10_NAME, CIFAR10_FOLDER, CIFAR10_TRAIN_FILES[0], _CIFAR10_LAYOUT
    )
    train_x, train_y = _load_batches(
        root, CIFAR10_TRAIN_FILES, "labels", 10, CIFAR10_NAME, _CIFAR10_LAYOUT
    )
    test_x, test_y = _load_batches(
        root, (CIFAR10_TEST_FILE,), "labels", 10, CIFAR10_NAME, _CIFAR10_LAYOUT
    )
    names = _class_names(
        root, CIFAR10_META_FILE, "label_names", 10, CIFAR10_NAME, _CIFAR10_LAYOUT
    )
    return ImageSplits(
        name=CIFAR10_NAME,
        train_images=train_x,
        train_targets=train_y,
        test_images=test_x,
        test_targets=test_y,
        num_classes=10,
        mean=CIFAR10_MEAN,
        std=CIFAR10_STD,
        class_names=names,
    )


def load_cifar100_20(data_dir: str) -> ImageSplits:
    """Load CIFAR-100 labelled by its 20 superclasses (CIFAR-100-20).

    Deep-clustering papers (SCAN, CC, ...) score CIFAR-100 against the 20 coarse
    superclasses rather than the 100 fine classes, so ``coarse_labels`` are the targets.

    Args:
        data_dir: Folder containing ``cifar-100-python`` or that folder itself.

    Returns:
        :class:`ImageSplits` with 50,000 train and 10,000 test ``uint8`` images
        ``(N, 32, 32, 3)`` for the full release, 20 classes, names from ``meta``'s
        ``coarse_label_names`` when present, and the usual CIFAR-100 mean/std.

    Raises:
        DatasetFormatError: The folder or a file is missing or malformed.
    """
    root = _resolve_root(
        data_dir, CIFAR100_20_NAME, CIFAR100_FOLDER, CIFAR100_TRAIN_FILE, _CIFAR100_LAYOUT
    )
    train_x, train_y = _load_batches(
        root, (CIFAR100_TRAIN_FILE,), "coarse_labels", 20, CIFAR100_20_NAME, _CIFAR100_LAYOUT
    )
    test_x, test_y = _load_batches(
        root, (CIFAR100_TEST_FILE,), "coarse_labels", 20, CIFAR100_20_NAME, _CIFAR100_LAYOUT
    )
    names = _class_names(
        root, CIFAR100_META_FILE, "coarse_label_names", 20, CIFAR100_20_NAME, _CIFAR100_LAYOUT
    )
    return ImageSplits(
        name=CIFAR100_20_NAME,
        train_images=train_x,
        train_targets=train_y,
        test_images=test_x,
        test_targets=test_y,
        num_classes=20,
        mean=CIFAR100_MEAN,
        std=CIFAR100_STD,
        class_names=names,
    )
