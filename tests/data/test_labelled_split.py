"""Labelled subsets: balanced, reproducible, validated."""

import numpy as np
import pytest

from usb_asd.data.labelled_split import select_labelled_indices, split_labelled_unlabelled


def test_balanced_and_reproducible_draw():
    targets = np.repeat(np.arange(5), 20)
    a = select_labelled_indices(targets, 10, 5, seed=3)
    b = select_labelled_indices(targets, 10, 5, seed=3)
    c = select_labelled_indices(targets, 10, 5, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.bincount(targets[a], minlength=5) == 2)


@pytest.mark.parametrize("num_labels", [0, 7, -5])
def test_num_labels_must_be_a_positive_multiple(num_labels):
    with pytest.raises(ValueError, match="num_labels"):
        select_labelled_indices(np.repeat(np.arange(5), 3), num_labels, 5, seed=0)


def test_too_many_labels_for_a_class_and_unknown_targets():
    with pytest.raises(ValueError, match="only 3"):
        select_labelled_indices(np.repeat(np.arange(2), 3), 8, 2, seed=0)
    with pytest.raises(ValueError, match="unlabelled"):
        select_labelled_indices(np.array([0, 1, -1, 1, 0]), 2, 2, seed=0)


def test_include_lb_to_ulb():
    lb = np.array([1, 3])
    assert list(split_labelled_unlabelled(5, lb, True)[1]) == [0, 1, 2, 3, 4]
    assert list(split_labelled_unlabelled(5, lb, False)[1]) == [0, 2, 4]
