"""Sizes the options refuse, and ASD's per-step and re-clustering stages at ImageNet-1k's n_l = 4,000."""

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from usb_asd.asd.distributed import make_label_builder
from usb_asd.asd.mapping import InstanceClusterMapper
from usb_asd.asd.pipeline import ASDSettings
from usb_asd.asd.scale import LIMITS, check_scale
from usb_asd.asd.transitions import ClassTransitionTracker
from usb_asd.config import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from asd_stage_costs import planted_pairs  # noqa: E402


@pytest.mark.parametrize("setting, size", [
    ({"sampler": "prototype"}, {"num_samples": 1_281_167}),
    ({"mapping": "features"}, {"num_samples": 1_281_167}),
    ({"mapping": "features", "feature_clustering": "spectral"}, {"num_samples": 50_000}),
    ({"kmedoids_distance": "spectral"}, {"num_instances": 8000}),
])
def test_sizes_beyond_an_options_limit_are_refused_naming_the_option_and_limit(setting, size):
    settings = ASDSettings(num_clusters=10, num_instances=size.get("num_instances", 40), **setting)
    with pytest.raises(ConfigError) as err:
        make_label_builder(settings, size.get("num_samples", 50_000))
    key, value = next((k, v) for k, v in LIMITS.items() if k[1] in setting.values() and str(err.value).startswith(k[0]))
    assert f"{key[0]}: {key[1]}" in str(err.value) and f"{value[1]:,}" in str(err.value)


def test_sizes_within_the_limits_are_served():
    check_scale(ASDSettings(num_clusters=10, num_instances=40, sampler="prototype"), 50_000)  # CIFAR-10
    check_scale(ASDSettings(num_clusters=1000, num_instances=4000), 1_281_167)  # ImageNet-1k, the default chain
    check_scale(ASDSettings(num_clusters=10, num_instances=40, mapping="features"), 50_000)


def test_tracker_and_one_reclustering_at_imagenet_n_l_take_seconds_and_bounded_memory():
    """n_l = 4,000 instance classes, k = 1,000 clusters, N = 1.28 M images, a window of 50 batches of 448."""
    n, n_l, k, batch, window = 1_281_167, 4000, 1000, 448, 50
    rng = np.random.default_rng(0)
    tracemalloc.start()
    tracker = ClassTransitionTracker(n, n_l, window)
    start = time.perf_counter()
    for _ in range(window):
        tracker.update(rng.integers(0, n, batch), rng.integers(0, n_l, batch))
    per_step = (time.perf_counter() - start) / window
    for _ in range(window):  # planted transitions: 80 % within block (class % k)
        tracker.record(*planted_pairs(n_l, k, batch, rng))
    start = time.perf_counter()
    labels = InstanceClusterMapper(k, seed=0, distance="linear").fit(tracker.similarity())
    recluster = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert per_step < 0.05  # independent of N: a few hundred microseconds measured
    assert recluster < 30  # the first fit (k-medoids++ seeding, no O(k n^2) BUILD)
    assert peak < 1.5 * 2**30  # bank 10 MB; a few dense n_l x n_l float64 matrices of 128 MB
    assert adjusted_rand_score(np.arange(n_l) % k, labels) > 0.5
