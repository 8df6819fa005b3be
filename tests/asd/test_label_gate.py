"""The label gate on planted maps: it waits while maps disagree and switches once they agree."""

import numpy as np
import pytest

from usb_asd.asd.label_gate import MapAgreementGate


def _shuffled(mapping, seed):
    rng = np.random.default_rng(seed)
    return rng.permutation(mapping)


def test_waits_while_maps_disagree_then_switches_once_they_agree():
    gate = MapAgreementGate(threshold=0.9, cap=1000)
    base = np.repeat(np.arange(10), 10)
    steps = [50, 100, 150]
    for step, seed in zip(steps, (1, 2, 3)):
        assert not gate.observe_map(step, _shuffled(base, seed))  # unrelated maps
    assert gate.last_agreement < 0.2 and gate.on_since is None
    assert not gate.observe_map(200, base)  # agrees with nothing yet
    relabelled = (base + 3) % 10  # the same partition under other ids
    assert gate.observe_map(250, relabelled)
    assert gate.on_since == 250 and gate.last_agreement == pytest.approx(1.0)
    # Once on, the labels stay on even if a later map disagrees.
    assert gate.observe_map(300, _shuffled(base, 9)) and gate.is_on(301)


def test_the_cap_switches_on_without_agreement_but_needs_a_map():
    gate = MapAgreementGate(threshold=0.9, cap=100)
    assert not gate.is_on(150)  # no map yet
    assert not gate.observe_map(50, np.arange(20) % 4)
    assert not gate.is_on(99)
    assert gate.is_on(100)
    assert gate.observe_map(100, _shuffled(np.arange(20) % 4, 1))
    assert gate.on_since == 100


def test_a_threshold_above_one_waits_for_the_cap():
    gate = MapAgreementGate(threshold=1.5, cap=300)
    m = np.arange(30) % 3
    for step in (50, 100, 150):
        gate.observe_map(step, m)
    assert gate.last_agreement == pytest.approx(1.0) and not gate.is_on(150)
    assert gate.observe_map(300, m)


def test_state_round_trip():
    gate = MapAgreementGate(0.9, 500)
    gate.observe_map(50, np.arange(12) % 3)
    other = MapAgreementGate(0.9, 500)
    other.load_state_dict(gate.state_dict())
    m = np.arange(12) % 3
    assert other.observe_map(100, m) == gate.observe_map(100, m) is True
    assert other.on_since == gate.on_since == 100


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="asd_switch_ari"):
        MapAgreementGate(-0.1, 10)
    with pytest.raises(ValueError, match="asd_warmup_iter"):
        MapAgreementGate(0.9, -1)


def test_cold_fit_rule_waits_for_a_cold_fit_to_agree_even_when_consecutive_maps_do():
    """A stable but untrusted map (warm starts agree with each other, not with a fresh fit) keeps the labels off."""
    gate = MapAgreementGate(threshold=0.9, cap=1000, rule="cold_fit")
    m = np.arange(40) % 4
    assert gate.needs_cold_fit
    # The first map is a cold fit itself: full cold agreement, but no previous map to be stable against.
    assert not gate.observe_map(20, _shuffled(m, 1), cold_agreement=1.0)
    assert gate.decisive_agreement is None
    assert not gate.observe_map(40, _shuffled(m, 2), cold_agreement=1.0)  # a cold fit alone does not suffice
    assert gate.last_agreement < 0.2
    assert not gate.observe_map(50, m, cold_agreement=0.3)
    assert not gate.observe_map(100, m, cold_agreement=0.5)
    assert gate.last_agreement == pytest.approx(1.0) and gate.decisive_agreement == pytest.approx(0.5)
    assert gate.on_since is None
    assert gate.observe_map(150, m, cold_agreement=0.95)
    assert gate.on_since == 150 and not gate.needs_cold_fit
    # The consecutive rule would have switched on at 100 on the same maps.
    consecutive = MapAgreementGate(threshold=0.9, cap=1000)
    for step in (50, 100):
        consecutive.observe_map(step, m, cold_agreement=0.3)
    assert consecutive.on_since == 100 and not consecutive.needs_cold_fit


def test_cold_fit_rule_without_a_comparison_waits_for_the_cap():
    gate = MapAgreementGate(threshold=0.9, cap=200, rule="cold_fit")
    m = np.arange(12) % 3
    assert not gate.observe_map(100, m) and gate.last_cold_agreement is None
    assert gate.observe_map(200, m) and gate.on_since == 200


def test_cold_fit_state_round_trip_and_states_from_before_the_rule():
    gate = MapAgreementGate(0.9, 500, rule="cold_fit")
    gate.observe_map(50, np.arange(12) % 3, cold_agreement=0.4)
    other = MapAgreementGate(0.9, 500, rule="cold_fit")
    other.load_state_dict(gate.state_dict())
    assert other.last_cold_agreement == 0.4 and other.state_dict()["rule"] == "cold_fit"
    old = {k: v for k, v in gate.state_dict().items() if k not in ("rule", "last_cold_agreement")}
    older = MapAgreementGate(0.9, 500)
    older.load_state_dict(old)
    assert older.last_cold_agreement is None and older.on_since is None


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="asd_switch_rule must be one of consecutive, cold_fit"):
        MapAgreementGate(0.9, 10, rule="stable")


