"""USB-independent parts of SuperCM (Singh et al., Pattern Recognition 2025, arXiv 2507.13779).

* :mod:`.module`: the clustering module (soft-assignment layer + centroids)
  and its loss terms E1..E4;
* :mod:`.centroids`: class-wise running means of labelled (and confident
  unlabelled) features, the "Super" centroids;
* :mod:`.schedule`: the ``exp(-5 (1 - t)^2)`` ramp-up.

Plain torch; nothing here imports semilearn.
"""

from .centroids import RunningClassMeans
from .module import (
    CENTROID_AVERAGES,
    CENTROID_MODES,
    DEFAULT_CONFIDENCE_THRESHOLD,
    ClusteringModule,
    cm_loss_terms,
)
from .schedule import ramp_up

__all__ = [
    "CENTROID_AVERAGES",
    "CENTROID_MODES",
    "DEFAULT_CONFIDENCE_THRESHOLD",
    "ClusteringModule",
    "RunningClassMeans",
    "cm_loss_terms",
    "ramp_up",
]
