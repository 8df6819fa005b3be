"""A small convolutional backbone for CPU-size image work (the digits default).

Follows USB's net interface (``semilearn/nets/wrn/wrn.py``): ``forward`` returns
``{"logits", "feat"}``; ``only_feat=True`` returns the pooled features and
``only_fc=True`` applies the classifier to given features.
"""

from __future__ import annotations

from typing import Dict, List, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F


def _conv_bn_relu(in_ch: int, out_ch: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Stacked 3x3 conv-BN-ReLU stages, global average pooling, one linear classifier.

    Args:
        num_classes: Outputs of the classifier.
        widths: Output channels of each stage; every stage after the first halves
            the spatial size (stride 2).
        in_channels: Input image channels.
    """

    def __init__(
        self, num_classes: int, widths: Sequence[int] = (32, 64, 128), in_channels: int = 3
    ) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        prev = in_channels
        for i, width in enumerate(widths):
            layers.append(_conv_bn_relu(prev, width, stride=1 if i == 0 else 2))
            prev = width
        self.features = nn.Sequential(*layers)
        self.num_features = prev
        self.classifier = nn.Linear(prev, num_classes)

    def forward(
        self, x: torch.Tensor, only_fc: bool = False, only_feat: bool = False, **kwargs
    ) -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
        """Args:
            x: Images ``(B, C, H, W)``, or features ``(B, D)`` when ``only_fc``.
            only_fc: Apply only the classifier to ``x``.
            only_feat: Return only the pooled features.

        Returns:
            ``{"logits": (B, num_classes), "feat": (B, D)}`` unless a flag asks otherwise.
        """
        if only_fc:
            return self.classifier(x)
        feat = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        if only_feat:
            return feat
        return {"logits": self.classifier(feat), "feat": feat}

    def group_matcher(self, coarse: bool = False, prefix: str = "") -> Dict[str, str]:
        """Parameter groups for USB's layer-wise learning-rate decay."""
        return dict(stem=rf"^{prefix}features\.0", blocks=rf"^{prefix}features\.(\d+)")

    def no_weight_decay(self) -> List[str]:
        """Names of parameters USB's optimiser exempts from weight decay."""
        norm_params = {
            f"{module_name}.{param_name}"
            for module_name, module in self.named_modules()
            if isinstance(module, nn.BatchNorm2d)
            for param_name, _ in module.named_parameters()
        }
        return [n for n, _ in self.named_parameters() if n in norm_params or n.endswith("bias")]


def cnn_small(
    num_classes: int, pretrained: bool = False, pretrained_path: str = "", **kwargs
) -> SmallCNN:
    """USB net builder for :class:`SmallCNN` with widths 32-64-128 (about 94k parameters).

    Args:
        num_classes: Outputs of the classifier.
        pretrained: Not supported: there are no published weights for this net.
        pretrained_path: Unused (USB passes it to every builder).

    Returns:
        A freshly initialised :class:`SmallCNN`.
    """
    if pretrained:
        raise ValueError("net 'cnn_small' has no pretrained weights; set use_pretrain: False")
    return SmallCNN(num_classes=num_classes, **kwargs)
