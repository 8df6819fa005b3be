"""Classical clustering baselines on raw pixels: k-means, agglomerative, spectral.

Each clusters the images of one split directly (flattened pixels scaled to
``[0, 1]``), so it is scored on the same images as the deep runs' test split.
"""

from __future__ import annotations

from typing import Callable, Dict

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans, SpectralClustering

from .metrics import clustering_scores


def _kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(x)


def _agglomerative(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    # Ward linkage is deterministic; the seed is unused.
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x)


def _spectral(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    return SpectralClustering(
        n_clusters=k, affinity="nearest_neighbors", n_neighbors=10, assign_labels="kmeans", random_state=seed
    ).fit_predict(x)


#: Name -> ``f(features, k, seed) -> cluster ids``.
CLASSICAL_METHODS: Dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "kmeans": _kmeans,
    "agglomerative": _agglomerative,
    "spectral": _spectral,
}


def pixel_features(images: np.ndarray) -> np.ndarray:
    """Flatten ``uint8`` images ``(n, H, W, C)`` to ``(n, H*W*C)`` floats in ``[0, 1]``."""
    images = np.asarray(images)
    return images.reshape(len(images), -1).astype(np.float64) / 255.0


def classical_scores(method: str, images: np.ndarray, targets: np.ndarray, k: int, seed: int) -> Dict[str, float]:
    """Cluster raw pixels with a classical method and score it.

    Args:
        method: A key of :data:`CLASSICAL_METHODS`.
        images: ``uint8`` images ``(n, H, W, C)``.
        targets: Ground-truth classes ``(n,)``, used only to score.
        k: Number of clusters.
        seed: Seed of the method's randomness.

    Returns:
        ``{"acc", "nmi", "ari"}``.
    """
    if method not in CLASSICAL_METHODS:
        raise ValueError(f"method must be one of {sorted(CLASSICAL_METHODS)}, got {method!r}")
    if k > len(images):
        raise ValueError(f"k ({k}) must not exceed the number of images ({len(images)})")
    pred = CLASSICAL_METHODS[method](pixel_features(images), k, seed)
    return clustering_scores(targets, pred)
