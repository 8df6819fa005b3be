"""An image->cluster map from k-means on the backbone's features (``asd_mapping: features``).

Not part of ASD as published (Duan et al., IEEE TIP 2025, arXiv 2509.20976),
whose map groups instance classes by class transitions (:mod:`.mapping`). This
alternative labels each sampled instance with the cluster of its image in a
k-means of the whole pool's features, the way deep-clustering methods that
alternate clustering and training label their data (e.g. DeepCluster, Caron et
al., ECCV 2018). It is here to be measured against the transition map.

With L2-normalised features ``z_i`` (``||z_i|| = 1``), k-means minimises

.. math:: \\sum_{i=1}^{N} \\lVert z_i - \\mu_{c(i)} \\rVert^2

(spherical data; equal, up to a constant, to maximising the cosine of each
feature to its centre). The first fit is scikit-learn's ``KMeans``
(k-means++, several restarts); later fits start from the previous partition:
the centres are the means of the *current* features over the previous
clusters, one Lloyd run, so clusters and their ids carry over while the
features move. Ids are then matched to the previous partition (Hungarian on
member overlap), as the transition map's are.
"""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np
from sklearn.cluster import KMeans

from .mapping import _match_ids

__all__ = ["feature_kmeans"]


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
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or not np.all(np.isfinite(features)):
        raise ValueError(f"features must be a finite (N, d) array, got shape {features.shape}")
    n = features.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k ({k}) must be between 1 and the number of images ({n})")
    z = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
    if previous is None:
        model = KMeans(n_clusters=k, n_init=n_init, random_state=seed)
    else:
        previous = np.asarray(previous, dtype=np.int64)
        if previous.shape != (n,) or np.any((previous < 0) | (previous >= k)):
            raise ValueError(f"previous must hold {n} cluster ids in [0, {k})")
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
        labels = _match_ids(labels, previous, k)[labels]
    return labels
