"""k-means on pool features (asd_mapping: features): planted groups, stable ids, warm starts."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from usb_asd.asd.feature_clusters import feature_kmeans


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
