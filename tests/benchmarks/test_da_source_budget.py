"""benchmarks/da_source_budget.py: the DA budget is chosen on held-out SOURCE images only."""

import importlib.util
import os

import numpy as np

from usb_asd.data.labelled_split import select_labelled_indices

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location("da_source_budget",
                                                  os.path.join(ROOT, "benchmarks", "da_source_budget.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_held_out_part_is_what_the_run_does_not_label():
    targets = np.repeat(np.arange(3), [10, 12, 11])
    num_labels, labelled, held = _module().holdout_split(targets, 3, 0.2, seed=4)
    assert num_labels == 3 * 8  # 80 % of the smallest class, per class
    # the run draws its labelled part with the same function, count and seed
    assert np.array_equal(labelled, select_labelled_indices(targets, num_labels, 3, 4))
    assert not set(labelled) & set(held) and len(labelled) + len(held) == len(targets)
    assert np.bincount(targets[held]).tolist() == [2, 4, 3]


def test_target_scores_are_never_written():
    keys = set(_module().TARGET_KEYS)
    assert {"top1", "acc", "nmi", "ari", "best_top1"} <= keys
