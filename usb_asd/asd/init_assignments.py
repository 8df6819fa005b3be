"""A clustering given by the user, read and checked against the training pool.

ASD can start from an existing clustering instead of cold
(``asd_init_assignments``), and the self-labelling baseline trains on the
most confident images of one (``selflabel_assignments``). Both read it here, in
one of two forms:

* a CSV with the columns of the project's own ``assignments.csv``
  (:data:`usb_asd.outputs.assignments.COLUMNS`), at least ``image`` and
  ``cluster``. With a ``split`` column only the rows of split ``train`` (the
  training pool) are read, so a run's own ``assignments.csv`` (pool and test
  rows) is a valid start; without one every row is a pool image. ``image`` is
  the file path for image folders (compared as absolute paths, so a relative
  and an absolute spelling of one file match) and the index in the pool for
  array data sets; ``confidence``, when present, is kept;
* a ``.npy`` of integer cluster ids, one per pool image in pool order.

Checked: every pool image appears exactly once and nothing else does; cluster
ids are integers in ``[0, num_classes)`` and all ``num_classes`` of them occur
(a start with fewer clusters would leave some of the run's clusters without a
single label); the ``.npy`` has the pool's length. Every problem is an
:class:`AssignmentsFileError` naming the key, the file and what was expected.

Plain numpy and the csv module; nothing here imports semilearn.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..errors import UserError

__all__ = ["AssignmentsFileError", "GivenAssignments", "read_given_assignments", "given_fingerprint"]

#: The split whose rows are the training pool in an ``assignments.csv``.
POOL_SPLIT = "train"
#: Pool images named in a message before "...".
_NAMED = 3


class AssignmentsFileError(UserError, ValueError):
    """A given clustering cannot be used: the message names the key, the file and what was expected."""


@dataclass
class GivenAssignments:
    """A clustering of the training pool, in pool order.

    Args:
        clusters: ``(N,)`` int64 cluster id of each pool image, in ``[0, k)``.
        confidence: ``(N,)`` float64 confidence of each assignment (the CSV's ``confidence``
            column), or None where the file has none.
        path: The file it was read from.
    """

    clusters: np.ndarray
    confidence: Optional[np.ndarray]
    path: str


def _name_key(name: str, paths: bool) -> str:
    """How a pool image and a row are compared: absolute normalised paths, or the index as written."""
    name = name.strip()
    return os.path.normcase(os.path.abspath(name)) if paths else name


def _names_are_paths(pool_names: Sequence[str]) -> bool:
    """Whether the pool is named by file paths (an array data set's names are its indices ``0..N-1``)."""
    return not (len(pool_names) and pool_names[0] == "0" and pool_names[-1] == str(len(pool_names) - 1))


def _examples(names: Sequence[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_NAMED])
    return shown + (", ..." if len(names) > _NAMED else "")


def _read_csv(path: str, key: str, pool_names: Sequence[str]) -> GivenAssignments:
    """Rows of the pool from a CSV, matched to the pool by ``image``."""
    where = f"{key}: {path}"
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("image", "cluster") if c not in columns]
            if missing:
                raise AssignmentsFileError(
                    f"{where} is not an assignments CSV: no column {' or '.join(repr(c) for c in missing)} "
                    f"(columns {columns}); expected a header with at least 'image' and 'cluster', as in a "
                    "run's assignments.csv")
            reader.fieldnames = columns
            rows = [row for row in reader if "split" not in columns or (row.get("split") or "").strip() == POOL_SPLIT]
    except UnicodeDecodeError as error:
        raise AssignmentsFileError(f"{where} is not a UTF-8 text CSV ({error.reason} at byte {error.start}); "
                                   "expected an assignments CSV or a .npy of cluster ids") from error
    except csv.Error as error:
        raise AssignmentsFileError(f"{where} is a malformed CSV ({error})") from error
    if not rows:
        which = f" of split '{POOL_SPLIT}'" if "split" in columns else ""
        raise AssignmentsFileError(f"{where} holds no rows{which}: expected one row per training pool image")
    paths = _names_are_paths(pool_names)
    position = {_name_key(name, paths): i for i, name in enumerate(pool_names)}
    clusters = np.full(len(pool_names), -1, dtype=np.int64)
    confidence = np.full(len(pool_names), np.nan) if "confidence" in columns else None
    seen = np.zeros(len(pool_names), dtype=bool)
    strangers: List[str] = []
    for line, row in enumerate(rows, start=2):
        image = (row.get("image") or "").strip()
        i = position.get(_name_key(image, paths)) if image else None
        if i is None:
            strangers.append(image)
            continue
        if seen[i]:
            raise AssignmentsFileError(f"{where} lists image {image!r} twice; expected one row per pool image")
        seen[i] = True
        clusters[i] = _cluster_id(row.get("cluster"), where, image)
        if confidence is not None:
            confidence[i] = _confidence(row.get("confidence"), where, image)
    if strangers:
        raise AssignmentsFileError(
            f"{where} names {len(strangers)} image(s) that are not in the training pool ({_examples(strangers)}); "
            f"expected the pool's {len(pool_names)} images ({'file paths' if paths else 'indices 0..N-1'}, as a "
            "run of this config writes them in assignments.csv)")
    if not seen.all():
        absent = [pool_names[i] for i in np.flatnonzero(~seen)]
        raise AssignmentsFileError(
            f"{where} lacks {len(absent)} of the {len(pool_names)} training pool images ({_examples(absent)}); "
            "expected one row per pool image")
    return GivenAssignments(clusters, confidence, path)


