"""benchmarks/choose_k_accuracy.py: repetitions of choose_k scored against the true k, resumable per run."""

import os
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "benchmarks"))

import choose_k_accuracy  # noqa: E402

#: 300 images in 3 planted groups.
PLANTED = np.repeat(np.arange(3), 100)


def planted_partition(k, seed):
    """Every seed finds the planted groups at k = 3 (relabelled); any other k is a seed-dependent split."""
    if k == 3:
        return (PLANTED + seed) % 3
    return np.random.default_rng([k, seed]).permutation(np.arange(len(PLANTED)) % k)


def test_each_repetition_is_one_choose_k_scored_against_the_true_k():
    repetitions, complete = choose_k_accuracy.measure([2, 3, 4, 5], [[0, 1, 2], [3, 4, 5]], planted_partition, true_k=3)
    assert complete and [r["chosen_k"] for r in repetitions] == [3, 3]
    assert all(r["hit"] for r in repetitions)
    assert [s["k"] for s in repetitions[0]["scores"]] == [2, 3, 4, 5]
    assert sum(s["chosen"] for s in repetitions[0]["scores"]) == 1
    missed, _ = choose_k_accuracy.measure([2, 3, 4, 5], [[0, 1, 2]], planted_partition, true_k=4)
    assert missed[0]["chosen_k"] == 3 and not missed[0]["hit"]


def test_a_spent_run_budget_keeps_only_complete_repetitions():
    finished = {(k, s) for k in (2, 3) for s in (0, 1)} | {(2, 2)}

    def partition(k, seed):
        if (k, seed) not in finished:
            raise choose_k_accuracy.RunBudgetSpent
        return planted_partition(k, seed)

    repetitions, complete = choose_k_accuracy.measure([2, 3], [[0, 1], [2, 3]], partition, true_k=3)
    assert not complete and len(repetitions) == 1 and repetitions[0]["seeds"] == [0, 1]


def test_one_seed_is_refused():
    from usb_asd.errors import UserError

    with pytest.raises(UserError):
        choose_k_accuracy.measure([2, 3], [[0]], planted_partition, true_k=3)
