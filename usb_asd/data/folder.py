"""Reader for a folder of the user's own images ("cluster your own images").

Accepted layouts (hidden files and folders, whose names start with ``.``, are skipped)::

    (a) two splits                       (b) one tree, used as train and test
    <data_dir>/train/<class>/*.png       <data_dir>/<class>/*.png
    <data_dir>/test/<class>/*.png        or
    or, unlabelled,                      <data_dir>/*.png
    <data_dir>/train/*.png
    <data_dir>/test/*.png

Layout (a) is chosen whenever ``<data_dir>/train`` is a folder; without
``<data_dir>/test`` the train split is also the test split. Inside a split there
are either class folders (searched recursively for images) or images directly in
the split folder, never both. Images are returned as sorted file paths and
decoded later by :func:`usb_asd.data.image_io.load_image`.
"""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from usb_asd.config import ConfigError
from usb_asd.data.image_io import ImageReadError
from usb_asd.data.splits import UNKNOWN_TARGET, DatasetFormatError, ImageSplits

FOLDER_NAME = "folder"

#: File extensions read as images (compared lower-cased).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")

_LAYOUT = (
    "either <data_dir>/train/ and <data_dir>/test/ splits or a single tree used as both; "
    "inside a split either class folders (<split>/<class_name>/*.png) or images directly "
    "in the split folder (no labels), not both; image extensions: "
    + " ".join(IMAGE_EXTENSIONS)
)


def _is_image(name: str) -> bool:
    """True for a visible file name with an image extension (any case)."""
    return not name.startswith(".") and name.lower().endswith(IMAGE_EXTENSIONS)


def _images_under(folder: str) -> List[str]:
    """All image files below ``folder``, recursively, skipping hidden entries.

    Args:
        folder: A class folder.

    Returns:
        Unsorted image paths.
    """
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        # Pruning in place keeps os.walk out of hidden folders (.git, .ipynb_checkpoints).
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.join(root, f) for f in files if _is_image(f))
    return found


def _scan_split(split_dir: str) -> Tuple[List[str], Optional[List[str]], np.ndarray]:
    """Read one split folder.

    Args:
        split_dir: The split folder (``train``, ``test`` or the single tree).

    Returns:
        ``(paths, class_names, targets)``: paths sorted; ``class_names`` the sorted
        class-folder names, or ``None`` when images lie directly in ``split_dir``;
        targets the class index of each path, or :data:`UNKNOWN_TARGET`.

    Raises:
        DatasetFormatError: Loose images next to class folders, a class folder with
            no images, or no images at all.
    """
    with os.scandir(split_dir) as entries:
        visible = [e for e in entries if not e.name.startswith(".")]
    loose = [e.path for e in visible if e.is_file() and _is_image(e.name)]
    subdirs = sorted(e.name for e in visible if e.is_dir())
    class_images: Dict[str, List[str]] = {
        d: _images_under(os.path.join(split_dir, d)) for d in subdirs
    }

    if loose:
        with_images = [d for d in subdirs if class_images[d]]
        # Sub-folders without images (e.g. an empty "out" folder) are not class folders
        # and do not make the layout ambiguous; ones with images do.
        if with_images:
            raise DatasetFormatError(
                FOLDER_NAME, split_dir, _LAYOUT,
                f"mixed layout: {len(loose)} images directly in the folder and class "
                f"folders with images ({', '.join(with_images[:5])}); use one or the other",
            )
        paths = sorted(loose)
        return paths, None, np.full(len(paths), UNKNOWN_TARGET, dtype=np.int64)

    if not subdirs:
        raise DatasetFormatError(FOLDER_NAME, split_dir, _LAYOUT, "no images found")
    empty = [d for d in subdirs if not class_images[d]]
    if len(empty) == len(subdirs):
        raise DatasetFormatError(FOLDER_NAME, split_dir, _LAYOUT, "no images found")
    if empty:
        # A class with no images would still count towards num_classes and skew scores.
        raise DatasetFormatError(
            FOLDER_NAME, split_dir, _LAYOUT,
            f"class folders without images: {', '.join(empty)}",
        )
    pairs = sorted(
        (path, index) for index, name in enumerate(subdirs) for path in class_images[name]
    )
    return [p for p, _ in pairs], subdirs, np.asarray([t for _, t in pairs], dtype=np.int64)


