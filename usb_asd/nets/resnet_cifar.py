"""ResNet-18 for 32x32 images (3x3 stem, no max-pool), with USB's net interface.

He et al., "Deep Residual Learning for Image Recognition", CVPR 2016; the
CIFAR variant used by deep-clustering work (SCAN, SPICE) and by ASD on CIFAR.
``semilearn.nets`` has no ResNet-18, hence this one.
"""

from __future__ import annotations

from typing import Dict, List, Union

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNetCifar(nn.Module):
    """ResNet with a CIFAR stem; ``forward`` returns ``{"logits", "feat"}`` like USB's nets.

    Args:
        num_classes: Classifier outputs.
        blocks: Blocks per stage (ResNet-18: 2, 2, 2, 2).
    """

    def __init__(self, num_classes: int, blocks=(2, 2, 2, 2)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers: List[nn.Module] = []
        in_planes = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
            for j in range(n):
                layers.append(BasicBlock(in_planes, planes, stride=2 if (i > 0 and j == 0) else 1))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.num_features = in_planes
        self.classifier = nn.Linear(in_planes, num_classes)

    def forward(
        self, x: torch.Tensor, only_fc: bool = False, only_feat: bool = False, **kwargs
    ) -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
        if only_fc:
            return self.classifier(x)
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        feat = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
        if only_feat:
            return feat
        return {"logits": self.classifier(feat), "feat": feat}

    def group_matcher(self, coarse: bool = False, prefix: str = "") -> Dict[str, str]:
        return dict(stem=rf"^{prefix}conv1|^{prefix}bn1", blocks=rf"^{prefix}layers\.(\d+)")

    def no_weight_decay(self) -> List[str]:
        return [n for n, p in self.named_parameters() if p.ndim <= 1]


def resnet18_cifar(num_classes: int, pretrained: bool = False, pretrained_path: str = "", **kwargs) -> ResNetCifar:
    """USB net builder: CIFAR ResNet-18 (about 11.2M parameters), no pretrained weights."""
    if pretrained:
        raise ValueError("net 'resnet18_cifar' has no pretrained weights; set use_pretrain: False")
    return ResNetCifar(num_classes=num_classes)
