"""ASDRoundHook's schedule: re-clusterings (at once, or in the background with a lag) and redraws."""

from types import SimpleNamespace

import numpy as np
import pytest

from usb_asd.asd.hooks import ASDRoundHook
from usb_asd.asd.label_gate import MapAgreementGate
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder


class _Algorithm(SimpleNamespace):
    """The adaptor's methods the hook calls, on a real builder, without USB."""

    asd_prototype_lloyd = None  # asd_prototype_update: gradient (the adaptor's attribute; lloyd is tested elsewhere)

    def asd_recluster(self, compete_cold=False):
        self.competed.append(compete_cold)
        return self.asd_builder.recluster(compete_cold=compete_cold)

    def asd_start_recluster(self, apply_at, compete_cold=False):
        self.started.append(self.it + 1)
        self.competed.append(compete_cold)
        self.asd_builder.start_recluster(apply_at, compete_cold=compete_cold)

    def asd_finish_recluster(self):
        self.applied.append(self.it + 1)
        return self.asd_builder.finish_recluster()

    def asd_new_round(self, first_iteration):
        self.asd_builder.place(self.asd_builder.draw())

    def asd_label_score(self):
        return None


def _maps_per_iteration(lag, iterations=40, cluster_iter=6, gate=None):
    """Run the hook after each of ``iterations`` steps of planted transitions.

    Returns:
        After each step, the map and its medoids (concatenated; None before the first map),
        and the fake algorithm (with the steps a fit started and was applied at, and each
        step's logged values in ``logs``).
    """
    builder = ClusterLabelBuilder(
        ASDSettings(num_clusters=3, num_instances=24, window=4, alignment="none", seed=5), num_samples=120
    )
    args = SimpleNamespace(asd_warmup_iter=4, asd_cluster_iter=cluster_iter, asd_recluster_lag=lag,
                           asd_round_iter=10)
    algorithm = _Algorithm(args=args, it=0, asd_builder=builder, num_train_iter=iterations, log_dict={},
                           started=[], applied=[], competed=[], logs=[],
                           asd_gate=gate if gate is not None else MapAgreementGate(0.9, 4), print_fn=lambda _: None)
    hook = ASDRoundHook()
    hook.before_run(algorithm)
    rng = np.random.default_rng(0)  # the same transitions whatever the lag
    maps = []
    for it in range(iterations):
        algorithm.it, algorithm.log_dict = it, {}
        a = rng.integers(0, 24, 32)
        b = np.where(rng.random(32) < 0.6, rng.integers(0, 8, 32) * 3 + a % 3, rng.integers(0, 24, 32))
        builder.observe_views(a, np.where(b == a, (a + 3) % 24, b))
        hook.after_train_step(algorithm)
        clusters, medoids = builder.slot_clusters, builder.cluster_map.mapper.medoids
        maps.append(None if clusters is None else np.concatenate([clusters, medoids]))
        algorithm.logs.append(algorithm.log_dict)
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


def test_the_cold_fit_rule_compares_until_the_switch_on_and_never_moves_the_map():
    """asd_switch_rule: cold_fit: a cold fit is compared at each map until one agrees; the maps are unchanged."""
    plain, _ = _maps_per_iteration(0, gate=MapAgreementGate(1.5, 1000))
    gate = MapAgreementGate(0.999, 1000, rule="cold_fit")
    maps, algorithm = _maps_per_iteration(0, gate=gate)
    for a, b in zip(plain, maps):
        assert (a is None and b is None) or np.array_equal(a, b)
    logged = [(i + 1, log.get("train/asd_map_agreement"), log.get("train/asd_cold_fit_agreement"))
              for i, log in enumerate(algorithm.logs)]
    compared = [(step, consecutive, cold) for step, consecutive, cold in logged if cold is not None]
    # A cold fit is compared at every map until the switch-on (the first map, itself a cold fit, agrees
    # fully but has no previous map), and at none after it although maps go on being made.
    assert [step for step, _, _ in compared] == [6, 12, 18, 24, 30, 36][:len(compared)]
    assert compared[0][2] == pytest.approx(1.0)
    assert gate.on_since == compared[-1][0] < 36
    assert min(compared[-1][1], compared[-1][2]) >= 0.999
    assert all(consecutive is None or min(consecutive, cold) < 0.999 for _, consecutive, cold in compared[:-1])
    # The step at which the consecutive rule would have switched on, read off the same maps.
    assert gate.consecutive_on_since == next(
        step for step, consecutive, _ in compared if consecutive is not None and consecutive >= 0.999)


