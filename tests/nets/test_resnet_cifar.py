"""CIFAR ResNet-18: USB interface, size, and registration in USB's net registry."""

import torch

from usb_asd import plugin
from usb_asd.nets.resnet_cifar import resnet18_cifar


def test_interface_and_parameter_count():
    net = resnet18_cifar(num_classes=10)
    out = net(torch.randn(2, 3, 32, 32))
    assert out["logits"].shape == (2, 10) and out["feat"].shape == (2, 512)
    assert 11.0e6 < sum(p.numel() for p in net.parameters()) < 11.4e6


def test_registered_in_usb_net_registry():
    from semilearn.core.utils import get_net_builder

    plugin.register()
    assert get_net_builder("resnet18_cifar", False) is resnet18_cifar
    assert get_net_builder("cnn_small", False).__name__ == "cnn_small"
