"""Class transition tracking: exact counts, sliding window, bounded memory, state."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from usb_asd.asd.transitions import ClassTransitionTracker


def _dense(tracker):
    counts = tracker.transition_counts()
    return counts.toarray() if sp.issparse(counts) else np.asarray(counts)


def test_scripted_sequence_gives_exact_counts_and_window_forgets():
    t = ClassTransitionTracker(num_samples=4, num_classes=3, window=2)
    # Batch 1: first predictions, nothing to compare with.
    assert t.update(np.array([0, 1, 2]), np.array([0, 1, 2])) == 0
    assert _dense(t).sum() == 0
    # Batch 2: sample 0 moves 0->1, sample 2 moves 2->0, sample 1 stays.
    assert t.update(np.array([0, 1, 2]), np.array([1, 1, 0])) == 2
    np.testing.assert_array_equal(_dense(t), [[0, 1, 0], [0, 0, 0], [1, 0, 0]])
    # Batch 3: sample 0 moves 1->2; sample 3 is new.
    assert t.update(np.array([0, 3]), np.array([2, 2])) == 1
    np.testing.assert_array_equal(_dense(t), [[0, 1, 0], [0, 0, 1], [1, 0, 0]])
    # Batch 4: sample 1 moves 1->0, sample 2 moves 0->1. Window 2 drops batch 2 (0->1, 2->0).
    assert t.update(np.array([1, 2]), np.array([0, 1])) == 2
    np.testing.assert_array_equal(_dense(t), [[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(t.bank, [2, 0, 1, 2])
    # S = (M + M^T) / 2, zero diagonal.
    np.testing.assert_array_equal(t.similarity(), [[0, 1, 0], [1, 0, 0.5], [0, 0.5, 0]])
    # Two batches without moves push everything out of the window.
    t.update(np.array([0]), np.array([2]))
    t.update(np.array([0]), np.array([2]))
    assert _dense(t).sum() == 0 and t.num_batches == 2


def test_repeated_sample_in_a_batch_is_processed_in_order():
    t = ClassTransitionTracker(num_samples=3, num_classes=4, window=5)
    t.update(np.array([0, 1]), np.array([0, 3]))
    # Sample 0: 0 -> 1 -> 2 -> 2 (two moves); sample 1: 3 -> 3 (none).
    assert t.update(np.array([0, 1, 0, 0]), np.array([1, 3, 2, 2])) == 2
    dense = _dense(t)
    assert dense[0, 1] == 1 and dense[1, 2] == 1 and dense.sum() == 2
    np.testing.assert_array_equal(t.bank, [2, 3, -1])


def test_accepts_torch_tensors():
    t = ClassTransitionTracker(num_samples=5, num_classes=3, window=2)
    t.update(torch.tensor([0, 1]), torch.tensor([0, 0]))
    assert t.update(torch.tensor([0, 1]), torch.tensor([2, 0])) == 1
    assert _dense(t)[0, 2] == 1


def test_memory_bounded_by_transitions_in_window():
    rng = np.random.default_rng(0)
    batch, window = 64, 3
    t = ClassTransitionTracker(num_samples=500, num_classes=1000, window=window)
    recent = []
    for _ in range(60):
        idx = rng.choice(500, batch, replace=False)
        moved = t.update(idx, rng.integers(0, 1000, batch))
        recent = (recent + [moved])[-window:]
        assert t.memory_items() <= window * batch
        assert t.memory_items() <= sum(recent)  # distinct pairs <= transitions
        assert _dense(t).sum() == sum(recent)
    assert t.memory_items() > 0


def test_similarity_symmetric_zero_diagonal():
    rng = np.random.default_rng(1)
    t = ClassTransitionTracker(num_samples=50, num_classes=6, window=4)
    for _ in range(10):
        t.update(rng.choice(50, 20, replace=False), rng.integers(0, 6, 20))
    sim = t.similarity()
    assert sim.dtype == np.float64 and sim.shape == (6, 6)
    np.testing.assert_array_equal(sim, sim.T)
    np.testing.assert_array_equal(np.diag(sim), 0.0)
    np.testing.assert_allclose(sim, (_dense(t) + _dense(t).T) / 2)


def test_reset_bank_forgets_last_predictions():
    t = ClassTransitionTracker(num_samples=3, num_classes=3, window=3)
    t.update(np.array([0, 1, 2]), np.array([0, 0, 0]))
    t.reset_bank(np.array([1]))
    assert t.update(np.array([0, 1, 2]), np.array([1, 1, 1])) == 2  # sample 1 has no previous
    t.reset_bank()
    assert t.update(np.array([0, 1, 2]), np.array([2, 2, 2])) == 0
    np.testing.assert_array_equal(t.bank, [2, 2, 2])
    assert _dense(t).sum() == 2  # the window itself is kept
    t.clear_window()
    assert _dense(t).sum() == 0 and t.memory_items() == 0


def test_state_round_trip_gives_identical_future():
    rng = np.random.default_rng(2)
    batches = [(rng.choice(30, 10, replace=False), rng.integers(0, 5, 10)) for _ in range(12)]
    a = ClassTransitionTracker(num_samples=30, num_classes=5, window=3)
    for idx, pred in batches[:6]:
        a.update(idx, pred)
    b = ClassTransitionTracker(num_samples=30, num_classes=5, window=3)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    for idx, pred in batches[6:]:
        assert a.update(idx, pred) == b.update(idx, pred)
        np.testing.assert_array_equal(_dense(a), _dense(b))
    np.testing.assert_array_equal(a.bank, b.bank)


def test_bad_inputs_raise():
    t = ClassTransitionTracker(num_samples=4, num_classes=3, window=2)
    with pytest.raises(ValueError, match="predictions"):
        t.update(np.array([0]), np.array([3]))
    with pytest.raises(ValueError, match="sample_idx"):
        t.update(np.array([4]), np.array([0]))
    with pytest.raises(ValueError, match="entries"):
        t.update(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="window"):
        ClassTransitionTracker(4, 3, 0)


def test_paired_predictions_count_only_the_differing_pairs_and_leave_the_bank():
    t = ClassTransitionTracker(num_samples=4, num_classes=3, window=2)
    t.update([0, 1], [2, 2])
    assert t.record([0, 1, 1, 2, 1], [0, 2, 2, 1, 0]) == 4
    assert t.transition_counts().toarray().tolist() == [[0, 0, 0], [1, 0, 2], [0, 1, 0]]
    assert t.bank.tolist() == [2, 2, -1, -1]
    t.record([0], [1])
    t.record([2], [0])  # the window (2 batches) has forgotten the first record
    assert t.transition_counts().toarray().tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0]]
    with pytest.raises(ValueError, match="after has"):
        t.record([0, 1], [1])