# ---- starting from a given clustering (asd_init_assignments) ----------------------------------

#: The planted toy: 400 pool images of 4 true classes, n_l = 40 instance classes.
TRUTH = np.arange(400) % 4


def _given_start(given, iterations=40, seed=0, cold_refit="never"):
    """ASD's schedule on the planted toy, started from the clustering ``given``.

    The instance head's transitions join slots whose images share a true class
    (80 %, else any slot), as a head whose features have learnt the classes would.
    No redraw after the first draw: each step's labels are those of the same 40 images.

    Returns:
        Per step: (labels of the entries, whether the given clustering still labels them);
        the slots; the fake algorithm.
    """
    builder = ClusterLabelBuilder(
        ASDSettings(num_clusters=4, num_instances=40, window=10, alignment="none", seed=seed), num_samples=400
    )
    builder.start_from(given)
    args = SimpleNamespace(asd_warmup_iter=30, asd_cluster_iter=5, asd_recluster_lag=0, asd_round_iter=1000,
                           asd_cold_refit=cold_refit)
    printed = []
    algorithm = _Algorithm(args=args, it=0, asd_builder=builder, num_train_iter=iterations, log_dict={},
                           started=[], applied=[], competed=[], asd_gate=MapAgreementGate(0.9, 30),
                           print_fn=printed.append)
    hook = ASDRoundHook()
    hook.before_run(algorithm)
    rng = np.random.default_rng(seed)
    slots = builder.slots.copy()
    same_class = [np.flatnonzero(TRUTH[slots] == TRUTH[slots[j]]) for j in range(40)]
    steps = []
    for it in range(iterations):
        algorithm.it = it
        steps.append((builder.labels_for_entries(np.arange(40)), builder.given_labels_on))
        a = rng.integers(0, 40, 64)
        within = np.array([rng.choice(same_class[j]) for j in a])
        b = np.where(rng.random(64) < 0.8, within, rng.integers(0, 40, 64))
        builder.observe_views(a, np.where(b == a, (a + 1) % 40, b))
        hook.after_train_step(algorithm)
    assert np.array_equal(builder.slots, slots)
    algorithm.printed = printed
    return steps, slots, algorithm


def test_a_start_from_the_true_partition_stays_at_it():
    steps, slots, algorithm = _given_start(TRUTH)
    for it, (labels, _) in enumerate(steps):
        np.testing.assert_array_equal(labels, TRUTH[slots], err_msg=f"before step {it + 1}")  # ids kept too
    assert steps[0][1] and not steps[-1][1]  # the given labels served first, the chain's map took over
    assert algorithm.asd_gate.on_since == 10  # the second map agreed with the first
    assert any("takes over from asd_init_assignments after step 10" in line for line in algorithm.printed)


def test_a_start_from_a_partly_corrupted_partition_ends_closer_to_the_truth():
    rng = np.random.default_rng(7)
    given = TRUTH.copy()
    flipped = rng.random(400) < 0.3
    given[flipped] = (TRUTH[flipped] + rng.integers(1, 4, flipped.sum())) % 4  # 30 % put in another cluster
    steps, slots, algorithm = _given_start(given)
    first, last = steps[0][0], steps[-1][0]
    np.testing.assert_array_equal(first, given[slots])  # the learner starts on the given labels
    start, end = np.mean(first == TRUTH[slots]), np.mean(last == TRUTH[slots])
    assert start < 0.8 and end == 1.0  # same ids as the truth: matched to the given clustering's majority
    assert not steps[-1][1]


def test_the_hand_over_competition_keeps_a_map_the_cold_fit_does_not_beat():
    for cold_refit in ("handover", "labels_on"):
        steps, slots, algorithm = _given_start(TRUTH, cold_refit=cold_refit)
        for labels, _ in steps:
            np.testing.assert_array_equal(labels, TRUTH[slots])
        assert any("takes over from asd_init_assignments (kept the warm-started map" in line
                   for line in algorithm.printed)
        # Fits compete only once the chain's own map labels the entries, and only with labels_on.
        on = algorithm.asd_gate.on_since
        assert algorithm.competed == [cold_refit == "labels_on" and 5 * (i + 1) > on
                                      for i in range(len(algorithm.competed))]
