"""The labelled split of self-labelling: each cluster's most confident share."""

import numpy as np
import pytest

from usb_asd.selflabel.selection import DEFAULT_FRACTION, most_confident_per_cluster


def test_each_cluster_keeps_its_most_confident_share_rounded_up():
    clusters = np.array([0, 0, 0, 1, 1, 2, 0])
    confidence = np.array([0.1, 0.9, 0.5, 0.3, 0.8, 0.2, 0.7])
    # cluster 0: 4 members -> 2 (0.9 at 1, 0.7 at 6); cluster 1: 2 -> 1 (0.8 at 4); cluster 2: 1 -> 1
    np.testing.assert_array_equal(most_confident_per_cluster(clusters, confidence, 0.5, 3), [1, 4, 5, 6])
    np.testing.assert_array_equal(most_confident_per_cluster(clusters, confidence, 1.0, 3), np.arange(7))
    # at least one image of every non-empty cluster, however small the share; an empty cluster gives none
    np.testing.assert_array_equal(most_confident_per_cluster(clusters, confidence, 0.01, 4), [1, 4, 5])


def test_equal_confidences_keep_the_pool_order():
    assert list(most_confident_per_cluster(np.zeros(5, int), np.ones(5), 0.4, 1)) == [0, 1]


def test_the_default_is_half_of_each_cluster():
    assert DEFAULT_FRACTION == 0.5


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.1])
def test_a_share_outside_zero_to_one_is_refused(fraction):
    with pytest.raises(ValueError, match="selflabel_fraction must lie in"):
        most_confident_per_cluster(np.zeros(3, int), np.ones(3), fraction, 1)
