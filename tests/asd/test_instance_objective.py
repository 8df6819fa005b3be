"""The instance objective on an unlabelled batch: where gradients flow, the queue, a planted toy learnt."""

import torch

from usb_asd.asd.instance_objective import BalancedInstanceObjective
from usb_asd.nets.prototype_head import PrototypeHead


def _head(feat_dim=8, classes=4, seed=0):
    torch.manual_seed(seed)
    return PrototypeHead(feat_dim, classes, hidden_dim=8, out_dim=4)


def test_swapped_prediction_reaches_both_views_and_the_prototypes():
    head = _head()
    objective = BalancedInstanceObjective(4, batch_size=16)
    feat_w = torch.randn(16, 8, requires_grad=True)
    feat_s = torch.randn(16, 8, requires_grad=True)
    out = objective(head, feat_w, feat_s)
    out.loss.backward()
    assert feat_w.grad.abs().sum() > 0 and feat_s.grad.abs().sum() > 0
    assert head.prototypes.grad.abs().sum() > 0
    assert out.weak_classes.shape == (16,) and out.strong_classes.shape == (16,)
    assert not out.weak_classes.requires_grad


def test_weak_features_without_gradient_only_serve_as_targets():
    head = _head()
    feat_w = torch.randn(16, 8)
    feat_s = torch.randn(16, 8, requires_grad=True)
    out = BalancedInstanceObjective(4, 16)(head, feat_w, feat_s)
    out.loss.backward()
    assert feat_s.grad.abs().sum() > 0


def test_frozen_prototypes_get_no_gradient_but_the_projection_does():
    head = _head()
    out = BalancedInstanceObjective(4, 16)(head, torch.randn(16, 8), torch.randn(16, 8, requires_grad=True),
                                           freeze_prototypes=True)
    out.loss.backward()
    assert head.prototypes.grad is None
    assert head.projection[0].weight.grad.abs().sum() > 0


def test_without_a_strong_view_the_weak_view_predicts_its_own_targets():
    head = _head()
    feat_w = torch.randn(16, 8, requires_grad=True)
    out = BalancedInstanceObjective(4, 16)(head, feat_w, None)
    out.loss.backward()
    assert out.strong_classes is None and feat_w.grad.abs().sum() > 0


def test_a_batch_smaller_than_the_classes_fills_the_queue():
    head = _head(classes=10)
    objective = BalancedInstanceObjective(10, batch_size=4)
    assert objective.queue.length == 12
    for _ in range(4):
        objective(head, torch.randn(4, 8), torch.randn(4, 8))
    assert objective.queue.filled == 12
    restored = BalancedInstanceObjective(10, batch_size=4)
    restored.load_state_dict(objective.state_dict())
    torch.manual_seed(1)
    w, s = torch.randn(4, 8), torch.randn(4, 8)
    head.eval()
    assert torch.equal(objective(head, w, s).loss, restored(head, w, s).loss)


def test_planted_two_groups_end_in_separate_instance_classes():
    # Two Gaussian groups of "images"; views are noisy copies. Trained from scratch with
    # the objective alone, every image of a group ends in the same instance class.
    torch.manual_seed(0)
    centres = torch.randn(2, 8) * 3
    group = torch.arange(64) % 2
    images = centres[group] + torch.randn(64, 8) * 0.5
    head = PrototypeHead(8, 2, hidden_dim=16, out_dim=4)
    objective = BalancedInstanceObjective(2, batch_size=64)
    optimiser = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    for step in range(60):
        weak = images + torch.randn_like(images) * 0.3
        strong = images + torch.randn_like(images) * 0.6
        loss = objective(head, weak, strong, freeze_prototypes=step < 10).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    head.eval()
    with torch.no_grad():
        classes = head(images).argmax(dim=1)
    assert len(set(classes[group == 0].tolist())) == 1 and len(set(classes[group == 1].tolist())) == 1
    assert classes[group == 0][0] != classes[group == 1][0]
