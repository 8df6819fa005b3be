"""Per-batch balanced targets: marginals of the transport, gradients, a planted two-group toy."""

import math

import pytest
import torch
import torch.nn.functional as F

from usb_asd.asd.balanced_targets import (
    EQUIPARTITION_TOLERANCE,
    collapse_score,
    sinkhorn_equipartition,
    swapped_prediction_loss,
)


def _cosines(batch, classes, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = F.normalize(torch.randn(batch, dim, generator=g), dim=1)
    c = F.normalize(torch.randn(classes, dim, generator=g), dim=1)
    return z @ c.t()


@pytest.mark.parametrize("batch,classes", [(224, 100), (64, 30), (30, 64), (7, 3)])
def test_rows_are_distributions_and_every_class_gets_its_share(batch, classes):
    q = sinkhorn_equipartition(_cosines(batch, classes))
    assert q.shape == (batch, classes) and torch.all(q >= 0)
    assert torch.allclose(q.sum(dim=1), torch.ones(batch), atol=1e-5)
    share = q.sum(dim=0) / batch
    assert torch.all((share * classes - 1).abs() <= EQUIPARTITION_TOLERANCE + 1e-4)


def test_a_batch_that_prefers_one_class_is_still_spread_equally():
    scores = _cosines(200, 50) * 0.3
    scores[:, 0] += 2.0  # every image scores class 0 highest: the collapse the transport prevents
    assert torch.all(scores.argmax(dim=1) == 0)
    q = sinkhorn_equipartition(scores)
    share = q.sum(dim=0) / 200
    assert torch.all((share * 50 - 1).abs() <= EQUIPARTITION_TOLERANCE + 1e-4)
    assert len(torch.unique(q.argmax(dim=1))) > 40


def test_a_constant_shift_per_image_changes_nothing():
    scores = _cosines(40, 8)
    shifted = scores + torch.linspace(-3, 3, 40)[:, None]
    assert torch.allclose(sinkhorn_equipartition(scores), sinkhorn_equipartition(shifted), atol=1e-6)


def test_planted_two_groups_are_separated():
    # Two groups of images near two directions; two classes: each group gets its own class.
    g = torch.Generator().manual_seed(3)
    centres = F.normalize(torch.randn(2, 8, generator=g), dim=1)
    group = torch.arange(60) % 2
    z = F.normalize(centres[group] + 0.2 * torch.randn(60, 8, generator=g), dim=1)
    q = sinkhorn_equipartition(z @ centres.t())
    assert torch.equal(q.argmax(dim=1), group)


def test_targets_carry_no_gradient_and_the_loss_only_reaches_the_predicting_view():
    weak = torch.randn(32, 10, requires_grad=True)
    strong = torch.randn(32, 10, requires_grad=True)
    q = sinkhorn_equipartition(weak)
    assert not q.requires_grad
    swapped_prediction_loss(strong / 0.1, q).backward()
    assert weak.grad is None and strong.grad is not None and strong.grad.abs().sum() > 0


def test_loss_is_the_cross_entropy_and_ln_k_at_collapse():
    logits = torch.randn(5, 4)
    q = torch.softmax(torch.randn(5, 4), dim=1)
    expected = -(q * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    assert torch.allclose(swapped_prediction_loss(logits, q), expected)
    uniform = torch.full((5, 4), 0.25)
    loss = swapped_prediction_loss(torch.zeros(5, 4), uniform)
    assert math.isclose(collapse_score(float(loss), 4), 1.0, rel_tol=1e-6)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="non-empty"):
        sinkhorn_equipartition(torch.zeros(0, 3))
    with pytest.raises(ValueError, match="epsilon"):
        sinkhorn_equipartition(torch.zeros(2, 3), epsilon=0)
    with pytest.raises(ValueError, match="shape"):
        swapped_prediction_loss(torch.zeros(2, 3), torch.zeros(3, 2))
