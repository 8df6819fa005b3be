"""The domain discriminator and its loss; one adversarial step on a toy pair."""

import math

import pytest
import torch

from usb_asd.dann.discriminator import DomainDiscriminator, domain_accuracy, domain_loss
from usb_asd.dann.gradient_reversal import grad_reverse


def test_two_hidden_layers_and_one_logit_per_row():
    disc = DomainDiscriminator(6, hidden=5)
    linears = [m for m in disc.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(6, 5), (5, 5), (5, 1)]
    assert disc(torch.randn(4, 6)).shape == (4,)
    with pytest.raises(ValueError, match="shape"):
        disc(torch.randn(4, 7))


def test_loss_is_log2_at_chance():
    assert domain_loss(torch.zeros(7), torch.zeros(7)).item() == pytest.approx(math.log(2.0))
    assert domain_loss(torch.zeros(3), torch.zeros(5)).item() == pytest.approx(math.log(2.0))


def test_loss_and_accuracy_follow_the_labels_source0_target1():
    sure = torch.full((4,), 20.0)
    assert domain_loss(-sure, sure).item() < 1e-6  # source negative, target positive: right
    assert domain_loss(sure, -sure).item() > 10.0  # the other way round: wrong
    assert domain_accuracy(-sure, sure).item() == 1.0
    assert domain_accuracy(sure, -sure).item() == 0.0
    assert domain_accuracy(torch.tensor([-1.0, 1.0]), torch.tensor([1.0, -1.0])).item() == 0.5


def test_one_step_trains_the_discriminator_and_reverses_the_backbone_gradient():
    """Same loss, with and without the reversal: the discriminator's gradient is the
    same, the backbone's is multiplied by -lambda."""
    torch.manual_seed(0)
    backbone = torch.nn.Linear(3, 4)
    disc = DomainDiscriminator(4, hidden=8)
    source, target = torch.randn(6, 3), torch.randn(6, 3) + 2.0

    def grads(reverse: bool, coeff: float):
        backbone.zero_grad(), disc.zero_grad()
        z = backbone(torch.cat([source, target]))
        d = disc(grad_reverse(z, coeff) if reverse else z)
        domain_loss(d[:6], d[6:]).backward()
        return backbone.weight.grad.clone(), [p.grad.clone() for p in disc.parameters()]

    plain_backbone, plain_disc = grads(False, 0.0)
    rev_backbone, rev_disc = grads(True, 0.4)
    assert all(g.abs().sum() > 0 for g in rev_disc)  # the discriminator learns
    for a, b in zip(plain_disc, rev_disc):
        assert torch.allclose(a, b)
    assert plain_backbone.abs().sum() > 0
    assert torch.allclose(rev_backbone, -0.4 * plain_backbone, atol=1e-7)
    # The sign really flips: the backbone moves against the discriminator.
    assert (rev_backbone * plain_backbone).sum() < 0
