"""benchmarks/asd_map_refit_offline.py: the capacity-constrained k-Medoids and the partition cost it reports."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))

from asd_map_refit_offline import balanced_kmedoids, partition_cost  # noqa: E402


def _line_distance(points):
    points = np.asarray(points, dtype=np.float64)
    return np.abs(points[:, None] - points[None, :])


def test_every_cluster_holds_at_most_ceil_n_over_k_classes():
    rng = np.random.default_rng(0)
    dist = _line_distance(rng.normal(size=23))
    labels, medoids = balanced_kmedoids(dist, np.array([0, 1, 2, 3]), max_iter=50)
    sizes = np.bincount(labels, minlength=4)
    assert sizes.max() <= 6 and sizes.sum() == 23
    assert np.array_equal(labels[medoids], np.arange(4))  # each medoid sits in its own cluster


def test_planted_equal_groups_are_recovered_from_a_start_inside_one_group():
    """Three groups of four on a line; both start medoids of clusters 0 and 1 lie in group A."""
    groups = [0.0, 0.1, 0.2, 0.3], [5.0, 5.1, 5.2, 5.3], [10.0, 10.1, 10.2, 10.3]
    dist = _line_distance(np.concatenate(groups))
    labels, medoids = balanced_kmedoids(dist, np.array([0, 1, 8]), max_iter=50)
    truth = np.repeat([0, 1, 2], 4)
    # The same partition up to cluster ids.
    assert len({(a, b) for a, b in zip(labels, truth)}) == 3
    assert sorted(np.bincount(labels)) == [4, 4, 4]


def test_capacity_overrides_a_cheaper_unbalanced_grouping():
    """Two close groups of four (A, B) and a group C in two far halves. From medoids in A and in
    both halves of C, unconstrained alternate k-Medoids keeps A and B merged (sizes 8, 2, 2);
    with capacity four, B is pushed out of A's cluster and the three groups come out."""
    from usb_asd.asd.mapping import _alternate

    points = [0.0, 0.1, 0.2, 0.3, 1.0, 1.1, 1.2, 1.3, 10.0, 10.1, 20.0, 20.1]
    dist = _line_distance(points)
    start = np.array([3, 8, 10])
    free_labels, _, _ = _alternate(dist, start, 50)
    assert sorted(np.bincount(free_labels)) == [2, 2, 8]
    labels, _ = balanced_kmedoids(dist, start, max_iter=50)
    truth = np.repeat([0, 1, 2], 4)
    assert len({(a, b) for a, b in zip(labels, truth)}) == 3


def test_partition_cost_sums_each_class_distance_to_its_own_medoid():
    dist = _line_distance([0.0, 1.0, 3.0, 7.0])
    labels = np.array([0, 0, 1, 1])
    medoids = np.array([0, 3])
    # Its own medoid, even where another medoid is nearer (class 2: 3.0 from 0, 4.0 from 3).
    assert partition_cost(dist, labels, medoids) == 1.0 + 4.0