def _reindex(
    targets: np.ndarray, own: List[str], reference: List[str], split_dir: str
) -> np.ndarray:
    """Map a split's class indices onto the reference class list.

    Args:
        targets: Indices into ``own``.
        own: This split's class-folder names.
        reference: The class names that define the targets (train's).
        split_dir: The split folder, for error messages.

    Returns:
        Indices into ``reference``.

    Raises:
        DatasetFormatError: The split has class folders absent from ``reference``.
    """
    extra = [name for name in own if name not in reference]
    if extra:
        raise DatasetFormatError(
            FOLDER_NAME, split_dir, _LAYOUT,
            f"test class folders absent from train: {', '.join(extra)}",
        )
    lookup = np.asarray([reference.index(name) for name in own], dtype=np.int64)
    return lookup[targets] if len(targets) else targets


def check_readable(paths: List[str]) -> None:
    """Open every image's header, so an unreadable file is named before training, not mid-run.

    Reads headers only (``PIL.Image.open`` is lazy), about a tenth of a millisecond a file.

    Raises:
        ImageReadError: naming the first file PIL cannot identify (an empty,
            truncated-header or non-image file).
    """
    from PIL import Image

    for path in paths:
        try:
            with Image.open(path) as image:
                image.size  # noqa: B018  (the header is parsed by open)
        except Exception as exc:  # PIL raises UnidentifiedImageError, OSError, SyntaxError...
            raise ImageReadError(
                f"cannot read image '{path}' ({type(exc).__name__}: {exc}); remove or replace the file"
            ) from exc


def load_image_folder(data_dir: str, num_classes: Optional[int] = None) -> ImageSplits:
    """Load a folder of images to cluster.

    When class folders exist, the targets are each image's index in the sorted list
    of class-folder names. They are used only to score a clustering (accuracy, NMI,
    ARI), never to train. Without class folders the targets are
    :data:`~usb_asd.data.splits.UNKNOWN_TARGET` and nothing can be scored.

    Args:
        data_dir: Root folder, in one of the layouts of this module's docstring.
        num_classes: Number of clusters. Required when no split has class folders;
            when there are class folders it may be omitted, and if given must equal
            their number.

    Returns:
        :class:`ImageSplits` named ``folder`` (its ``dataset:`` config value) whose
        images are sorted lists of file paths; ``num_classes`` the number of class
        folders (or the argument when unlabelled), ``class_names`` the folder names,
        mean/std ``0.5``.

    Raises:
        DatasetFormatError: Missing folder, no images, mixed layout, an empty class
            folder, or test class folders that train lacks.
        ImageReadError: A file whose header PIL cannot read.
        ConfigError (a ValueError): ``num_classes`` missing for unlabelled images, not a positive
            integer, or different from the number of class folders.
    """
    data_dir = os.path.abspath(os.fspath(data_dir))
    if not os.path.isdir(data_dir):
        raise DatasetFormatError(FOLDER_NAME, data_dir, _LAYOUT, "directory does not exist")
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
        or num_classes < 1
    ):
        raise ConfigError(
            f"dataset '{FOLDER_NAME}': config key `num_classes` must be a positive "
            f"integer, got {num_classes!r}"
        )

    train_dir = os.path.join(data_dir, "train")
    if os.path.isdir(train_dir):
        test_dir = os.path.join(data_dir, "test")
        # With no test/ folder, score on the training images, as clustering usually does.
        if not os.path.isdir(test_dir):
            test_dir = train_dir
    else:
        train_dir = test_dir = data_dir

    train_paths, train_classes, train_targets = _scan_split(train_dir)
    if test_dir == train_dir:
        test_paths, test_classes, test_targets = train_paths, train_classes, train_targets
    else:
        test_paths, test_classes, test_targets = _scan_split(test_dir)
    check_readable(train_paths if test_dir == train_dir else train_paths + test_paths)

    # Train's class folders define the indices; test is mapped onto them by name so a
    # test split missing a class still lines up. Unlabelled train: test's folders decide.
    class_names = train_classes if train_classes is not None else test_classes
    if test_classes is not None and class_names is not test_classes:
        test_targets = _reindex(test_targets, test_classes, class_names, test_dir)

    if class_names is not None:
        if num_classes is not None and int(num_classes) != len(class_names):
            raise ConfigError(
                f"dataset '{FOLDER_NAME}': config key `num_classes` is {num_classes} but "
                f"'{data_dir}' has {len(class_names)} class folders; remove the key or "
                "make it match"
            )
        resolved = len(class_names)
    elif num_classes is None:
        raise ConfigError(
            f"dataset '{FOLDER_NAME}': '{data_dir}' has no class folders, so the number "
            "of clusters is unknown; set the config key `num_classes`"
        )
    else:
        resolved = int(num_classes)

    return ImageSplits(
        name=FOLDER_NAME,
        train_images=train_paths,
        train_targets=train_targets,
        test_images=test_paths,
        test_targets=test_targets,
        num_classes=resolved,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        class_names=list(class_names) if class_names is not None else None,
    )
