"""An image->cluster map from clustering the backbone's features (``asd_mapping: features``).

Not part of ASD as published (Duan et al., IEEE TIP 2025, arXiv 2509.20976),
whose map groups instance classes by class transitions (:mod:`.mapping`). This
alternative labels each sampled instance with the cluster of its image in a
clustering of the whole pool's features (k-means or spectral,
``asd_feature_clustering``), the way deep-clustering methods that alternate
clustering and training label their data (e.g. DeepCluster, Caron et al.,
ECCV 2018).

With L2-normalised features ``z_i`` (``||z_i|| = 1``), k-means minimises

.. math:: \\sum_{i=1}^{N} \\lVert z_i - \\mu_{c(i)} \\rVert^2

(spherical data; equal, up to a constant, to maximising the cosine of each
feature to its centre). The first fit is scikit-learn's ``KMeans``
(k-means++, several restarts); later fits start from the previous partition:
the centres are the means of the *current* features over the previous
clusters, one Lloyd run, so clusters and their ids carry over while the
features move. Ids are then matched to the previous partition (Hungarian on
member overlap), as the transition map's are.

:func:`feature_spectral` (``asd_feature_clustering: spectral``) instead
clusters the normalised features by spectral clustering on their k-nearest-
neighbour graph (scikit-learn's ``SpectralClustering``; Shi & Malik, IEEE
TPAMI 2000; von Luxburg, "A tutorial on spectral clustering", 2007): with the
symmetrised connectivity ``W = (K + K^T) / 2`` (``K_ij = 1`` if ``z_j`` is
among the ``m`` nearest neighbours of ``z_i``) and degrees ``D``, let ``U``
hold the ``k`` leading eigenvectors of ``D^{-1/2} W D^{-1/2}``; the rows of
``D^{-1/2} U`` (eigenvectors of the random-walk Laplacian
``I - D^{-1} W``) are clustered by k-means. A class
whose images lie along a curved or elongated manifold stays in one piece when
its neighbours chain together, where k-means, which favours compact round
clusters, may split it. It is refitted from scratch at each call (a
partition cannot seed an eigendecomposition); ids are matched to the previous
partition.
"""

from __future__ import annotations

import warnings
from typing import Optional, Tuple

import numpy as np
from sklearn.cluster import KMeans, SpectralClustering

from .mapping import match_cluster_ids

__all__ = ["FEATURE_CLUSTERINGS", "feature_kmeans", "feature_spectral", "cluster_features"]

#: How the pool's features are clustered (``asd_feature_clustering``).
FEATURE_CLUSTERINGS = ("kmeans", "spectral")


def _checked(features: np.ndarray, k: int, previous: Optional[np.ndarray]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """L2-normalised features and the previous ids as arrays, after checking their shapes and values."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or not np.all(np.isfinite(features)):
        raise ValueError(f"features must be a finite (N, d) array, got shape {features.shape}")
    n = features.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k ({k}) must be between 1 and the number of images ({n})")
    if previous is not None:
        previous = np.asarray(previous, dtype=np.int64)
        if previous.shape != (n,) or np.any((previous < 0) | (previous >= k)):
            raise ValueError(f"previous must hold {n} cluster ids in [0, {k})")
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12), previous


def feature_kmeans(
    features: np.ndarray, k: int, seed: int, previous: Optional[np.ndarray] = None, n_init: int = 10
) -> np.ndarray:
    """Cluster ``N`` images into ``k`` groups by k-means on their L2-normalised features.

    Args:
        features: ``(N, d)`` finite features, ``N >= k``.
        k: Number of clusters.
        seed: ``random_state`` of the first fit.
        previous: ``(N,)`` cluster ids of the last fit, to warm-start from and
            to keep ids stable; None for a first fit.
        n_init: k-means++ restarts of the first fit.

    Returns:
        ``(N,)`` int64 cluster ids in ``[0, k)``.
    """
    z, previous = _checked(features, k, previous)
    if previous is None:
        model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    else:
        centres = np.zeros((k, z.shape[1]))
        counts = np.bincount(previous, minlength=k)
        np.add.at(centres, previous, z)
        filled = counts > 0
        centres[filled] /= counts[filled, None]
        if not np.all(filled):  # an empty cluster restarts at the image farthest from the other centres
            for c in np.flatnonzero(~filled):
                kept = centres[filled]
                gap = ((z**2).sum(1)[:, None] + (kept**2).sum(1)[None, :] - 2.0 * z @ kept.T).min(axis=1)
                centres[c] = z[int(np.argmax(gap))]
                filled[c] = True
        model = KMeans(n_clusters=k, init=centres, n_init=1, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate points / convergence: the partition is still valid
        labels = model.fit_predict(z).astype(np.int64)
    if previous is not None:
        labels = match_cluster_ids(labels, previous, k)[labels]
    return labels


def feature_spectral(
    features: np.ndarray, k: int, seed: int, previous: Optional[np.ndarray] = None, n_neighbors: int = 30
) -> np.ndarray:
    """Cluster ``N`` images into ``k`` groups by spectral clustering of their L2-normalised features' kNN graph.

    Args:
        features: ``(N, d)`` finite features, ``N >= k``.
        k: Number of clusters.
        seed: ``random_state`` of the eigensolver and of the k-means on the embedding.
        previous: ``(N,)`` cluster ids of the last fit, to keep ids stable (the
            fit itself starts afresh); None for a first fit.
        n_neighbors: ``m``, neighbours per image in the graph (capped at ``N - 1``).

    Returns:
        ``(N,)`` int64 cluster ids in ``[0, k)``.
    """
    z, previous = _checked(features, k, previous)
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
    n = z.shape[0]
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    model = SpectralClustering(
        n_clusters=k, affinity="nearest_neighbors", n_neighbors=min(n_neighbors, n - 1),
        assign_labels="kmeans", random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "graph is not fully connected": the embedding still separates components
        labels = model.fit_predict(z).astype(np.int64)
    if previous is not None:
        labels = match_cluster_ids(labels, previous, k)[labels]
    return labels


def cluster_features(
    method: str, features: np.ndarray, k: int, seed: int, previous: Optional[np.ndarray] = None
) -> np.ndarray:
    """Dispatch ``asd_feature_clustering``: ``"kmeans"`` (:func:`feature_kmeans`) or ``"spectral"`` (:func:`feature_spectral`)."""
    if method == "kmeans":
        return feature_kmeans(features, k, seed, previous=previous)
    if method == "spectral":
        return feature_spectral(features, k, seed, previous=previous)
    raise ValueError(f"asd_feature_clustering must be one of {FEATURE_CLUSTERINGS}, got {method!r}")
