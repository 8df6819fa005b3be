"""The CPU backbone honours USB's net interface."""

import torch

from usb_asd.nets.small_cnn import cnn_small


def test_usb_interface():
    net = cnn_small(num_classes=7)
    x = torch.randn(5, 3, 16, 16)
    out = net(x)
    assert out["logits"].shape == (5, 7) and out["feat"].shape == (5, net.num_features)
    feat = net(x, only_feat=True)
    assert torch.allclose(net(feat, only_fc=True), out["logits"])
    bn_names = {n for n, m in net.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert {n.rsplit(".", 1)[0] for n in net.no_weight_decay() if "bias" not in n} == bn_names


def test_gradients_reach_the_first_layer():
    net = cnn_small(num_classes=3)
    net(torch.randn(4, 3, 8, 8))["logits"].sum().backward()
    assert net.features[0][0].weight.grad.abs().sum() > 0
