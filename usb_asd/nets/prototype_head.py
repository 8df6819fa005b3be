"""ASD's instance head: a projection and ``n_l`` normalised prototypes with a temperature.

The head maps backbone features ``f`` to a projection ``z = g(f) / ||g(f)||``
(``g``: linear, BatchNorm, ReLU, linear, as SwAV's projection head) and scores
``z`` against unit prototypes ``c_j``:

.. math:: s_j = z^\\top c_j / \\lVert c_j \\rVert \\in [-1, 1], \\qquad \\text{logits}_j = s_j / T.

Cosine scores make the per-batch transport's ``epsilon`` and the temperature
``T`` independent of the feature scale (Caron et al., SwAV, NeurIPS 2020,
section 3.1), and the projection keeps the instance-level objective from
dictating the backbone features the cluster head reads.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["PrototypeHead"]

#: Softmax temperature of the instance logits (SwAV's 0.1).
PROTOTYPE_TEMPERATURE = 0.1


class PrototypeHead(nn.Module):
    """Projection + cosine prototypes.

    Args:
        feat_dim: Backbone feature size.
        num_prototypes: ``n_l``, the instance classes.
        hidden_dim: Width of the projection's hidden layer (default: ``feat_dim``).
        out_dim: Projection size (default: ``min(feat_dim, 128)``).
        temperature: ``T`` of the logits.
    """

    def __init__(
        self,
        feat_dim: int,
        num_prototypes: int,
        hidden_dim: int = 0,
        out_dim: int = 0,
        temperature: float = PROTOTYPE_TEMPERATURE,
    ) -> None:
        super().__init__()
        if num_prototypes < 1:
            raise ValueError(f"num_prototypes must be >= 1, got {num_prototypes}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        hidden_dim = hidden_dim or feat_dim
        out_dim = out_dim or min(feat_dim, 128)
        self.projection = nn.Sequential(
            nn.Linear(feat_dim, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, out_dim),
        )
        self.prototypes = nn.Parameter(F.normalize(torch.randn(num_prototypes, out_dim), dim=1))
        self.temperature = float(temperature)

    @property
    def num_prototypes(self) -> int:
        return int(self.prototypes.shape[0])

    def embed(self, feat: torch.Tensor) -> torch.Tensor:
        """Unit projections ``z`` ``(B, out_dim)`` of backbone features ``(B, feat_dim)``."""
        return F.normalize(self.projection(feat), dim=1)

    def scores(self, feat: torch.Tensor) -> torch.Tensor:
        """Cosine scores ``(B, n_l)`` in ``[-1, 1]``."""
        return self.embed(feat) @ F.normalize(self.prototypes, dim=1).t()

    def scores_and_logits(self, feat: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(scores, scores / T)``, sharing one forward."""
        scores = self.scores(feat)
        return scores, scores / self.temperature

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_l)`` = cosine scores / ``T``."""
        return self.scores(feat) / self.temperature
