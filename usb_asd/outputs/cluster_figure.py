"""``clusters.png``: one row per non-empty cluster with its size and most confident images.

Where true classes exist, the confusion matrix of the test split sits beside
the rows, its clusters (rows) ordered by the class ACC matches them to
(Hungarian matching, :func:`usb_asd.metrics.hungarian_match`), so a good
clustering shows a bright diagonal. Knows nothing of USB: images come from a
callable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..core.atomic_io import write_figure_atomic
from ..metrics import contingency_table, hungarian_match

#: Images shown per cluster row.
IMAGES_PER_ROW = 12
#: Side, in pixels, of each thumbnail in a row strip.
THUMB = 48


@dataclass
class ClusterRow:
    """One drawn row: the cluster id, its size and the images shown (most confident first)."""

    cluster: int
    size: int
    shown: List[int]


def cluster_rows(clusters: np.ndarray, confidence: np.ndarray, per_row: int = IMAGES_PER_ROW) -> List[ClusterRow]:
    """The rows of the figure: every non-empty cluster, by id, with its most confident images.

    Args:
        clusters: ``(n,)`` cluster id per image.
        confidence: ``(n,)`` max softmax per image.
        per_row: Images shown per cluster.

    Returns:
        One :class:`ClusterRow` per non-empty cluster, ascending ids; ``shown``
        holds image indices, most confident first (ties by index).
    """
    clusters = np.asarray(clusters)
    confidence = np.asarray(confidence, dtype=np.float64)
    rows = []
    for cluster in np.unique(clusters):
        members = np.flatnonzero(clusters == cluster)
        order = members[np.lexsort((members, -confidence[members]))]
        rows.append(ClusterRow(int(cluster), int(len(members)), [int(i) for i in order[:per_row]]))
    return rows


def _thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    """An RGB ``(side, side, 3)`` uint8 thumbnail of an ``(H, W[, C])`` image (nearest for tiny images)."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    pil = Image.fromarray(array.astype(np.uint8)).convert("RGB")
    # Nearest keeps 8x8 digits crisp; larger photos are shrunk smoothly.
    method = Image.NEAREST if max(pil.size) < side else Image.BILINEAR
    return np.asarray(pil.resize((side, side), method))


def row_strip(images: Sequence[np.ndarray], per_row: int = IMAGES_PER_ROW, side: int = THUMB, gap: int = 4) -> np.ndarray:
    """Thumbnails side by side on white, ``per_row`` slots wide (empty slots stay white)."""
    strip = np.full((side, per_row * (side + gap) - gap, 3), 255, dtype=np.uint8)
    for slot, image in enumerate(images[:per_row]):
        left = slot * (side + gap)
        strip[:, left:left + side] = _thumbnail(image, side)
    return strip


def matched_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, List[int], List[int]]:
    """Contingency table with clusters ordered by their matched class (unmatched clusters last).

    Returns:
        ``(table, cluster_ids, class_ids)``: ``table[i, j]`` counts test images of
        cluster ``cluster_ids[i]`` and class ``class_ids[j]``.
    """
    table, clusters, classes = contingency_table(y_true, y_pred)
    match = hungarian_match(y_true, y_pred)
    class_pos = {int(c): j for j, c in enumerate(classes)}
    order = sorted(range(len(clusters)),
                   key=lambda i: (class_pos.get(match.get(int(clusters[i]), -1), len(classes)), int(clusters[i])))
    return table[order], [int(clusters[i]) for i in order], [int(c) for c in classes]


def draw_clusters(
    path: str,
    clusters: np.ndarray,
    confidence: np.ndarray,
    load_image: Callable[[int], np.ndarray],
    num_clusters: int,
    y_true: Optional[np.ndarray] = None,
    y_pred: Optional[np.ndarray] = None,
    class_names: Optional[Sequence[str]] = None,
    title: str = "",
) -> List[ClusterRow]:
    """Write the cluster figure as a PNG (atomically).

    Args:
        path: Output file (``clusters.png``).
        clusters: ``(n,)`` cluster id per image of the shown set (the training pool).
        confidence: ``(n,)`` max softmax per image.
        load_image: ``load_image(i) -> uint8 (H, W[, C])`` for image ``i`` of the shown set.
        num_clusters: Clusters the model was asked for (``k``), to say how many are empty.
        y_true: Test classes for the confusion matrix, or ``None`` (no matrix).
        y_pred: Test cluster ids (same length as ``y_true``).
        class_names: Names of the classes (column labels), index-aligned with ``y_true``.
        title: First line of the figure title.

    Returns:
        The rows drawn, one per non-empty cluster.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = cluster_rows(clusters, confidence)
    with_matrix = y_true is not None and len(y_true) > 0 and np.all(np.asarray(y_true) >= 0)
    row_h = 0.75
    height = max(3.5, row_h * len(rows) + 1.6)
    strip_w = 10.0
    matrix_w = 5.5 if with_matrix else 0.0
    fig = plt.figure(figsize=(strip_w + matrix_w, height), dpi=100)
    grid = fig.add_gridspec(len(rows), 2 if with_matrix else 1,
                            width_ratios=[strip_w, matrix_w] if with_matrix else None,
                            left=0.12 * 10.0 / (strip_w + matrix_w), right=0.98, top=1 - 0.9 / height,
                            bottom=0.75 / height, hspace=0.15, wspace=0.25)
    for r, row in enumerate(rows):
        ax = fig.add_subplot(grid[r, 0])
        ax.imshow(row_strip([load_image(i) for i in row.shown]), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_ylabel(f"cluster {row.cluster}\n{row.size} images", rotation=0, ha="right", va="center", fontsize=9)
    empty = num_clusters - len(rows)
    total = int(sum(row.size for row in rows))
    heading = (title + "\n" if title else "") + (
        f"{total} images in {len(rows)} non-empty clusters of {num_clusters}"
        + (f" ({empty} empty)" if empty > 0 else "") + f"; each row: the {IMAGES_PER_ROW} most confident images"
    )
    fig.suptitle(heading, fontsize=10)
    if with_matrix:
        table, cluster_ids, class_ids = matched_confusion(np.asarray(y_true), np.asarray(y_pred))
        ax = fig.add_subplot(grid[:, 1])
        ax.imshow(table, cmap="Blues", aspect="auto", interpolation="nearest", vmin=0, vmax=max(1, int(table.max())))
        names = [class_names[c] if class_names is not None and c < len(class_names) else str(c) for c in class_ids]
        ax.set_xticks(range(len(class_ids)))
        ax.set_xticklabels(names, rotation=90 if max(len(n) for n in names) > 3 else 0, fontsize=8)
        ax.set_yticks(range(len(cluster_ids)))
        ax.set_yticklabels([str(c) for c in cluster_ids], fontsize=8)
        ax.set_xlabel("true class (scoring only)")
        ax.set_ylabel("cluster (ordered by matched class)")
        ax.set_title("test split: clusters x classes", fontsize=9)
        if table.size <= 400:
            peak = table.max() or 1
            for i in range(table.shape[0]):
                for j in range(table.shape[1]):
                    if table[i, j]:
                        ax.text(j, i, str(table[i, j]), ha="center", va="center", fontsize=7,
                                color="white" if table[i, j] > peak / 2 else "black")

    write_figure_atomic(fig, path)
    return rows
