"""ACC / NMI / ARI against hand-worked cases."""

import numpy as np
import pytest

from usb_asd.metrics import cluster_accuracy, clustering_scores, contingency_table, hungarian_match


def test_perfect_clustering_with_permuted_ids_scores_one():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([2, 2, 0, 0, 1, 1])
    scores = clustering_scores(y_true, y_pred)
    assert scores == pytest.approx({"acc": 1.0, "nmi": 1.0, "ari": 1.0})
    assert hungarian_match(y_true, y_pred) == {2: 0, 0: 1, 1: 2}


def test_hand_worked_accuracy():
    # Contingency (cluster x class): c0 -> [2,1], c1 -> [0,3]; best map c0->0, c1->1: 2+3 of 6.
    y_true = np.array([0, 0, 1, 1, 1, 1])
    y_pred = np.array([0, 0, 0, 1, 1, 1])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(5 / 6)


def test_hand_worked_nmi_and_ari():
    # Two balanced classes split into clusters {0,0,1 | 1} vs truth {0,0 | 1,1}.
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 1])
    h_true = np.log(2)
    p = np.array([3 / 4, 1 / 4])
    h_pred = -(p * np.log(p)).sum()
    # I(Y;C) = H(Y) - H(Y|C); H(Y|C) = 3/4 * H(2/3, 1/3)
    q = np.array([2 / 3, 1 / 3])
    mi = h_true - 0.75 * -(q * np.log(q)).sum()
    expected_nmi = mi / ((h_true + h_pred) / 2)
    scores = clustering_scores(y_true, y_pred)
    assert scores["nmi"] == pytest.approx(expected_nmi)
    # ARI by hand: sum C(n_ij,2)=1; a=C(2,2)*2=2; b=C(3,2)+0=3; expected=2*3/6=1; max=(2+3)/2=2.5
    assert scores["ari"] == pytest.approx((1 - 1) / (2.5 - 1))


def test_more_clusters_than_classes_leaves_surplus_unmatched():
    y_true = np.array([0, 0, 0, 1, 1, 1])
    y_pred = np.array([0, 0, 5, 1, 1, 7])  # 4 clusters, 2 classes
    # Only two clusters can be matched one-to-one: 0->0 and 1->1 give 4 of 6.
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)
    table, clusters, classes = contingency_table(y_true, y_pred)
    assert table.shape == (4, 2)
    assert list(clusters) == [0, 1, 5, 7]


def test_fewer_clusters_than_classes():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    y_pred = np.array([3, 3, 3, 3, 9, 9])
    assert cluster_accuracy(y_true, y_pred) == pytest.approx(4 / 6)


def test_bad_input_is_rejected_with_a_clear_error():
    with pytest.raises(ValueError, match="y_pred has 2"):
        cluster_accuracy(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="integer"):
        cluster_accuracy(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(ValueError, match="empty"):
        cluster_accuracy(np.array([], dtype=int), np.array([], dtype=int))
