"""ClusteringHeadNet: the CM's logits as the classifier, or beside the learner's."""

import pytest
import torch

from usb_asd.nets.small_cnn import SmallCNN
from usb_asd.supercm.module import ClusteringModule
from usb_asd.supercm.net import ClusteringHeadNet, feature_size


def _net(as_classifier, centroids="supervised"):
    torch.manual_seed(0)
    backbone = SmallCNN(num_classes=4, widths=(8, 16))
    return ClusteringHeadNet(backbone, ClusteringModule(16, 4, temperature=0.5, centroids=centroids), as_classifier)


def test_classifier_mode_predicts_with_the_cm():
    net = _net(True).eval()
    x = torch.randn(5, 3, 8, 8)
    out = net(x)
    feat = net.backbone(x, only_feat=True)
    expected = (net.cm.assign(feat)) / 0.5
    assert torch.allclose(out["feat"], feat)
    assert torch.allclose(out["logits"], expected) and torch.equal(out["logits"], out["logits_cm"])
    assert torch.allclose(net(feat, only_fc=True), expected)
    assert torch.equal(net(x, only_feat=True), feat)


def test_beside_mode_keeps_the_learners_classifier():
    net = _net(False).eval()
    x = torch.randn(5, 3, 8, 8)
    out = net(x)
    assert torch.allclose(out["logits"], net.backbone(x)["logits"])
    assert not torch.allclose(out["logits"], out["logits_cm"])
    assert torch.allclose(net(out["feat"], only_fc=True), out["logits"])


@pytest.mark.parametrize("centroids", ["supervised", "learned"])
def test_no_weight_decay_names_are_real_parameters(centroids):
    net = _net(True, centroids)
    names = dict(net.named_parameters())
    exempt = net.no_weight_decay()
    assert set(exempt) <= set(names)
    assert "cm.assign.bias" in exempt and ("cm.mu" in exempt) == (centroids == "learned")
    assert "cm.assign.weight" not in exempt


def test_feature_size_needs_num_features():
    assert feature_size(SmallCNN(3, widths=(4, 6))) == 6
    with pytest.raises(ValueError, match="num_features"):
        feature_size(torch.nn.Linear(2, 2))
