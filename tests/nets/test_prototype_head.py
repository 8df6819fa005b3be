"""The instance head: cosine scores against unit prototypes, divided by the temperature."""

import pytest
import torch

from usb_asd.nets.prototype_head import PrototypeHead
from usb_asd.nets.small_cnn import cnn_small
from usb_asd.nets.two_head import TwoHeadNet


def test_scores_are_cosines_and_logits_divide_them_by_the_temperature():
    torch.manual_seed(0)
    head = PrototypeHead(16, 7, temperature=0.2).eval()
    feat = torch.randn(5, 16)
    scores, logits = head.scores_and_logits(feat)
    assert scores.shape == (5, 7) and torch.all(scores.abs() <= 1 + 1e-6)
    assert torch.allclose(logits, scores / 0.2) and torch.allclose(head(feat), logits)
    z = head.embed(feat)
    assert torch.allclose(z.norm(dim=1), torch.ones(5))
    expected = z @ (head.prototypes / head.prototypes.norm(dim=1, keepdim=True)).t()
    assert torch.allclose(scores, expected, atol=1e-6)


def test_the_prototypes_scale_does_not_matter():
    torch.manual_seed(1)
    head = PrototypeHead(8, 3).eval()
    feat = torch.randn(4, 8)
    before = head(feat)
    with torch.no_grad():
        head.prototypes.mul_(torch.tensor([[3.0], [0.5], [10.0]]))
    assert torch.allclose(head(feat), before, atol=1e-5)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="num_prototypes"):
        PrototypeHead(8, 0)
    with pytest.raises(ValueError, match="temperature"):
        PrototypeHead(8, 3, temperature=0.0)


def test_two_head_net_exempts_the_prototypes_and_norm_parameters_from_weight_decay():
    net = TwoHeadNet(cnn_small(num_classes=10), 40)
    exempt = set(net.no_weight_decay())
    assert "instance_head.prototypes" in exempt
    assert "instance_head.projection.1.weight" in exempt  # BatchNorm
    assert "instance_head.projection.0.weight" not in exempt
    out = net(torch.randn(2, 3, 8, 8))
    assert out["logits"].shape == (2, 10) and out["logits_instance"].shape == (2, 40)
    scores, logits = net.instance_scores_and_logits(out["feat"])
    assert torch.allclose(logits, out["logits_instance"], atol=1e-6)