def _cluster_id(text: Optional[str], where: str, image: str) -> int:
    value = (text or "").strip()
    try:
        return int(value)
    except ValueError:
        raise AssignmentsFileError(f"{where}: image {image!r} has cluster {value!r}; expected an integer "
                                   "cluster id") from None


def _confidence(text: Optional[str], where: str, image: str) -> float:
    value = (text or "").strip()
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number):
        raise AssignmentsFileError(f"{where}: image {image!r} has confidence {value!r}; expected a finite number "
                                   "(or no confidence column)")
    return number


def _read_npy(path: str, key: str, num_images: int) -> GivenAssignments:
    """Cluster ids in pool order from a ``.npy``."""
    where = f"{key}: {path}"
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise AssignmentsFileError(f"{where} cannot be read as a .npy array ({error}); expected a .npy of "
                                   "integer cluster ids in pool order") from error
    if not isinstance(array, np.ndarray) or array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        shape = getattr(array, "shape", None)
        dtype = getattr(array, "dtype", type(array).__name__)
        raise AssignmentsFileError(f"{where} holds an array of shape {shape} and type {dtype}; expected a 1-d "
                                   "array of integer cluster ids, one per pool image")
    if array.shape[0] != num_images:
        raise AssignmentsFileError(f"{where} holds {array.shape[0]} cluster ids but the training pool has "
                                   f"{num_images} images; expected one id per pool image, in pool order")
    return GivenAssignments(array.astype(np.int64), None, path)


def _check_clusters(given: GivenAssignments, key: str, num_classes: int) -> None:
    where = f"{key}: {given.path}"
    ids = given.clusters
    bad = ids[(ids < 0) | (ids >= num_classes)]
    if bad.size:
        raise AssignmentsFileError(
            f"{where} holds cluster id {int(bad.max() if bad.max() >= num_classes else bad.min())} "
            f"({bad.size} image(s) outside 0..{num_classes - 1}); expected ids in [0, num_classes = "
            f"{num_classes}): set num_classes to the clustering's number of clusters")
    used = np.unique(ids).size
    if used < num_classes:
        raise AssignmentsFileError(
            f"{where} uses {used} distinct clusters but num_classes is {num_classes}; expected all "
            f"{num_classes}: set num_classes: {used} or start from a clustering with {num_classes} clusters")


def read_given_assignments(path: str, pool_names: Sequence[str], num_classes: int,
                           key: str = "asd_init_assignments") -> GivenAssignments:
    """Read a clustering of the training pool and check it (see the module docstring).

    Args:
        path: A ``.csv`` (assignments columns) or a ``.npy`` (cluster ids in pool order).
        pool_names: What names each pool image, in pool order: its file path for image
            folders, its index for array data sets (``usb_asd.outputs.assignments.image_names``).
        num_classes: ``k``: ids must lie in ``[0, k)`` and all ``k`` occur.
        key: The config key that named the file (for messages).

    Returns:
        The clustering in pool order.

    Raises:
        AssignmentsFileError: a missing or malformed file, images not in the pool or pool
            images missing, ids out of range, fewer than ``k`` clusters, a ``.npy`` of the wrong length.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise AssignmentsFileError(f"{key}: {path} does not exist or is not a file; expected an assignments "
                                   "CSV or a .npy of cluster ids")
    extension = os.path.splitext(path)[1].lower()
    if extension == ".npy":
        given = _read_npy(path, key, len(pool_names))
    elif extension == ".csv":
        given = _read_csv(path, key, list(pool_names))
    else:
        raise AssignmentsFileError(f"{key}: {path} has extension {extension or '(none)'!r}; expected a .csv "
                                   "(assignments columns) or a .npy (cluster ids in pool order)")
    _check_clusters(given, key, int(num_classes))
    return given


def given_fingerprint(given: GivenAssignments) -> Dict[str, Any]:
    """What identifies a given clustering, for a resumed run to compare with the one it started from.

    Returns:
        ``{"path", "images", "digest"}``: the file, the pool size, and a SHA-256 of the cluster ids
        in pool order (and the confidences, where given).
    """
    digest = hashlib.sha256(np.ascontiguousarray(given.clusters, dtype=np.int64).tobytes())
    if given.confidence is not None:
        digest.update(np.ascontiguousarray(given.confidence, dtype=np.float64).tobytes())
    return {"path": os.path.abspath(given.path), "images": int(given.clusters.size), "digest": digest.hexdigest()}
