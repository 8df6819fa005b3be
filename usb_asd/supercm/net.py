"""A USB backbone whose features also feed SuperCM's clustering module.

SuperCM (Singh et al., Pattern Recognition 2025, arXiv 2507.13779) puts a
clustering module (CM) on the backbone's features; in the paper the CM's
assignment layer *is* the classifier (cross-entropy on its logits, arg-max for
prediction). :class:`ClusteringHeadNet` wraps any USB net (or a learner's own
wrapper such as ``CoMatch_Net``) and

* ``as_classifier=True`` (the paper): replaces ``out["logits"]`` by the CM's
  logits, so every loss the USB learner computes on ``logits`` trains the
  assignment layer, and evaluation predicts with it;
* ``as_classifier=False``: keeps the learner's own classifier and adds the CM
  beside it (``out["logits_cm"]``), so the CM regularises only the features.
"""

from __future__ import annotations

from typing import Dict, List, Union

import torch
import torch.nn as nn

from .module import ClusteringModule


class ClusteringHeadNet(nn.Module):
    """Wrap a USB net so its outputs carry the clustering module's logits.

    Args:
        backbone: Any USB net (``forward`` returns ``{"logits", "feat", ...}``
            and accepts ``only_feat`` / ``only_fc``).
        cm: The clustering module, built for the backbone's feature size.
        as_classifier: Whether the CM's logits replace the backbone's.
    """

    def __init__(self, backbone: nn.Module, cm: ClusteringModule, as_classifier: bool = True) -> None:
        super().__init__()
        self.backbone = backbone
        self.cm = cm
        self.as_classifier = bool(as_classifier)
        self.num_features = cm.feat_dim

    def forward(
        self, x: torch.Tensor, only_fc: bool = False, only_feat: bool = False, **kwargs
    ) -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
        """The backbone's outputs with ``"logits_cm"`` added (and put in ``"logits"`` as classifier).

        ``only_fc=True`` takes features ``x`` and returns the classifier's
        logits (the CM's when it is the classifier).
        """
        if only_fc:
            return self.cm(x)["logits"] if self.as_classifier else self.backbone(x, only_fc=True, **kwargs)
        out = self.backbone(x, only_fc=False, only_feat=only_feat, **kwargs)
        if only_feat or not isinstance(out, dict):
            return out
        out["logits_cm"] = self.cm(out["feat"])["logits"]
        if self.as_classifier:
            out["logits"] = out["logits_cm"]
        return out

    def group_matcher(self, coarse: bool = False, prefix: str = "") -> Dict[str, str]:
        return self.backbone.group_matcher(coarse, prefix=f"{prefix}backbone.")

    def no_weight_decay(self) -> List[str]:
        inner = self.backbone.no_weight_decay() if hasattr(self.backbone, "no_weight_decay") else []
        # Learned centroids are cluster positions, not weights to shrink.
        extra = ["cm.assign.bias"] + (["cm.mu"] if self.cm.mu is not None else [])
        return [f"backbone.{n}" for n in inner] + extra


def feature_size(net: nn.Module) -> int:
    """The feature size ``d`` of a USB net (its ``num_features``), with a clear error if it has none."""
    dim = int(getattr(net, "num_features", 0) or 0)
    if dim <= 0:
        raise ValueError(
            f"cannot put a clustering module on {type(net).__name__}: it has no num_features attribute"
        )
    return dim