@pytest.mark.parametrize("cold", [(0.3, 0.5, 0.95), (0.3, 0.3, 0.3)])
def test_a_cold_fit_run_notes_when_the_consecutive_rule_would_have_switched_on(cold):
    """``consecutive_on_since`` is the step a gate with rule ``consecutive`` reaches on the same maps."""
    maps = [(20, _shuffled(np.arange(40) % 4, 1)), (40, _shuffled(np.arange(40) % 4, 2)),
            (50, np.arange(40) % 4), (100, np.arange(40) % 4), (150, np.arange(40) % 4), (200, np.arange(40) % 4)]
    gate, consecutive = MapAgreementGate(0.9, 200, rule="cold_fit"), MapAgreementGate(0.9, 200)
    for (step, mapping), agreement in zip(maps, (1.0, 1.0) + cold + (0.3,)):
        gate.observe_map(step, mapping, cold_agreement=agreement if gate.needs_cold_fit else None)
        consecutive.observe_map(step, mapping)
    assert consecutive.on_since == consecutive.consecutive_on_since == 100
    assert gate.consecutive_on_since == 100
    assert gate.on_since == (150 if cold[-1] >= 0.9 else 200)  # the cap where no cold fit agrees


def test_the_cap_bounds_the_consecutive_step_and_old_states_keep_it_where_it_is_known():
    gate = MapAgreementGate(1.5, 100, rule="cold_fit")
    gate.observe_map(50, np.arange(12) % 3, cold_agreement=1.0)
    assert gate.observe_map(100, np.arange(12) % 3, cold_agreement=1.0)
    assert gate.on_since == gate.consecutive_on_since == 100
    old = {k: v for k, v in gate.state_dict().items() if k != "consecutive_on_since"}
    restored = MapAgreementGate(1.5, 100, rule="cold_fit")
    restored.load_state_dict(old)
    assert restored.consecutive_on_since is None  # unknown for another rule
    restored.observe_map(150, np.arange(12) % 3)
    assert restored.consecutive_on_since is None  # and not guessed later
    plain = MapAgreementGate(1.5, 100)
    plain.load_state_dict({**old, "rule": "consecutive"})
    assert plain.consecutive_on_since == 100  # under rule consecutive it is on_since
    copy = MapAgreementGate(1.5, 100, rule="cold_fit")
    copy.load_state_dict(gate.state_dict())
    assert copy.consecutive_on_since == 100


def _relabelled(mapping, shift):
    """The same partition under other cluster ids (ARI 1 with ``mapping``)."""
    return (mapping + shift) % (mapping.max() + 1)


def test_held_is_one_window_of_re_clusterings():
    from usb_asd.asd.label_gate import held_re_clusterings

    assert held_re_clusterings(200, 50) == 4  # the MNIST-5k config's window and re-clustering period
    assert held_re_clusterings(210, 50) == 5
    assert held_re_clusterings(40, 5) == 8
    assert held_re_clusterings(10, 50) == 1


def test_held_waits_through_a_spike_that_consecutive_takes():
    """A spike of agreement that falls back (the two traps' pattern) switches consecutive on, not held."""
    base = np.repeat(np.arange(10), 10)
    maps = [_shuffled(base, 1), base, _relabelled(base, 3), _shuffled(base, 4), _shuffled(base, 5)]
    consecutive, held = MapAgreementGate(0.9, 1000), MapAgreementGate(0.9, 1000, rule="held", hold=3)
    for step, mapping in zip((50, 100, 150, 200, 250), maps):
        consecutive.observe_map(step, mapping)
        held.observe_map(step, mapping)
    assert consecutive.on_since == 150
    assert held.on_since is None and held.decisive_agreement < 0.2
    assert held.consecutive_on_since == 150  # the default's decision is still noted


def test_held_switches_once_agreement_lasts_hold_re_clusterings():
    base = np.repeat(np.arange(10), 10)
    gate = MapAgreementGate(0.9, 1000, rule="held", hold=3)
    assert not gate.observe_map(50, _shuffled(base, 1))
    assert not gate.observe_map(100, base)  # disagrees with the first
    assert not gate.observe_map(150, _relabelled(base, 1)) and gate.decisive_agreement is None  # 2 agreements
    assert not gate.observe_map(200, _relabelled(base, 2)) and gate.decisive_agreement < 0.2  # 2 of the last 3
    assert gate.observe_map(250, _relabelled(base, 3))  # three in a row
    assert gate.on_since == 250 and gate.decisive_agreement == pytest.approx(1.0)


def test_held_under_the_other_rules_is_one():
    assert MapAgreementGate(0.9, 100, rule="consecutive", hold=4).hold == 1
    with pytest.raises(ValueError, match="held"):
        MapAgreementGate(0.9, 100, rule="held", hold=0)


def test_held_state_round_trip_keeps_the_recent_agreements():
    base = np.repeat(np.arange(10), 10)
    gate = MapAgreementGate(0.9, 1000, rule="held", hold=3)
    for step, shift in zip((50, 100, 150), (0, 1, 2)):
        gate.observe_map(step, _relabelled(base, shift))  # two agreements so far
    other = MapAgreementGate(0.9, 1000, rule="held", hold=3)
    other.load_state_dict(gate.state_dict())
    assert other.observe_map(200, _relabelled(base, 4)) == gate.observe_map(200, _relabelled(base, 4)) is True
    assert other.on_since == gate.on_since == 200
    fresh = MapAgreementGate(0.9, 1000, rule="held", hold=3)  # without the recent agreements it would wait
    state = gate.state_dict()
    state.update(on_since=None, consecutive_on_since=None, recent=[])
    fresh.load_state_dict(state)
    assert not fresh.observe_map(250, _relabelled(base, 5))
