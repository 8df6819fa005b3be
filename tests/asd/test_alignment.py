"""Sinkhorn plans and instance-to-slot alignment."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from usb_asd.asd.alignment import align_to_slots, instance_slot_cost, sinkhorn_plan


@pytest.mark.parametrize("m, n", [(6, 6), (5, 8), (9, 4)])
def test_plan_has_uniform_marginals(m, n):
    cost = np.random.default_rng(m * n).random((m, n))
    plan = sinkhorn_plan(cost, reg=0.05)
    assert plan.shape == (m, n) and np.all(plan >= 0)
    np.testing.assert_allclose(plan.sum(axis=1), np.full(m, 1.0 / m), atol=1e-6)
    np.testing.assert_allclose(plan.sum(axis=0), np.full(n, 1.0 / n), atol=1e-6)


@pytest.mark.parametrize("m, n", [(6, 6), (5, 8)])
def test_plan_has_given_marginals(m, n):
    rng = np.random.default_rng(7)
    a, b = rng.dirichlet(np.ones(m)), rng.dirichlet(np.ones(n))
    plan = sinkhorn_plan(rng.random((m, n)) * 30.0, reg=0.1, a=a, b=b)
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-6)
    np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-6)


def test_plan_is_scale_free_and_minimises_entropic_objective():
    rng = np.random.default_rng(0)
    cost = rng.random((5, 5))
    plan = sinkhorn_plan(cost, reg=0.2)
    np.testing.assert_allclose(sinkhorn_plan(100.0 * cost, reg=0.2), plan, atol=1e-9)
    # Optimality of entropic OT: log P_ij = (f_i + g_j - C_ij / reg) for some potentials,
    # i.e. log P + C/reg has rank one in the additive sense (double differences vanish).
    log_gibbs = np.log(plan) + cost / cost.max() / 0.2
    double_diff = log_gibbs - log_gibbs[:, :1] - log_gibbs[:1, :] + log_gibbs[0, 0]
    np.testing.assert_allclose(double_diff, 0.0, atol=1e-6)


def test_copies_of_slot_prototypes_land_in_their_own_slots():
    rng = np.random.default_rng(3)
    prototypes = rng.standard_normal((12, 16))
    perm = rng.permutation(12)
    features = 2.5 * prototypes[perm]  # instance i is a (rescaled) copy of slot perm[i]
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    cost = np.clip(1.0 - unit(features) @ unit(prototypes).T, 0.0, 2.0)  # cosine cost
    np.testing.assert_allclose(cost[np.arange(12), perm], 0.0, atol=1e-12)
    slot_of_instance = align_to_slots(cost)
    assert np.array_equal(slot_of_instance, perm)


def test_log_prob_cost_recovers_confident_assignment():
    rng = np.random.default_rng(5)
    perm = rng.permutation(10)
    logits = rng.standard_normal((10, 10))
    logits[np.arange(10), perm] += 6.0
    log_probs = torch.log_softmax(torch.tensor(logits), dim=1)
    cost = instance_slot_cost(log_probs)
    np.testing.assert_allclose(cost, -log_probs.numpy())
    assert np.array_equal(align_to_slots(cost), perm)


def test_align_returns_permutation_matching_min_cost_assignment():
    rng = np.random.default_rng(11)
    for _ in range(5):
        cost = rng.random((15, 15))
        slots = align_to_slots(cost, reg=0.01)
        assert np.array_equal(np.sort(slots), np.arange(15))
        rows, cols = linear_sum_assignment(cost)
        assert cost[np.arange(15), slots].sum() == pytest.approx(cost[rows, cols].sum(), abs=1e-9)


def test_align_rectangular_gives_distinct_slots():
    slots = align_to_slots(np.random.default_rng(2).random((4, 7)))
    assert slots.shape == (4,) and np.unique(slots).size == 4 and slots.max() < 7


def test_bad_inputs_raise():
    cost = np.ones((3, 3))
    with pytest.raises(ValueError, match="reg"):
        sinkhorn_plan(cost, reg=0.0)
    with pytest.raises(ValueError, match="same total mass"):
        sinkhorn_plan(cost, 0.1, a=np.ones(3) / 3, b=np.ones(3))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\)"):
        sinkhorn_plan(cost, 0.1, b=np.ones(4) / 4)
    with pytest.raises(ValueError, match="finite"):
        sinkhorn_plan(np.array([[0.0, np.inf], [1.0, 0.0]]), 0.1)
    with pytest.raises(ValueError, match="more instances"):
        align_to_slots(np.ones((4, 3)))
    with pytest.raises(ValueError, match="log_probs"):
        instance_slot_cost(np.ones((2, 2)))


@pytest.mark.parametrize("reg", [0.05, 0.005])
def test_plan_matches_pots_log_domain_sinkhorn_on_either_side_of_the_switch(reg):
    """reg 0.05 runs the Sinkhorn-Knopp iterations, 0.005 the log-domain ones: both are the same OT problem."""
    import ot

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(12, 12)) * 3.0
    cost = instance_slot_cost(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))
    a = np.full(12, 1.0 / 12)
    # 20,000 iterations bring the 0.005 plan's marginals to 3e-6 (100,000: 1e-6, at 5x the time).
    reference = ot.sinkhorn(a, a, cost / cost.max(), reg, method="sinkhorn_log", numItermax=20000, stopThr=1e-12)
    plan = sinkhorn_plan(cost, reg=reg, num_iter_max=20000, stop_thr=1e-12)
    np.testing.assert_allclose(plan, reference, atol=1e-9)
    # At reg 0.005 the plan is nearly a permutation and Sinkhorn converges slowly (see align_to_slots).
    np.testing.assert_allclose(plan.sum(axis=0), a, atol=1e-5)


def test_relative_stopping_rule_keeps_the_digits_plan_and_tightens_with_more_slots():
    from usb_asd.asd.alignment import relative_stop_threshold

    assert relative_stop_threshold(1e-6, 40) == 1e-6
    assert relative_stop_threshold(1e-6, 4000) == pytest.approx(1e-7)
    rng = np.random.default_rng(3)
    for seed in range(5):  # digits-size problems: the same assignment as the absolute 1e-6 gave
        logits = rng.normal(size=(40, 40)) * 3.0
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        cost = instance_slot_cost(log_probs)
        old_plan = sinkhorn_plan(cost, 0.05, num_iter_max=1000, stop_thr=1e-6, warn=False)
        rows, cols = linear_sum_assignment(old_plan, maximize=True)
        np.testing.assert_array_equal(align_to_slots(cost, reg=0.05)[rows], cols)
    # 400 slots: the marginals reach the same precision relative to 1/n as 40 slots do.
    logits = rng.normal(size=(400, 400)) * 3.0
    cost = instance_slot_cost(logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)))
    plan = sinkhorn_plan(cost, 0.05, stop_thr=relative_stop_threshold(1e-6, 400), warn=False)
    assert np.linalg.norm(plan.sum(axis=0) - 1 / 400) * np.sqrt(400) < 1e-6 * np.sqrt(40) * 1.0001


def test_select_for_slots_gives_each_slot_its_cheapest_distinct_candidate():
    from usb_asd.asd.alignment import select_for_slots

    rng = np.random.default_rng(0)
    cost = rng.uniform(1.0, 5.0, (12, 4))
    for slot, candidate in enumerate((7, 2, 11, 5)):
        cost[candidate, slot] = 0.01
    chosen = select_for_slots(cost, reg=0.01)
    assert chosen.tolist() == [7, 2, 11, 5]
    # In general: the injective choice of largest transported mass, where every slot receives
    # the mass of m / n candidates (not the cheapest candidates: a slot that many candidates
    # fit passes some on to others).
    for seed in range(5):
        cost = np.random.default_rng(seed).uniform(0.0, 3.0, (15, 5))
        chosen = select_for_slots(cost, reg=0.05)
        plan = sinkhorn_plan(cost, 0.05)
        np.testing.assert_allclose(plan.sum(axis=0), 1 / 5, atol=1e-4)
        rows, cols = linear_sum_assignment(plan, maximize=True)
        assert len(set(chosen.tolist())) == 5
        assert plan[chosen, np.arange(5)].sum() >= plan[rows, cols].sum() - 1e-9
    with pytest.raises(ValueError, match="fewer candidates"):
        select_for_slots(np.ones((3, 4)))
