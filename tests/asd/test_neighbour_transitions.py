"""Transitions between feature-space neighbours: exact neighbours, the queue, a planted grouping recovered."""

import numpy as np
import pytest

from usb_asd.asd.mapping import InstanceClusterMapper
from usb_asd.asd.neighbour_transitions import FeatureNeighbourBank
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder
from usb_asd.metrics import cluster_accuracy


def _unit(x):
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_pairs_are_each_images_k_largest_cosines_leaving_out_its_own_earlier_copies():
    bank = FeatureNeighbourBank(length=10, num_neighbours=2)
    angles = np.array([0.0, 0.1, 0.2, 1.5, 3.0])
    feats = _unit(np.stack([np.cos(angles), np.sin(angles)], axis=1))
    bank.push(feats, classes=[0, 1, 2, 3, 4], sample_idx=[10, 11, 12, 13, 14])
    # Image 11 again (angle 0.1): its own copy is no neighbour, so 10 and 12 are (classes 0 and 2).
    before, after = bank.neighbour_pairs(feats[[1]], np.array([7]), np.array([11]))
    np.testing.assert_array_equal(before, [7, 7])
    assert sorted(after.tolist()) == [0, 2]
    # A new image at angle 1.45: nearest 13 (1.5), then 12 (0.2).
    before, after = bank.neighbour_pairs(_unit([[np.cos(1.45), np.sin(1.45)]]), np.array([5]), np.array([99]))
    np.testing.assert_array_equal(after, [3, 2])
    assert len(bank) == 5  # neighbour_pairs leaves the bank as it was


def test_the_queue_keeps_the_newest_entries_and_an_empty_bank_gives_no_pairs():
    bank = FeatureNeighbourBank(length=3, num_neighbours=5)
    before, after = bank.observe(_unit(np.eye(2)), np.array([0, 1]), np.array([0, 1]))
    assert before.size == 0 and after.size == 0
    bank.push(_unit([[1.0, 1.0], [1.0, -1.0]]), np.array([2, 3]), np.array([2, 3]))
    assert len(bank) == 3
    # The oldest entry (image 0) left; fewer entries than k: every remaining one is a neighbour.
    _, after = bank.neighbour_pairs(_unit([[1.0, 0.0]]), np.array([9]), np.array([50]))
    assert sorted(after.tolist()) == [1, 2, 3]


def test_state_round_trip_gives_the_same_pairs_and_mismatched_sizes_are_refused():
    rng = np.random.default_rng(0)
    bank = FeatureNeighbourBank(length=20, num_neighbours=3)
    bank.push(_unit(rng.normal(size=(25, 4))), rng.integers(0, 5, 25), np.arange(25))
    copy = FeatureNeighbourBank(length=20, num_neighbours=3)
    copy.load_state_dict(bank.state_dict())
    query = _unit(rng.normal(size=(6, 4)))
    for a, b in zip(bank.neighbour_pairs(query, np.arange(6), np.arange(100, 106)),
                    copy.neighbour_pairs(query, np.arange(6), np.arange(100, 106))):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="saved neighbour bank holds 20 images"):
        FeatureNeighbourBank(length=10, num_neighbours=3).load_state_dict(bank.state_dict())
    with pytest.raises(ValueError, match="features must be"):
        bank.push(np.zeros((3, 4)), np.arange(2), np.arange(3))


def test_a_planted_grouping_of_instance_classes_is_recovered_from_neighbour_transitions():
    """Three groups of images, each spread over four instance classes (12 classes in all). Images of a group
    lie near each other in feature space, so neighbour moves join the group's classes and the k-Medoids map
    of the counts puts each group's four classes together, with the tracker as the chain's builder uses it."""
    rng = np.random.default_rng(1)
    settings = ASDSettings(num_clusters=3, num_instances=12, window=100, seed=0)
    builder = ClusterLabelBuilder(settings, num_samples=600)
    centres = _unit(rng.normal(size=(3, 16))) * 4
    group_of_class = np.repeat(np.arange(3), 4)
    for step in range(30):
        idx = rng.choice(600, size=40, replace=False)
        group = idx % 3
        classes = group * 4 + rng.integers(0, 4, size=40)  # the instance class says nothing within a group
        feats = _unit(centres[group] + rng.normal(size=(40, 16)))
        builder.observe_neighbours(feats, classes, idx)
    mapper = InstanceClusterMapper(3, 0, 50, "spectral")
    mapper.fit(builder.tracker.similarity())
    assert cluster_accuracy(group_of_class, np.asarray(mapper.mapping)) == 1.0
    # The bank travels with the builder's checkpoint state.
    restored = ClusterLabelBuilder(settings, num_samples=600)
    restored.load_state_dict(builder.state_dict())
    assert len(restored.neighbour_bank) == len(builder.neighbour_bank) == min(30 * 40, 4096)
