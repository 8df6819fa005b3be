"""DANN's domain discriminator and its loss (source vs target, binary cross-entropy).

The discriminator is a small MLP with two hidden layers (Ganin et al., JMLR
2016, Sec. 5.2.2: ``d -> h -> h -> 1`` with ReLU) on the features the
classifier sees; it outputs one logit, the log-odds that a row comes from the
*target* domain. Source rows have domain label 0, target rows 1.
"""

from __future__ import annotations

from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DomainDiscriminator", "domain_accuracy", "domain_loss"]


class DomainDiscriminator(nn.Module):
    """``Linear(d, h) - ReLU - Linear(h, h) - ReLU - Linear(h, 1)``.

    Args:
        feat_dim: Feature size ``d >= 1``.
        hidden: Width ``h >= 1`` of both hidden layers.
    """

    def __init__(self, feat_dim: int, hidden: int = 256) -> None:
        super().__init__()
        if int(feat_dim) != feat_dim or feat_dim < 1:
            raise ValueError(f"feat_dim must be a positive integer, got {feat_dim!r}")
        if int(hidden) != hidden or hidden < 1:
            raise ValueError(f"the discriminator's hidden width must be a positive integer, got {hidden!r}")
        self.feat_dim = int(feat_dim)
        self.net = nn.Sequential(
            nn.Linear(self.feat_dim, int(hidden)),
            nn.ReLU(inplace=True),
            nn.Linear(int(hidden), int(hidden)),
            nn.ReLU(inplace=True),
            nn.Linear(int(hidden), 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Domain logits ``(n,)`` (positive: target) for features ``z`` ``(n, d)``."""
        if z.dim() != 2 or z.shape[1] != self.feat_dim:
            raise ValueError(f"features must have shape (n, {self.feat_dim}), got {tuple(z.shape)}")
        return self.net(z).squeeze(1)


def _targets(logits_source: torch.Tensor, logits_target: torch.Tensor) -> torch.Tensor:
    return torch.cat([torch.zeros_like(logits_source), torch.ones_like(logits_target)])


def domain_loss(logits_source: torch.Tensor, logits_target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the discriminator, source label 0 and target label 1.

    The mean over all ``n_s + n_t`` rows; with DANN's equal batches each domain
    weighs one half. A discriminator at chance (logit 0 everywhere) scores
    exactly ``log 2``.

    Args:
        logits_source: ``(n_s,)`` discriminator logits of source rows.
        logits_target: ``(n_t,)`` discriminator logits of target rows.

    Returns:
        A 0-d tensor, computed in at least float32 (AMP-safe).
    """
    logits = torch.cat([logits_source, logits_target])
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    return F.binary_cross_entropy_with_logits(logits, _targets(logits_source, logits_target).to(logits.dtype))


@torch.no_grad()
def domain_accuracy(logits_source: torch.Tensor, logits_target: torch.Tensor) -> torch.Tensor:
    """Fraction of rows whose domain the discriminator gets right (logit > 0: target)."""
    logits = torch.cat([logits_source, logits_target])
    return ((logits > 0).to(logits.dtype) == _targets(logits_source, logits_target)).float().mean()


def domain_statistics(logits_source: torch.Tensor, logits_target: torch.Tensor) -> Dict[str, torch.Tensor]:
    """``{"loss": domain_loss, "accuracy": domain_accuracy}`` of one batch."""
    return {"loss": domain_loss(logits_source, logits_target),
            "accuracy": domain_accuracy(logits_source, logits_target)}
