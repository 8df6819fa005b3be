"""benchmarks/investigations/asd_transition_signal_offline.py: the offline diagnostic's two statistics."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "investigations"))

from asd_transition_signal_offline import expected_transitions, within_class_share  # noqa: E402


def test_expected_transitions_is_the_mean_of_counted_argmax_moves():
    """Counting a -> b moves between independent draws from p(.|x_i) averages to sum_i p(a|x_i) p(b|x_i)."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4) * 0.7, size=6)
    expected = expected_transitions(np.log(probs))
    draws = 20000
    counts = np.zeros((4, 4))
    for row in probs:
        before = rng.choice(4, size=draws, p=row)
        after = rng.choice(4, size=draws, p=row)
        np.add.at(counts, (before, after), 1.0)
    counts /= draws
    np.fill_diagonal(counts, 0.0)
    np.testing.assert_allclose(expected, counts, atol=0.02)
    np.testing.assert_allclose(expected, expected.T)
    assert np.all(np.diag(expected) == 0)


def test_within_class_share_counts_only_same_class_off_diagonal_mass():
    slot_classes = np.array([0, 0, 1, 1])
    similarity = np.array([
        [9.0, 3.0, 1.0, 0.0],
        [3.0, 9.0, 0.0, 0.0],
        [1.0, 0.0, 9.0, 0.0],
        [0.0, 0.0, 0.0, 9.0],
    ])
    # Off-diagonal mass 8; same-class pairs (0,1) and (1,0) hold 6 of it; the diagonal is ignored.
    assert within_class_share(similarity, slot_classes) == pytest.approx(6.0 / 8.0)
    assert similarity[0, 0] == 9.0  # the input is not modified
