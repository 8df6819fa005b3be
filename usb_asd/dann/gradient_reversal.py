"""The gradient-reversal layer of DANN (Ganin & Lempitsky, ICML 2015; Ganin et al., JMLR 2016).

Identity in the forward pass; in the backward pass the incoming gradient is
multiplied by ``-coeff``. Placed between the backbone's features and the
domain discriminator, it lets one loss train the discriminator to tell the
domains apart while pushing the backbone to make them indistinguishable.
"""

from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

__all__ = ["GradientReversal", "grad_reverse"]


class _ReverseGrad(torch.autograd.Function):
    """``y = x``; ``dL/dx = -coeff * dL/dy`` (no gradient to ``coeff``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, coeff: float) -> torch.Tensor:  # type: ignore[override]
        ctx.coeff = coeff
        # view_as: a new tensor node, so autograd routes the backward through here.
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> Tuple[torch.Tensor, None]:  # type: ignore[override]
        return grad_output.neg() * ctx.coeff, None


def grad_reverse(x: torch.Tensor, coeff: float = 1.0) -> torch.Tensor:
    """Identity on ``x`` whose backward multiplies the gradient by ``-coeff``.

    Args:
        x: Any tensor (typically the backbone's features, ``(n, d)``).
        coeff: The reversal coefficient ``lambda >= 0`` (DANN's schedule
            :func:`usb_asd.dann.schedule.grl_coefficient`).

    Returns:
        A tensor equal to ``x``.

    Raises:
        ValueError: if ``coeff`` is negative or not finite.
    """
    coeff = float(coeff)
    if not math.isfinite(coeff) or coeff < 0:
        raise ValueError(f"the gradient-reversal coefficient must be a finite number >= 0, got {coeff!r}")
    return _ReverseGrad.apply(x, coeff)


class GradientReversal(nn.Module):
    """Module form of :func:`grad_reverse`; the coefficient is set per call or stored.

    Args:
        coeff: Default coefficient used when :meth:`forward` gets none.
    """

    def __init__(self, coeff: float = 1.0) -> None:
        super().__init__()
        self.coeff = float(coeff)

    def forward(self, x: torch.Tensor, coeff: float | None = None) -> torch.Tensor:
        """``grad_reverse(x, coeff or self.coeff)``."""
        return grad_reverse(x, self.coeff if coeff is None else coeff)

    def extra_repr(self) -> str:
        return f"coeff={self.coeff}"
