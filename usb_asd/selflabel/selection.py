"""Which images of a given clustering a self-labelling learner trains on as labelled.

Per cluster ``c`` with members ``C_c`` and confidences ``s_i``, the
``ceil(f |C_c|)`` members of largest ``s_i`` (at least one; ties: the lower pool
index), so every cluster keeps labelled images in proportion to its size and
the least trusted assignments of each are left to the learner's unlabelled
loss. Plain numpy.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_FRACTION", "most_confident_per_cluster"]

#: ``selflabel_fraction`` by default: the most confident half of each cluster. SPICE builds its
#: cluster prototypes from the most confident half of each cluster (``center_ratio = 0.5`` in its
#: released configs); SCAN instead keeps the images whose softmax exceeds 0.99, a rule that needs
#: calibrated probabilities, which a k-means of pixels does not give. Not tuned on any split.
DEFAULT_FRACTION = 0.5


def most_confident_per_cluster(clusters: np.ndarray, confidence: np.ndarray, fraction: float,
                               num_clusters: int) -> np.ndarray:
    """The most confident ``fraction`` of each cluster's members.

    Args:
        clusters: ``(N,)`` cluster id of each image, in ``[0, k)``.
        confidence: ``(N,)`` confidence of each assignment (larger: more trusted).
        fraction: ``f`` in ``(0, 1]``.
        num_clusters: ``k``.

    Returns:
        Sorted int64 indices: per non-empty cluster ``c``, its ``ceil(f |C_c|)`` members of
        largest confidence (ties: the lower index).
    """
    clusters = np.asarray(clusters, dtype=np.int64)
    confidence = np.asarray(confidence, dtype=np.float64)
    if clusters.ndim != 1 or confidence.shape != clusters.shape:
        raise ValueError(f"clusters and confidence must be 1-d and of equal length, got shapes "
                         f"{clusters.shape} and {confidence.shape}")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"selflabel_fraction must lie in (0, 1], got {fraction}")
    if clusters.size and (clusters.min() < 0 or clusters.max() >= num_clusters):
        raise ValueError(f"cluster ids must lie in [0, {num_clusters})")
    # Within each cluster, by decreasing confidence; lexsort's last key is the primary one, and it is
    # stable, so equal confidences keep the pool order.
    order = np.lexsort((-confidence, clusters))
    sizes = np.bincount(clusters, minlength=num_clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    keep = np.ceil(fraction * sizes - 1e-9).astype(np.int64)
    keep = np.where(sizes > 0, np.maximum(keep, 1), 0)
    rank = np.arange(clusters.size) - starts[clusters[order]]
    return np.sort(order[rank < keep[clusters[order]]])
