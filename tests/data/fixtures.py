"""Builders of tiny datasets in each standard on-disk format, for the loader tests.

Every builder writes into a given folder (usually pytest's ``tmp_path``) and returns
what a correct reader must give back, so tests compare against known values.
Pixel values come from :func:`pattern`, which differs per image, channel, row and
column, so any swap of axes or images shows up as a mismatch.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
from PIL import Image

CIFAR10_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
]
CIFAR100_COARSE_NAMES = [f"superclass_{i:02d}" for i in range(20)]
STL10_NAMES = [
    "airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck",
]


def pattern(index: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    """A ``uint8`` image whose every pixel value depends on (image, row, column, channel).

    Args:
        index: Image number; shifts all values so images differ.
        height: Rows.
        width: Columns.
        channels: Channels.

    Returns:
        ``(height, width, channels)`` ``uint8`` array.
    """
    y, x, c = np.meshgrid(
        np.arange(height), np.arange(width), np.arange(channels), indexing="ij"
    )
    # Coprime-ish coefficients: transposing rows/columns or permuting channels changes values.
    return ((index * 37 + y * 3 + x * 7 + c * 85) % 256).astype(np.uint8)


def _dump(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(obj, handle)


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """Encode ``(N, 32, 32, 3)`` images as the release's rows: R plane, G plane, B plane."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def write_cifar10(
    root: Path,
    per_batch: int = 2,
    n_test: int = 3,
    with_meta: bool = True,
    str_keys: bool = False,
) -> Dict[str, object]:
    """Write a CIFAR-10 python release at ``root/cifar-10-batches-py``.

    Args:
        root: Parent folder.
        per_batch: Images in each of ``data_batch_1..5``.
        n_test: Images in ``test_batch``.
        with_meta: Write ``batches.meta``.
        str_keys: Use ``str`` keys (as ``encoding='latin1'`` yields from the real files)
            instead of ``bytes`` keys.

    Returns:
        ``dir`` (the release folder), ``train_images``, ``train_targets``,
        ``test_images``, ``test_targets``.
    """
    key = (lambda k: k) if str_keys else (lambda k: k.encode())
    folder = Path(root) / "cifar-10-batches-py"
    n_train = 5 * per_batch
    train = np.stack([pattern(i, 32, 32) for i in range(n_train)])
    train_y = [(3 * i + 1) % 10 for i in range(n_train)]
    for b in range(5):
        sl = slice(b * per_batch, (b + 1) * per_batch)
        _dump(folder / f"data_batch_{b + 1}", {
            key("batch_label"): f"training batch {b + 1} of 5".encode(),
            key("labels"): train_y[sl],
            key("data"): _cifar_rows(train[sl]),
            key("filenames"): [b"x.png"] * per_batch,
        })
    test = np.stack([pattern(100 + i, 32, 32) for i in range(n_test)])
    test_y = [(7 * i + 2) % 10 for i in range(n_test)]
    _dump(folder / "test_batch", {key("labels"): test_y, key("data"): _cifar_rows(test)})
    if with_meta:
        _dump(folder / "batches.meta", {
            key("label_names"): [n.encode() for n in CIFAR10_NAMES],
            key("num_vis"): 3072,
        })
    return {
        "dir": folder, "train_images": train, "train_targets": np.asarray(train_y),
        "test_images": test, "test_targets": np.asarray(test_y),
    }


def write_cifar100(
    root: Path, n_train: int = 6, n_test: int = 4, with_meta: bool = True
) -> Dict[str, object]:
    """Write a CIFAR-100 python release at ``root/cifar-100-python``.

    Fine labels are chosen to differ from coarse ones, so a reader using the wrong
    key is caught.

    Args:
        root: Parent folder.
        n_train: Images in ``train``.
        n_test: Images in ``test``.
        with_meta: Write ``meta``.

    Returns:
        ``dir``, ``train_images``, ``train_coarse``, ``train_fine``, ``test_images``,
        ``test_coarse``.
    """
    folder = Path(root) / "cifar-100-python"
    out: Dict[str, object] = {"dir": folder}
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 50)):
        images = np.stack([pattern(offset + i, 32, 32) for i in range(n)])
        coarse = [(i * 3 + 5 + offset) % 20 for i in range(n)]
        fine = [c * 5 + 4 for c in coarse]  # always >= 20 or != coarse
        _dump(folder / split, {
            b"filenames": [b"x.png"] * n,
            b"batch_label": split.encode(),
            b"fine_labels": fine,
            b"coarse_labels": coarse,
            b"data": _cifar_rows(images),
        })
        out[f"{split}_images"] = images
        out[f"{split}_coarse"] = np.asarray(coarse)
        out[f"{split}_fine"] = np.asarray(fine)
    if with_meta:
        _dump(folder / "meta", {
            b"fine_label_names": [f"fine_{i}".encode() for i in range(100)],
            b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE_NAMES],
        })
    return out


