"""Running-mean prototypes (online spherical k-means): the update's mathematics and a planted grouping."""

import pytest
import torch
import torch.nn.functional as F

from usb_asd.asd.prototype_means import epoch_momentum, update_prototype_means


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
