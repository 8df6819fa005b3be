"""benchmarks/investigations/offline_results.py: the offline replays read any bundled pool at the runs' input size."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "investigations"))

from offline_results import train_pool  # noqa: E402


@pytest.mark.parametrize("dataset, img_size, size", [("digits", 8, 1437), ("mnist5k", 16, 4000)])
def test_train_pool_is_the_training_split_in_the_eval_transform(dataset, img_size, size):
    images, targets = train_pool(dataset, img_size)
    assert images.shape == (size, 3, img_size, img_size) and len(targets) == size
    np.testing.assert_array_equal(np.bincount(targets) > 0, np.ones(10, dtype=bool))
    assert abs(float(images.mean())) < 0.1  # normalised with the training split's own statistics


def test_a_dataset_read_from_a_directory_is_refused():
    with pytest.raises(ValueError, match="bundled"):
        train_pool("cifar10", 32)
