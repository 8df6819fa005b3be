"""When ASD's round hook re-clusters, and when the learner's cluster labels switch on at the latest.

Iterations are counted as the hook sees them: ``t`` is the number of training
steps done (``algorithm.it + 1`` after a step). Plain integers; nothing here
imports semilearn.
"""

from __future__ import annotations

__all__ = ["recluster_due", "first_map_iteration", "latest_switch_on"]


def recluster_due(t: int, cluster_iter: int) -> bool:
    """Whether a re-clustering is due after step ``t``: every ``cluster_iter`` steps from the start.

    Maps are fitted during the warm-up too: the label gate (:mod:`.label_gate`)
    switches the labels on once consecutive maps agree.

    Args:
        t: Steps done (>= 1).
        cluster_iter: ``asd_cluster_iter`` (>= 1).
    """
    return t % cluster_iter == 0


def first_map_iteration(cluster_iter: int, recluster_lag: int = 0) -> int:
    """Steps done when the first cluster map is installed: ``cluster_iter + recluster_lag``.

    Args:
        cluster_iter: ``asd_cluster_iter`` (>= 1).
        recluster_lag: ``asd_recluster_lag``.
    """
    if cluster_iter < 1:
        raise ValueError(f"asd_cluster_iter must be >= 1, got {cluster_iter}")
    return int(cluster_iter) + int(recluster_lag)


def latest_switch_on(warmup_iter: int, cluster_iter: int, recluster_lag: int = 0) -> int:
    """Steps done after which the learner trains on cluster labels whatever the maps do.

    The gate's cap (``asd_warmup_iter``), or the first map if that comes later: a
    run of ``num_train_iter`` steps is sure to use cluster labels only if this is
    ``< num_train_iter``.

    Args:
        warmup_iter: ``asd_warmup_iter``.
        cluster_iter: ``asd_cluster_iter`` (>= 1).
        recluster_lag: ``asd_recluster_lag``.
    """
    return max(int(warmup_iter), first_map_iteration(cluster_iter, recluster_lag))