def stl10_encode(images: np.ndarray) -> bytes:
    """Encode ``(N, 96, 96, 3)`` images as STL-10 stores them: per channel, column-major."""
    # (N, row, col, ch) -> (N, ch, col, row): the row index varies fastest on disk.
    return np.ascontiguousarray(images.transpose(0, 3, 2, 1)).tobytes()


def write_stl10(
    root: Path,
    n_train: int = 3,
    n_test: int = 2,
    n_unlabeled: Optional[int] = 2,
    with_names: bool = True,
) -> Dict[str, object]:
    """Write an STL-10 binary release at ``root/stl10_binary``.

    Args:
        root: Parent folder.
        n_train: Images in ``train_X.bin``.
        n_test: Images in ``test_X.bin``.
        n_unlabeled: Images in ``unlabeled_X.bin``; ``None`` to omit the file.
        with_names: Write ``class_names.txt``.

    Returns:
        ``dir``, ``train_images``, ``train_labels`` (1-based, as on disk),
        ``test_images``, ``test_labels``, ``unlabeled_images`` (or ``None``).
    """
    folder = Path(root) / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    out: Dict[str, object] = {"dir": folder, "unlabeled_images": None}
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 20)):
        images = np.stack([pattern(offset + i, 96, 96) for i in range(n)])
        # A distinct top-left pixel makes orientation errors obvious.
        images[:, 0, 0] = (255, 0, 128)
        labels = np.asarray([(i * 3) % 10 + 1 for i in range(n)], dtype=np.uint8)
        labels[0] = 10  # include the top label, which must become 9
        (folder / f"{split}_X.bin").write_bytes(stl10_encode(images))
        (folder / f"{split}_y.bin").write_bytes(labels.tobytes())
        out[f"{split}_images"] = images
        out[f"{split}_labels"] = labels
    if n_unlabeled is not None:
        images = np.stack([pattern(40 + i, 96, 96) for i in range(n_unlabeled)])
        (folder / "unlabeled_X.bin").write_bytes(stl10_encode(images))
        out["unlabeled_images"] = images
    if with_names:
        (folder / "class_names.txt").write_text("\n".join(STL10_NAMES) + "\n")
    return out


def write_image(path: Path, array: np.ndarray, **save_kwargs: object) -> Path:
    """Save ``array`` (``H x W x C`` or ``H x W``) with PIL, format from the extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    Image.fromarray(array).save(path, **save_kwargs)
    return path


def write_imagenet_folders(
    root: Path, wnids: Sequence[str], per_class: int = 2, ext: str = ".JPEG"
) -> List[Path]:
    """Write ``root/<wnid>/<wnid>_<i><ext>`` tiny images, ILSVRC-style.

    Args:
        root: Folder to hold the ``<wnid>`` folders (e.g. ``<imagenet>/train``).
        wnids: Folders to create.
        per_class: Images per folder.
        ext: File extension (case kept, to test case-insensitive matching).

    Returns:
        All written paths.
    """
    paths = []
    for w, wnid in enumerate(wnids):
        for i in range(per_class):
            fmt = "JPEG" if ext.lower() in (".jpeg", ".jpg") else None
            path = Path(root) / wnid / f"{wnid}_{i}{ext}"
            paths.append(write_image(path, pattern(w + i, 4, 4), format=fmt))
    return paths


def write_class_tree(
    root: Path, class_counts: Dict[str, int], ext: str = ".png", start: int = 0
) -> Dict[str, List[Path]]:
    """Write ``root/<class>/img_<i><ext>`` images.

    Args:
        root: Split folder.
        class_counts: Images per class folder name.
        ext: Extension.
        start: Offset for :func:`pattern` so splits differ.

    Returns:
        Written paths per class name.
    """
    out: Dict[str, List[Path]] = {}
    for c, (name, count) in enumerate(class_counts.items()):
        out[name] = [
            write_image(Path(root) / name / f"img_{i}{ext}", pattern(start + c * 10 + i, 4, 4))
            for i in range(count)
        ]
    return out


def write_loose_images(root: Path, names: Sequence[str]) -> List[Path]:
    """Write tiny images named ``names`` directly in ``root``."""
    return [write_image(Path(root) / n, pattern(i, 4, 4)) for i, n in enumerate(names)]


def relpaths(paths: Sequence[str], root: Path) -> List[str]:
    """Paths relative to ``root`` with ``/`` separators, for readable assertions."""
    return [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
