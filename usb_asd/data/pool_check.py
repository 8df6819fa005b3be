"""A run's images, checked before training and remembered: every pixel decodes, and the pool has a fingerprint.

:func:`prepare_splits` reads a data set once per run: it lists it
(:func:`usb_asd.data.registry.load_splits`), decodes every image file with the
function training uses (:func:`usb_asd.data.image_io.check_images`), names the
first file that fails or, with ``skip_bad_images: True``, leaves the failing
files out and lists them. The learner's ``set_dataset`` then takes the same
splits (:func:`run_splits`) instead of listing the folder again.

:func:`pool_fingerprint` summarises the training pool (sorted paths relative to
the data folder and file sizes, or a hash of the pixel array) so that a resumed
run can refuse a checkpoint trained on other data.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .image_io import ImageReadError, check_images
from .splits import ImageSplits, ImageStore

#: Bad files named in a message (all of them are in the log and results.json).
_NAMED = 3

#: Splits prepared by this process: ``key -> (splits, skipped)``; one entry per data set of the current run.
_PREPARED: Dict[Tuple, Tuple[ImageSplits, List[str]]] = {}


def image_paths(store: Optional[ImageStore]) -> List[str]:
    """The file paths of a path-based image store (empty for pixel arrays)."""
    if isinstance(store, list) and all(isinstance(item, str) for item in store):
        return store
    return []


def _key(name: str, data_dir: str, num_classes: Optional[int]) -> Tuple:
    return name, os.path.abspath(data_dir or ""), num_classes


def _without(splits: ImageSplits, bad: set) -> ImageSplits:
    """``splits`` without the image files in ``bad`` (targets follow their images)."""
    def keep(images, targets):
        if not image_paths(images):
            return images, targets
        mask = np.asarray([path not in bad for path in images], dtype=bool)
        return [p for p, k in zip(images, mask) if k], np.asarray(targets)[mask]

    same = splits.test_images is splits.train_images
    train, train_targets = keep(splits.train_images, splits.train_targets)
    test, test_targets = (train, train_targets) if same else keep(splits.test_images, splits.test_targets)
    extra = splits.extra_train_images
    if image_paths(extra):
        extra = [p for p in extra if p not in bad]
    return replace(splits, train_images=train, train_targets=train_targets, test_images=test,
                   test_targets=test_targets, extra_train_images=extra)


def check_pixels(splits: ImageSplits, skip_bad: bool, workers: Optional[int] = None) -> Tuple[ImageSplits, List[str]]:
    """Decode every image file of ``splits``; refuse a bad one, or leave the bad ones out when asked.

    Args:
        splits: A data set as its loader returned it.
        skip_bad: ``skip_bad_images``: leave out files that fail instead of stopping.
        workers: Decoding processes (default: :func:`usb_asd.data.image_io.check_images`'s).

    Returns:
        ``(splits, skipped)``: the splits (without the bad files when skipping) and the
        paths left out.

    Raises:
        ImageReadError: a file fails and ``skip_bad`` is false (naming the first, and how many
            fail), or every training image fails.
    """
    seen = set()
    paths = []
    for store in (splits.train_images, splits.extra_train_images, splits.test_images):
        for path in image_paths(store):
            if path not in seen:
                seen.add(path)
                paths.append(path)
    if not paths:
        return splits, []
    bad = check_images(paths, workers)
    if not bad:
        return splits, []
    named = ", ".join(os.path.basename(path) for path, _ in bad[:_NAMED]) + (", ..." if len(bad) > _NAMED else "")
    if not skip_bad:
        raise ImageReadError(
            f"{bad[0][1]}; {len(bad)} of {len(paths)} images cannot be decoded ({named}); remove or replace "
            "them, or set skip_bad_images: True to train without them"
        )
    kept = _without(splits, {path for path, _ in bad})
    if not len(kept.train_images):
        raise ImageReadError(f"{bad[0][1]}; none of the {len(paths)} images can be decoded (skip_bad_images: True "
                             "would leave no training image)")
    return kept, [path for path, _ in bad]


def prepare_splits(name: str, data_dir: str, num_classes: Optional[int], skip_bad: bool,
                   check: bool = True, workers: Optional[int] = None) -> Tuple[ImageSplits, List[str]]:
    """List a data set, check every pixel, and keep the result for the run's ``set_dataset``.

    Args:
        name: ``dataset:`` (or ``da_target_dataset:``) value.
        data_dir: Where it lives.
        num_classes: ``num_classes:`` (unlabelled folders need it).
        skip_bad: ``skip_bad_images``.
        check: ``check_images``: decode every image (``False`` lists only; a damaged file then
            stops the run when training reaches it).
        workers: Decoding processes.

    Returns:
        ``(splits, skipped paths)``.

    Raises:
        UserError: a missing or malformed folder (:class:`~usb_asd.data.splits.DatasetFormatError`),
            an image that cannot be decoded (:class:`~usb_asd.data.image_io.ImageReadError`).
    """
    from .registry import load_splits

    splits, skipped = load_splits(name, data_dir, num_classes), []
    if check:
        splits, skipped = check_pixels(splits, skip_bad, workers)
    _PREPARED[_key(name, data_dir, num_classes)] = (splits, skipped)
    return splits, skipped


def run_splits(name: str, data_dir: str, num_classes: Optional[int], skipped: Sequence[str] = ()) -> ImageSplits:
    """The splits a run trains on: those :func:`prepare_splits` checked, or (another process) listed again.

    Args:
        name: ``dataset:`` value.
        data_dir: Where it lives.
        num_classes: ``num_classes:``.
        skipped: Files the checking process left out (``skip_bad_images``); left out here too.
    """
    from .registry import load_splits

    prepared = _PREPARED.get(_key(name, data_dir, num_classes))
    if prepared is not None:
        return prepared[0]
    splits = load_splits(name, data_dir, num_classes)
    return _without(splits, set(skipped)) if skipped else splits


def forget_prepared() -> None:
    """Drop the splits kept for the run that just ended (a process may run several)."""
    _PREPARED.clear()


def _feed_store(digest, store: Optional[ImageStore], root: str) -> int:
    """Add one image store to ``digest``; returns its number of images."""
    if store is None:
        return 0
    paths = image_paths(store)
    if paths or isinstance(store, list):
        for path in paths:
            try:
                size = os.stat(path).st_size
            except OSError:
                size = -1
            name = os.path.relpath(path, root) if root else path
            digest.update(f"{name}\0{size}\n".encode("utf-8", "surrogateescape"))
        return len(store)
    array = np.asarray(store) if not isinstance(store, np.ndarray) else store
    digest.update(f"{array.dtype.str}{array.shape}".encode())
    filename = getattr(store, "filename", None)
    if isinstance(store, np.memmap) and filename:
        # A memory-mapped file (STL-10's 2.7 GB unlabelled split): its name, size and place, not its bytes.
        relative = os.path.relpath(filename, root) if root else str(filename)
        digest.update(f"{relative}\0{os.path.getsize(filename)}\0{getattr(store, 'offset', 0)}".encode())
    else:
        digest.update(memoryview(np.ascontiguousarray(array)).cast("B"))
    return int(array.shape[0]) if array.ndim else 0


def pool_fingerprint(splits: ImageSplits, data_dir: str = "") -> Dict[str, Any]:
    """What identifies a run's training pool, for a resume to compare.

    Args:
        splits: The data set as the run trains on it.
        data_dir: The data folder; file paths are taken relative to it, so a moved folder still matches.

    Returns:
        ``{"dataset", "images", "digest", "data_dir"}``: the pool's size and a SHA-256 over its
        sorted paths and file sizes (files) or its pixel array (arrays); ``data_dir`` only for messages.
    """
    root = os.path.abspath(data_dir) if data_dir else ""
    digest = hashlib.sha256()
    count = _feed_store(digest, splits.train_images, root)
    count += _feed_store(digest, splits.extra_train_images, root)
    return {"dataset": splits.name, "images": int(count), "digest": digest.hexdigest(), "data_dir": root}


def describe_change(recorded: Dict[str, Any], current: Dict[str, Any]) -> Optional[str]:
    """What differs between two pool fingerprints, in words; ``None`` when they match.

    Args:
        recorded: The fingerprint a checkpoint carries.
        current: This run's.
    """
    if recorded.get("digest") == current.get("digest"):
        return None
    parts = []
    if recorded.get("dataset") != current.get("dataset"):
        parts.append(f"dataset {recorded.get('dataset')} -> {current.get('dataset')}")
    if recorded.get("images") != current.get("images"):
        parts.append(f"{recorded.get('images')} -> {current.get('images')} training images")
    else:
        parts.append(f"the same number of images ({current.get('images')}) but other files or contents")
    if recorded.get("data_dir") != current.get("data_dir"):
        parts.append(f"data_dir {recorded.get('data_dir') or '(none)'} -> {current.get('data_dir') or '(none)'}")
    return "; ".join(parts)
