"""Flagging a final model whose clusters are degenerate (one cluster swallows the images, or some stay empty).

The criterion, on the final model's predictions for the scored images (k
outputs, n images):

- **dominant cluster**: the largest cluster holds more than
  ``(1 + 1/k) / 2`` of the images, halfway between an even share (1/k) and
  all of them (55 % for k = 10, 75 % for k = 2);
- **empty clusters**: some of the k clusters receive no image, when there are
  at least k images.

Either is reported in the log, in results.json (``"degenerate"``) and on the
final line ``train.py`` prints. A flag is a warning, not an error: the scores
are still real, but are those of a collapsed model.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np


def dominant_share_limit(num_clusters: int) -> float:
    """The largest cluster's share above which a model is flagged: ``(1 + 1/k) / 2``."""
    return (1.0 + 1.0 / max(1, num_clusters)) / 2.0


def cluster_sizes(predictions: np.ndarray, num_clusters: int) -> np.ndarray:
    """Images per cluster (``np.bincount`` over ``k`` clusters)."""
    return np.bincount(np.asarray(predictions, dtype=np.int64).reshape(-1), minlength=num_clusters)


def degeneracy(sizes: Sequence[int]) -> Optional[Dict[str, Any]]:
    """The degenerate-clusters record of a final model, or ``None`` when its clusters are fine.

    Args:
        sizes: Images per cluster, one entry per output (k entries).

    Returns:
        ``None``, or ``{"reasons", "largest_cluster", "largest_share", "share_limit",
        "empty_clusters", "cluster_sizes", "num_images"}``.
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    k, n = len(sizes), int(sizes.sum())
    if k < 2 or n == 0:
        return None
    limit = dominant_share_limit(k)
    largest = int(sizes.argmax())
    share = float(sizes[largest]) / n
    empty = [int(i) for i in np.flatnonzero(sizes == 0)] if n >= k else []
    reasons = []
    if share > limit:
        reasons.append(f"cluster {largest} holds {share:.0%} of the {n} images (limit {limit:.0%})")
    if empty:
        reasons.append(f"{len(empty)} of {k} clusters are empty")
    if not reasons:
        return None
    return {
        "reasons": reasons,
        "largest_cluster": largest,
        "largest_share": share,
        "share_limit": limit,
        "empty_clusters": empty,
        "cluster_sizes": [int(s) for s in sizes],
        "num_images": n,
    }


def describe(record: Optional[Dict[str, Any]]) -> str:
    """One line for the log and the final line, ``""`` when not degenerate."""
    if not record:
        return ""
    return "DEGENERATE clusters: " + "; ".join(record["reasons"])
