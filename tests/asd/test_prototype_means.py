"""Prototypes as their cells' means (online spherical k-means; Lloyd steps on a queue): mathematics, planted groups."""

import threading

import pytest
import torch
import torch.nn.functional as F

from usb_asd.asd.prototype_means import (PrototypeLloyd, epoch_momentum, lloyd_queue_length, lloyd_steps,
                                         update_prototype_means)


def test_one_step_is_the_normalised_blend_of_the_prototype_and_its_cell_mean():
    prototypes = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    z = F.normalize(torch.tensor([[1.0, 0.2], [1.0, -0.6], [0.1, 1.0]]), dim=1)
    before = prototypes.clone()
    counts = update_prototype_means(prototypes, z, momentum=0.75)
    assert counts.tolist() == [2.0, 1.0, 0.0]
    expected0 = F.normalize(0.75 * torch.tensor([1.0, 0.0]) + 0.25 * z[:2].mean(0), dim=0)
    expected1 = F.normalize(0.75 * torch.tensor([0.0, 1.0]) + 0.25 * z[2], dim=0)
    assert torch.allclose(prototypes[0], expected0, atol=1e-6)
    assert torch.allclose(prototypes[1], expected1, atol=1e-6)
    assert torch.equal(prototypes[2], before[2])  # no image fell in it: unchanged
    assert torch.allclose(prototypes[:2].norm(dim=1), torch.ones(2), atol=1e-6)


def test_momentum_zero_puts_each_prototype_on_its_batch_mean_direction():
    prototypes = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    z = F.normalize(torch.tensor([[1.0, 0.5], [1.0, 0.1], [0.2, 1.0]]), dim=1)
    update_prototype_means(prototypes, z, momentum=0.0)
    assert torch.allclose(prototypes[0], F.normalize(z[:2].mean(0), dim=0), atol=1e-6)
    assert torch.allclose(prototypes[1], z[2], atol=1e-6)


def test_repeated_steps_move_prototypes_to_a_planted_grouping():
    """Two tight groups on the circle; prototypes started off them end at the groups' mean directions."""
    g = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.tensor([[1.0, 1.0], [1.0, -1.0]]), dim=1)
    prototypes = F.normalize(torch.tensor([[1.0, 0.3], [1.0, -0.1]]), dim=1)
    for _ in range(200):
        which = torch.randint(0, 2, (32,), generator=g)
        z = F.normalize(centres[which] + 0.05 * torch.randn(32, 2, generator=g), dim=1)
        update_prototype_means(prototypes, z, momentum=0.9)
    assert torch.allclose(prototypes, centres, atol=0.02)


def test_summed_over_two_ranks_equals_one_process_on_the_whole_batch():
    """The all-reduce sums cells' sums and counts: two halves then equal the whole batch in one process."""
    g = torch.Generator().manual_seed(1)
    start = F.normalize(torch.randn(5, 3, generator=g), dim=1)
    z = F.normalize(torch.randn(40, 3, generator=g), dim=1)
    whole = start.clone()
    update_prototype_means(whole, z, momentum=0.5)

    halves = [z[:17], z[17:]]
    pending = []

    def record(tensor):  # first pass: collect each rank's sums and counts
        pending.append(tensor.clone())

    for half in halves:
        update_prototype_means(start.clone(), half, momentum=0.5, all_reduce=record)
    sums, counts = pending[0] + pending[2], pending[1] + pending[3]
    results = []
    for rank in range(2):
        calls = iter([sums, counts])

        def summed(tensor):
            tensor.copy_(next(calls))

        out = start.clone()
        update_prototype_means(out, halves[rank], momentum=0.5, all_reduce=summed)
        results.append(out)
    assert torch.equal(results[0], results[1])
    assert torch.allclose(results[0], whole, atol=1e-6)


def test_epoch_momentum_averages_over_about_one_pass_and_is_clipped():
    assert epoch_momentum(224, 4000) == pytest.approx(1 - 224 / 4000)
    assert epoch_momentum(64, 100) == 0.9
    assert epoch_momentum(1, 10 ** 6) == 0.999
    with pytest.raises(ValueError, match="images_per_step"):
        epoch_momentum(0, 10)


def test_a_momentum_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="momentum"):
        update_prototype_means(torch.eye(2), torch.eye(2), momentum=1.0)


# ---- asd_prototype_update: lloyd -------------------------------------------------------------------------------


def _spread(z: torch.Tensor, prototypes: torch.Tensor) -> float:
    """Spherical k-means objective: sum over projections of the cosine to their nearest prototype."""
    return float((z @ F.normalize(prototypes, dim=1).t()).max(dim=1).values.sum())


