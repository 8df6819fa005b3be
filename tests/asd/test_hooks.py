"""ASDRoundHook's schedule: re-clusterings (at once, or in the background with a lag) and redraws."""

from types import SimpleNamespace

import numpy as np
import pytest

from usb_asd.asd.hooks import ASDRoundHook
from usb_asd.asd.label_gate import MapAgreementGate
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder


class _Algorithm(SimpleNamespace):
    """The adaptor's methods the hook calls, on a real builder, without USB."""

    def asd_recluster(self):
        return self.asd_builder.recluster()

    def asd_start_recluster(self, apply_at):
        self.started.append(self.it + 1)
        self.asd_builder.start_recluster(apply_at)

    def asd_finish_recluster(self):
        self.applied.append(self.it + 1)
        return self.asd_builder.finish_recluster()

    def asd_new_round(self, first_iteration):
        self.asd_builder.place(self.asd_builder.draw())

    def asd_label_score(self):
        return None


def _maps_per_iteration(lag, iterations=40, cluster_iter=6):
    """Run the hook after each of ``iterations`` steps of planted transitions.

    Returns:
        After each step, the map and its medoids (concatenated; None before the first map),
        and the fake algorithm (with the steps a fit started and was applied at).
    """
    builder = ClusterLabelBuilder(
        ASDSettings(num_clusters=3, num_instances=24, window=4, alignment="none", seed=5), num_samples=120
    )
    args = SimpleNamespace(asd_warmup_iter=4, asd_cluster_iter=cluster_iter, asd_recluster_lag=lag,
                           asd_round_iter=10)
    algorithm = _Algorithm(args=args, it=0, asd_builder=builder, num_train_iter=iterations, log_dict={},
                           started=[], applied=[], asd_gate=MapAgreementGate(0.9, 4), print_fn=lambda _: None)
    hook = ASDRoundHook()
    hook.before_run(algorithm)
    rng = np.random.default_rng(0)  # the same transitions whatever the lag
    maps = []
    for it in range(iterations):
        algorithm.it = it
        a = rng.integers(0, 24, 32)
        b = np.where(rng.random(32) < 0.6, rng.integers(0, 8, 32) * 3 + a % 3, rng.integers(0, 24, 32))
        builder.observe_views(a, np.where(b == a, (a + 3) % 24, b))
        hook.after_train_step(algorithm)
        clusters, medoids = builder.slot_clusters, builder.mapper.medoids
        maps.append(None if clusters is None else np.concatenate([clusters, medoids]))
    return maps, algorithm


@pytest.mark.parametrize("lag", [1, 3, 5])
def test_a_lagged_map_applies_exactly_lag_steps_after_its_snapshot(lag):
    sync, sync_algorithm = _maps_per_iteration(0)
    lagged, algorithm = _maps_per_iteration(lag)
    assert sync_algorithm.started == [] and sync_algorithm.applied == []
    # Snapshots after iterations 6, 12, ... (from the start), each applied `lag` iterations later.
    assert algorithm.started == [6, 12, 18, 24, 30, 36]
    assert algorithm.applied == [t + lag for t in algorithm.started if t + lag <= 40]
    for i in range(40):  # after iteration i + 1, the map is the synchronous one of iteration i + 1 - lag
        expected = sync[i - lag] if i >= lag else None
        if expected is None:
            assert lagged[i] is None, i
        else:
            np.testing.assert_array_equal(lagged[i], expected, err_msg=f"after iteration {i + 1}")
    # The maps changed over the run (the comparison is not between constants).
    assert sum(not np.array_equal(x, y) for x, y in zip(sync[5:], sync[6:])) >= 3
