"""Clustering scores: ACC (Hungarian matching), NMI and ARI.

ACC follows the deep-clustering convention (e.g. Xie et al., DEC, ICML 2016):

.. math:: \\mathrm{ACC} = \\max_{m} \\frac{1}{n} \\sum_i \\mathbb{1}[y_i = m(c_i)]

where ``m`` ranges over one-to-one maps from cluster ids to classes, found with
the Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on the
contingency table. With more clusters than classes, the surplus clusters are
left unmatched and their samples count as errors (one-to-one, not many-to-one).

NMI is ``sklearn.metrics.normalized_mutual_info_score`` with arithmetic-mean
normalisation, ``I(Y; C) / ((H(Y) + H(C)) / 2)``; ARI is
``sklearn.metrics.adjusted_rand_score``.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

#: Averaging used for NMI, reported with every result.
NMI_AVERAGE = "arithmetic"


def _as_labels(name: str, values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer labels, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def contingency_table(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts ``T[c, y]`` of samples in cluster ``c`` with class ``y``.

    Args:
        y_true: Ground-truth classes, shape ``(n,)``.
        y_pred: Cluster ids, shape ``(n,)``; any integers, not necessarily contiguous.

    Returns:
        ``(table, cluster_ids, class_ids)`` where rows follow ``cluster_ids`` and
        columns ``class_ids`` (both sorted unique values).
    """
    y_true = _as_labels("y_true", y_true)
    y_pred = _as_labels("y_pred", y_pred)
    clusters, pred_idx = np.unique(y_pred, return_inverse=True)
    classes, true_idx = np.unique(y_true, return_inverse=True)
    table = np.zeros((len(clusters), len(classes)), dtype=np.int64)
    np.add.at(table, (pred_idx, true_idx), 1)
    return table, clusters, classes


def hungarian_match(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[int, int]:
    """The one-to-one cluster -> class map that maximises agreement.

    Args:
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Cluster ids ``(n,)``.

    Returns:
        ``{cluster_id: class_id}`` for every matched cluster (``min(#clusters, #classes)`` pairs).
    """
    table, clusters, classes = contingency_table(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return {int(clusters[r]): int(classes[c]) for r, c in zip(rows, cols)}


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Clustering accuracy under the best one-to-one cluster -> class map.

    Args:
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Cluster ids ``(n,)``.

    Returns:
        ACC in ``[0, 1]``.
    """
    y_true = _as_labels("y_true", y_true)
    y_pred = _as_labels("y_pred", y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.shape[0]} labels but y_pred has {y_pred.shape[0]}")
    if y_true.size == 0:
        raise ValueError("cannot score an empty clustering")
    table, _, _ = contingency_table(y_true, y_pred)
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum()) / float(y_true.size)


def clustering_scores(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[str, float]:
    """ACC, NMI (arithmetic) and ARI of a clustering against ground truth.

    Args:
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Cluster ids ``(n,)``.

    Returns:
        ``{"acc": ..., "nmi": ..., "ari": ...}``, each a float.
    """
    acc = cluster_accuracy(y_true, y_pred)
    y_true = _as_labels("y_true", y_true)
    y_pred = _as_labels("y_pred", y_pred)
    return {
        "acc": acc,
        "nmi": float(normalized_mutual_info_score(y_true, y_pred, average_method=NMI_AVERAGE)),
        "ari": float(adjusted_rand_score(y_true, y_pred)),
    }
