"""A USB backbone with a second, instance-level head (ASD's two heads).

ASD (Duan et al., IEEE TIP 2025) trains two heads on shared features: the
backbone's own classifier becomes the *cluster head* (k outputs), trained by
the USB learner's losses; the *instance head* (``n_l`` outputs, one per
instance class: :class:`~.prototype_head.PrototypeHead`) is trained by the adaptor.
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Union

import torch
import torch.nn as nn

from .prototype_head import PrototypeHead


class TwoHeadNet(nn.Module):
    """Wrap a USB net so its outputs also carry instance-head logits.

    Args:
        backbone: Any USB net (``forward`` returns ``{"logits", "feat"}``).
        num_instances: Outputs of the instance head (``n_l``).
        feat_dim: Feature size; read from ``backbone.num_features`` when omitted.
    """

    def __init__(self, backbone: nn.Module, num_instances: int, feat_dim: int = 0) -> None:
        super().__init__()
        feat_dim = feat_dim or int(getattr(backbone, "num_features", 0))
        if feat_dim <= 0:
            raise ValueError(
                f"cannot infer the feature size of {type(backbone).__name__}: it has no num_features; "
                "pass feat_dim"
            )
        self.backbone = backbone
        self.instance_head = PrototypeHead(feat_dim, num_instances)
        self.num_features = feat_dim

    def forward(
        self, x: torch.Tensor, only_fc: bool = False, only_feat: bool = False, **kwargs
    ) -> Union[torch.Tensor, Dict[str, torch.Tensor]]:
        """The backbone's outputs, plus ``"logits_instance"`` when it returns a dict."""
        out = self.backbone(x, only_fc=only_fc, only_feat=only_feat, **kwargs)
        if isinstance(out, dict) and "feat" in out:
            out["logits_instance"] = self.instance_head(out["feat"])
        return out

    def instance_logits(self, feat: torch.Tensor) -> torch.Tensor:
        """Instance-head logits ``(B, n_l)`` (cosine scores / ``T``) from backbone features ``(B, D)``."""
        return self.instance_head(feat)

    def instance_scores_and_logits(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Instance-head cosine scores and logits ``(B, n_l)`` each, from one forward."""
        return self.instance_head.scores_and_logits(feat)

    def group_matcher(self, coarse: bool = False, prefix: str = "") -> Dict[str, str]:
        return self.backbone.group_matcher(coarse, prefix=f"{prefix}backbone.")

    def no_weight_decay(self) -> List[str]:
        inner = self.backbone.no_weight_decay() if hasattr(self.backbone, "no_weight_decay") else []
        # The prototypes are normalised before use: decay would only shrink their raw norm.
        head = [f"instance_head.{n}" for n, p in self.instance_head.named_parameters() if p.ndim < 2 or n == "prototypes"]
        return [f"backbone.{n}" for n in inner] + head


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside ``DataParallel`` / ``DistributedDataParallel`` wrappers."""
    while isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
        model = model.module
    return model
