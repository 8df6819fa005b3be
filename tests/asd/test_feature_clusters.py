"""Clustering pool features (asd_mapping: features): planted groups, stable ids, warm starts, kNN spectral."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from usb_asd.asd.feature_clusters import cluster_features, feature_kmeans, feature_spectral


def _blobs(seed=0, k=4, per=30, d=8, spread=0.05):
    """k tight groups of directions (random unit centres), rows shuffled, with random norms."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(k), per)
    x = centres[truth] + spread * rng.normal(size=(k * per, d))
    x *= rng.uniform(0.5, 20.0, size=(k * per, 1))  # norms do not matter: rows are L2-normalised
    order = rng.permutation(k * per)
    return x[order], truth[order]


def test_planted_directions_are_recovered_whatever_the_norms():
    for seed in range(3):
        x, truth = _blobs(seed)
        labels = feature_kmeans(x, 4, seed=0)
        assert labels.dtype == np.int64 and set(labels.tolist()) == {0, 1, 2, 3}
        assert adjusted_rand_score(truth, labels) == 1.0


def test_warm_start_keeps_the_previous_ids():
    x, truth = _blobs(1)
    # Previous ids are a permutation of the planted groups: the refit must use them.
    previous = np.array([2, 0, 3, 1])[truth]
    rng = np.random.default_rng(5)
    moved = x + 0.01 * rng.normal(size=x.shape)  # features moved a little since
    np.testing.assert_array_equal(feature_kmeans(moved, 4, seed=9, previous=previous), previous)


def test_warm_start_from_a_coarser_partition_refills_the_empty_cluster():
    x, truth = _blobs(2)
    previous = np.minimum(truth, 2)  # groups 2 and 3 merged, id 3 empty
    labels = feature_kmeans(x, 4, seed=0, previous=previous)
    assert adjusted_rand_score(truth, labels) == 1.0
    for group in (0, 1):  # untouched groups keep their ids
        assert set(labels[truth == group].tolist()) == {group}


def test_bad_inputs_are_refused():
    x, _ = _blobs(0, k=2, per=3)
    with pytest.raises(ValueError, match="between 1 and the number of images"):
        feature_kmeans(x, 7, seed=0)
    with pytest.raises(ValueError, match="finite"):
        feature_kmeans(np.full((6, 2), np.nan), 2, seed=0)
    with pytest.raises(ValueError, match="previous must hold 6 cluster ids"):
        feature_kmeans(x, 2, seed=0, previous=np.zeros(5, dtype=int))


def _arcs(seed=0):
    """Two arcs of the unit circle, rows shuffled, random norms: a long one (0-200 degrees) and a short one.

    Neighbouring points of an arc are 1 degree apart and the arcs 30 and 100
    degrees apart, so the 10-nearest-neighbour graph has the two arcs as its
    components. k-means (compact, round clusters) cuts the long arc instead.
    """
    rng = np.random.default_rng(seed)
    angles = np.deg2rad(np.concatenate([np.arange(0.0, 200.0), np.arange(230.0, 260.0)]))
    truth = np.concatenate([np.zeros(200, dtype=np.int64), np.ones(30, dtype=np.int64)])
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1) * rng.uniform(0.5, 20.0, size=(230, 1))
    order = rng.permutation(230)
    return x[order], truth[order]


def test_spectral_keeps_an_elongated_group_whole_where_kmeans_cuts_it():
    x, truth = _arcs()
    assert adjusted_rand_score(truth, feature_kmeans(x, 2, seed=0)) < 0.5  # the fixture defeats k-means
    labels = feature_spectral(x, 2, seed=0, n_neighbors=10)
    assert labels.dtype == np.int64
    assert adjusted_rand_score(truth, labels) == 1.0


def test_spectral_recovers_planted_directions_and_takes_the_previous_ids():
    x, truth = _blobs(3)
    assert adjusted_rand_score(truth, feature_spectral(x, 4, seed=0, n_neighbors=10)) == 1.0
    previous = np.array([3, 1, 0, 2])[truth]
    for seed in range(3):  # whatever ids the eigensolver's k-means gives, they are matched to the previous ones
        np.testing.assert_array_equal(feature_spectral(x, 4, seed=seed, n_neighbors=10, previous=previous), previous)


def test_cluster_features_dispatches_and_refuses_unknown_methods():
    x, _ = _blobs(4)
    np.testing.assert_array_equal(cluster_features("kmeans", x, 4, 0), feature_kmeans(x, 4, 0))
    np.testing.assert_array_equal(cluster_features("spectral", x, 4, 0), feature_spectral(x, 4, 0))
    with pytest.raises(ValueError, match="asd_feature_clustering must be one of"):
        cluster_features("dbscan", x, 4, 0)
    with pytest.raises(ValueError, match="n_neighbors"):
        feature_spectral(x, 4, 0, n_neighbors=0)
    with pytest.raises(ValueError, match="previous must hold"):
        feature_spectral(x, 4, 0, previous=np.zeros(3, dtype=np.int64))