def test_one_lloyd_step_puts_each_direction_on_its_cell_mean_and_keeps_the_row_norms():
    prototypes = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-0.5, 0.0]])
    z = F.normalize(torch.tensor([[1.0, 0.2], [1.0, -0.6], [0.1, 1.0]]), dim=1)
    counts = lloyd_steps(prototypes, z, steps=1)
    assert counts.tolist() == [2.0, 1.0, 0.0]
    assert torch.allclose(prototypes[0], 2.0 * F.normalize(z[:2].sum(0), dim=0), atol=1e-6)
    assert torch.allclose(prototypes[1], 3.0 * z[2], atol=1e-6)
    assert torch.equal(prototypes[2], torch.tensor([-0.5, 0.0]))  # an empty cell keeps its prototype


def test_lloyd_steps_never_lower_the_spherical_kmeans_objective_and_reach_a_fixed_point():
    g = torch.Generator().manual_seed(2)
    z = F.normalize(torch.randn(300, 4, generator=g), dim=1)
    prototypes = torch.randn(8, 4, generator=g)
    values = [_spread(z, prototypes)]
    for _ in range(30):
        lloyd_steps(prototypes, z, steps=1)
        values.append(_spread(z, prototypes))
    assert all(b >= a - 1e-4 for a, b in zip(values, values[1:]))
    assert values[-1] > values[0]
    settled = prototypes.clone()
    lloyd_steps(prototypes, z, steps=1)
    assert torch.allclose(prototypes, settled, atol=1e-6)  # 30 steps converged on 300 points


def test_lloyd_steps_recover_a_planted_grouping_from_a_poor_start():
    g = torch.Generator().manual_seed(3)
    centres = F.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), dim=1)
    which = torch.arange(150) % 3
    z = F.normalize(centres[which] + 0.1 * torch.randn(150, 3, generator=g), dim=1)
    prototypes = F.normalize(torch.tensor([[1.0, 0.6, 0.2], [0.5, 1.0, 0.4], [0.3, 0.5, 1.0]]), dim=1)
    lloyd_steps(prototypes, z, steps=10)
    assert torch.equal((z @ prototypes.t()).argmax(dim=1), which)
    assert torch.allclose(prototypes, centres, atol=0.03)


def test_two_ranks_all_reducing_their_halves_take_the_steps_of_one_process_on_the_whole_queue():
    """A real two-thread all-reduce (a barrier and a sum): every rank ends on the single process's prototypes."""
    g = torch.Generator().manual_seed(4)
    start = torch.randn(6, 3, generator=g)
    z = F.normalize(torch.randn(90, 3, generator=g), dim=1)
    whole = start.clone()
    lloyd_steps(whole, z, steps=5)

    barrier, slots = threading.Barrier(2), [None, None]

    def all_reduce_for(rank):
        def all_reduce(tensor):
            slots[rank] = tensor.clone()
            barrier.wait()
            total = slots[0] + slots[1]
            barrier.wait()
            tensor.copy_(total)
        return all_reduce

    results = [start.clone(), start.clone()]
    threads = [threading.Thread(target=lloyd_steps, args=(results[r], part, 5, all_reduce_for(r)))
               for r, part in enumerate((z[:41], z[41:]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert torch.equal(results[0], results[1])
    assert torch.allclose(results[0], whole, atol=1e-5)


def test_the_lloyd_queue_refines_on_its_newest_projections_and_restores_from_its_state():
    g = torch.Generator().manual_seed(5)
    lloyd = PrototypeLloyd(length=40, steps=3)
    prototypes = torch.randn(4, 3, generator=g)
    assert lloyd.refine(prototypes.clone()) is None  # nothing queued yet: nothing moves
    batches = [F.normalize(torch.randn(16, 3, generator=g), dim=1) for _ in range(4)]
    for batch in batches:
        lloyd.observe(batch)
    newest = torch.cat([batches[3], batches[2], batches[1][:8]])  # 40 kept, newest first
    expected = prototypes.clone()
    lloyd_steps(expected, newest, 3)
    restored = PrototypeLloyd(length=40, steps=3)
    restored.load_state_dict(lloyd.state_dict())
    a, b = prototypes.clone(), prototypes.clone()
    counts = lloyd.refine(a)
    restored.refine(b)
    assert counts.sum() == 40
    assert torch.equal(a, expected) and torch.equal(b, expected)


def test_the_lloyd_queue_holds_one_pass_over_the_pool_at_most_4096_images_over_all_ranks():
    assert lloyd_queue_length(4000) == 4000
    assert lloyd_queue_length(50_000) == 4096
    assert lloyd_queue_length(50_000, world_size=2) == 2048
    with pytest.raises(ValueError, match="num_samples"):
        lloyd_queue_length(0)
    with pytest.raises(ValueError, match="steps"):
        lloyd_steps(torch.eye(2), torch.eye(2), steps=-1)
