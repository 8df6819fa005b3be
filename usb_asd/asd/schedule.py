"""When ASD's round hook re-clusters, and when a run's first cluster map takes effect.

Iterations are counted as the hook sees them: ``t`` is the number of training
steps done (``algorithm.it + 1`` after a step). Plain integers; nothing here
imports semilearn.
"""

from __future__ import annotations

__all__ = ["recluster_due", "first_map_iteration"]


def recluster_due(t: int, warmup_iter: int, cluster_iter: int) -> bool:
    """Whether a re-clustering is due after step ``t``: past the warm-up and on the period.

    Args:
        t: Steps done (>= 1).
        warmup_iter: ``asd_warmup_iter``.
        cluster_iter: ``asd_cluster_iter`` (>= 1).
    """
    return t >= warmup_iter and t % cluster_iter == 0


def first_map_iteration(warmup_iter: int, cluster_iter: int, recluster_lag: int = 0) -> int:
    """Steps done when the first cluster map is installed.

    The first due step is the smallest ``t >= max(warmup_iter, 1)`` divisible by
    ``cluster_iter``, ``d = cluster_iter * ceil(max(warmup_iter, 1) / cluster_iter)``;
    its map is installed after step ``d + recluster_lag`` (``asd_recluster_lag``),
    so the learner first trains on cluster labels at step ``d + recluster_lag + 1``.
    A run of ``num_train_iter`` steps uses cluster labels only if this is
    ``< num_train_iter``.

    Args:
        warmup_iter: ``asd_warmup_iter``.
        cluster_iter: ``asd_cluster_iter`` (>= 1).
        recluster_lag: ``asd_recluster_lag``.

    Returns:
        ``d + recluster_lag``.
    """
    if cluster_iter < 1:
        raise ValueError(f"asd_cluster_iter must be >= 1, got {cluster_iter}")
    start = max(int(warmup_iter), 1)
    first_due = -(-start // cluster_iter) * cluster_iter
    return first_due + int(recluster_lag)
