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
decoded later by :func:`usb_asd.data.image_io.load_image` (a run decodes every
one before training: :mod:`usb_asd.data.pool_check`).

Each file is read once: folder links are followed once per real folder (a link
back to a folder above is skipped with a warning; a second link to a folder
already read is an error), and two paths to the same file (links, hard links)
are an error naming them, so the pool never grows silently. A symbolic link
loop or a broken link among the images is an error naming it.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from usb_asd.config import ConfigError
from usb_asd.data.splits import UNKNOWN_TARGET, DatasetFormatError, ImageSplits

log = logging.getLogger("usb_asd")

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


#: What a folder must hold besides its layout: each image once, as a file.
_ONCE = "each image once, as a regular file or a symbolic link to one"


@dataclass
class _Walk:
    """The state of reading one split: real folders already read, and links skipped because they loop.

    Args:
        split_dir: The split folder.
        folders: Real path of each folder read -> the path it was first read under.
        loops: Folder links that lead back to a folder above them (not followed).
    """

    split_dir: str
    folders: Dict[str, str] = field(default_factory=dict)
    loops: List[str] = field(default_factory=list)

    def enter(self, path: str, ancestors: Tuple[str, ...]) -> Optional[str]:
        """The real path of folder ``path`` if it is to be read, ``None`` for a loop.

        Raises:
            DatasetFormatError: the folder was already read under another path (two links to it).
        """
        real = os.path.realpath(path)
        if real in ancestors:
            # A link to a folder above (class_a/up -> ..): following it would read the tree again.
            self.loops.append(path)
            return None
        if real in self.folders:
            raise DatasetFormatError(
                FOLDER_NAME, self.split_dir, _ONCE,
                f"'{path}' is the same folder as '{self.folders[real]}' (a symbolic link to it); its images "
                "would be read twice: remove the extra link",
            )
        self.folders[real] = path
        return real


def _image_stat(split_dir: str, path: str) -> os.stat_result:
    """The ``stat`` of the file an image path names, following links; one error for anything but a file.

    Raises:
        DatasetFormatError: a symbolic link loop, a broken link, something other than a
            regular file (a FIFO would block the reader), or a file the OS refuses to stat.
    """
    try:
        info = os.stat(path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            problem = f"'{path}' is a symbolic link loop (following it leads back to it); remove or fix the link"
        elif error.errno == errno.ENOENT and os.path.islink(path):
            problem = (f"'{path}' is a broken symbolic link (its target {os.readlink(path)!r} does not exist); "
                       "remove or fix the link")
        else:
            problem = f"cannot read '{path}': {error.strerror or error}"
        raise DatasetFormatError(FOLDER_NAME, split_dir, _ONCE, problem) from error
    if not stat.S_ISREG(info.st_mode):
        raise DatasetFormatError(FOLDER_NAME, split_dir, _ONCE, f"'{path}' is not a regular file")
    return info


def _entries(split_dir: str, folder: str) -> List[os.DirEntry]:
    """The visible entries of ``folder``, sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as error:
        raise DatasetFormatError(FOLDER_NAME, split_dir, _LAYOUT,
                                 f"cannot list '{folder}': {error.strerror or error}") from error


def _is_folder(entry: os.DirEntry) -> bool:
    """Whether an entry is a folder, following links (a broken link or a link loop is not)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _images_under(folder: str, walk: _Walk, ancestors: Tuple[str, ...]) -> List[Tuple[str, os.stat_result]]:
    """All image files below ``folder``, recursively, skipping hidden entries; each real folder read once.

    Args:
        folder: A class folder (already entered in ``walk``).
        walk: The split's reading state.
        ancestors: Real paths of ``folder`` and the folders above it, up to the split folder.

    Returns:
        ``[(path, stat)]`` in walk order.
    """
    found = []
    pending = [(folder, ancestors)]
    while pending:
        current, above = pending.pop()
        for entry in _entries(walk.split_dir, current):
            if _is_folder(entry):
                real = walk.enter(entry.path, above)
                if real is not None:
                    pending.append((entry.path, above + (real,)))
            elif _is_image(entry.name):
                found.append((entry.path, _image_stat(walk.split_dir, entry.path)))
    return found


def _refuse_duplicates(split_dir: str, files: List[Tuple[str, os.stat_result]]) -> None:
    """One error when two listed paths are the same file (links to one file, hard links).

    Raises:
        DatasetFormatError: naming the first pair and how many paths repeat a file.
    """
    first: Dict[Tuple[int, int], str] = {}
    repeats = []
    for path, info in sorted(files):
        key = (info.st_dev, info.st_ino)
        if key in first:
            repeats.append((first[key], path))
        else:
            first[key] = path
    if repeats:
        a, b = repeats[0]
        raise DatasetFormatError(
            FOLDER_NAME, split_dir, _ONCE,
            f"{len(repeats)} image path(s) repeat a file already listed (first: '{b}' is the same file as "
            f"'{a}', real path '{os.path.realpath(b)}'); the pool would hold those images twice: remove the "
            "extra links or copies",
        )


def _scan_split(split_dir: str) -> Tuple[List[str], Optional[List[str]], np.ndarray]:
    """Read one split folder.

    Folder links are followed once per real folder: a link back to a folder above is
    skipped (with a warning), a second link to a folder already read is an error, and
    so is the same file listed twice.

    Args:
        split_dir: The split folder (``train``, ``test`` or the single tree).

    Returns:
        ``(paths, class_names, targets)``: paths sorted; ``class_names`` the sorted
        class-folder names, or ``None`` when images lie directly in ``split_dir``;
        targets the class index of each path, or :data:`UNKNOWN_TARGET`.

    Raises:
        DatasetFormatError: Loose images next to class folders, a class folder with
            no images, no images at all, a file or folder reached twice, a symbolic
            link loop or broken link among the images.
    """
    walk = _Walk(split_dir)
    root = os.path.realpath(split_dir)
    walk.folders[root] = split_dir
    visible = _entries(split_dir, split_dir)
    loose = [(e.path, _image_stat(split_dir, e.path)) for e in visible
             if _is_image(e.name) and not _is_folder(e)]
    subdirs: List[str] = []
    class_images: Dict[str, List[Tuple[str, os.stat_result]]] = {}
    for entry in visible:
        if not _is_folder(entry):
            continue
        real = walk.enter(entry.path, (root,))
        if real is None:
            continue
        subdirs.append(entry.name)
        class_images[entry.name] = _images_under(entry.path, walk, (root, real))
    if walk.loops:
        log.warning("dataset 'folder': %d folder link(s) lead back to a folder above them and were not "
                    "followed (each image is read once): %s", len(walk.loops), ", ".join(walk.loops[:5]))
    _refuse_duplicates(split_dir, loose + [item for name in subdirs for item in class_images[name]])

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
        paths = sorted(path for path, _ in loose)
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
        (path, index) for index, name in enumerate(subdirs) for path, _ in class_images[name]
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
            folder, test class folders that train lacks, a file or folder reached twice
            through links, a symbolic link loop or a broken link.
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
