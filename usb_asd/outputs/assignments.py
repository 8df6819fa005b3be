"""Per-image cluster assignments of a clustering run: ``assignments.csv``.

One row per image of the training pool and of the test split::

    split,image,cluster,confidence,true_class
    train,/data/photos/a.png,2,0.9731,
    test,17,0,0.5012,3

* ``image``: the file path for image folders, the index in the split for array data sets;
* ``cluster``: the argmax of the final model's cluster head, the raw id that
  ACC matches to classes (so ACC computed from this file equals the run's);
* ``confidence``: the largest softmax probability of that head;
* ``true_class``: the ground-truth class index where the data set has one
  (read for scoring only), empty otherwise.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Callable, Iterable, List, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..core.atomic_io import write_text_atomic
from ..data.eval_view import EvalView
from ..metrics import clustering_scores

#: Columns of ``assignments.csv``, in order.
COLUMNS = ("split", "image", "cluster", "confidence", "true_class")


@dataclass
class SplitAssignments:
    """The assignments of one split.

    Args:
        split: ``"train"`` (the training pool) or ``"test"``.
        images: Per image, its file path or its index (as text).
        clusters: ``(n,)`` cluster ids (argmax of the logits).
        confidence: ``(n,)`` max softmax probability.
        true_class: ``(n,)`` class index, ``-1`` where unknown.
    """

    split: str
    images: List[str]
    clusters: np.ndarray
    confidence: np.ndarray
    true_class: np.ndarray

    @classmethod
    def from_logits(cls, split: str, images: Sequence[str], logits: np.ndarray,
                    true_class: Optional[np.ndarray] = None) -> "SplitAssignments":
        """Assignments from ``(n, k)`` logits (argmax and max softmax)."""
        logits = np.asarray(logits, dtype=np.float64)
        if logits.ndim != 2 or logits.shape[0] != len(images):
            raise ValueError(f"logits of shape {logits.shape} for {len(images)} images")
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        targets = np.full(len(images), -1, dtype=np.int64) if true_class is None else np.asarray(true_class, np.int64)
        return cls(split, [str(i) for i in images], logits.argmax(axis=1).astype(np.int64),
                   probs.max(axis=1), targets)


def image_names(store, count: int) -> List[str]:
    """What identifies each image of a store: its path when the store holds paths, else its index.

    Args:
        store: A dataset's ``data`` (array, list of paths, or an indexed view of either).
        count: Number of images.
    """
    if count and isinstance(store[0], str):
        return [str(store[i]) for i in range(count)]
    return [str(i) for i in range(count)]


@torch.no_grad()
def dataset_logits(model: torch.nn.Module, dataset, transform: Callable, device: torch.device,
                   batch_size: int, out_key: str = "logits", indices: Optional[np.ndarray] = None) -> np.ndarray:
    """Logits ``(n, k)`` of a model (already in eval mode) on every image of a dataset, in order.

    Args:
        model: Returns a dict with ``out_key`` or a tensor.
        dataset: Has ``__len__`` and ``__sample__(i) -> (image, target)`` (USB's ``BasicDataset``).
        transform: The evaluation transform (PIL image -> tensor).
        device: Where the model is.
        batch_size: Images per forward pass.
        out_key: The output holding the cluster logits.
        indices: Only these images, in this order (``None``: every image).
    """
    loader = DataLoader(EvalView(dataset, transform, indices), batch_size=batch_size, shuffle=False, num_workers=0)
    chunks = []
    for x in loader:
        out = model(x.to(device))
        out = out[out_key] if isinstance(out, dict) else out
        chunks.append(out.float().cpu().numpy())
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(chunks)


def assignments_csv_text(splits: Iterable[SplitAssignments]) -> str:
    """The CSV text of some splits' assignments (columns :data:`COLUMNS`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for part in splits:
        for name, cluster, conf, target in zip(part.images, part.clusters, part.confidence, part.true_class):
            writer.writerow([part.split, name, int(cluster), f"{float(conf):.6f}", "" if target < 0 else int(target)])
    return buffer.getvalue()


def write_assignments_csv(path: str, splits: Iterable[SplitAssignments]) -> None:
    """Write ``assignments.csv`` atomically (a reader never sees half a file)."""
    write_text_atomic(path, assignments_csv_text(splits))


def read_assignments_csv(path: str) -> List[SplitAssignments]:
    """Read an ``assignments.csv`` back, one :class:`SplitAssignments` per split, in file order."""
    parts: dict = {}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames}, expected {list(COLUMNS)}")
        for row in reader:
            rows = parts.setdefault(row["split"], ([], [], [], []))
            rows[0].append(row["image"])
            rows[1].append(int(row["cluster"]))
            rows[2].append(float(row["confidence"]))
            rows[3].append(int(row["true_class"]) if row["true_class"] != "" else -1)
    return [SplitAssignments(split, names, np.asarray(c, np.int64), np.asarray(p), np.asarray(t, np.int64))
            for split, (names, c, p, t) in parts.items()]


def split_scores(part: SplitAssignments) -> Optional[dict]:
    """ACC / NMI / ARI of one split's assignments, or ``None`` when some true class is unknown."""
    if len(part.true_class) == 0 or np.any(part.true_class < 0):
        return None
    return clustering_scores(part.true_class, part.clusters)
