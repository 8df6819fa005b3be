"""Balanced instance-level targets for every unlabelled batch (swapped prediction).

ASD (Duan et al., IEEE TIP 2025, arXiv 2509.20976) aligns sampled instances to
the ``n_l`` instance classes by optimal transport. This module carries the same
step out on every unlabelled batch, as balanced self-labelling does (SeLa,
Asano et al., ICLR 2020; SwAV, Caron et al., NeurIPS 2020): the weak views'
scores against the instance classes are turned into soft targets by an
entropic transport that spreads the batch equally over the classes, and the
strong views learn to predict them.

With scores ``s_ij`` (cosine similarity of image ``i`` to prototype ``j``,
``B`` images, ``K = n_l`` classes), the targets solve

.. math::
    Q^\\star = \\arg\\max_{Q \\in \\mathcal{Q}} \\operatorname{tr}(Q^\\top S) + \\varepsilon H(Q),
    \\qquad \\mathcal{Q} = \\{Q \\ge 0 : Q \\mathbf{1}_K = \\mathbf{1}_B / B,\\;
    Q^\\top \\mathbf{1}_B = \\mathbf{1}_K / K\\},

whose solution is ``Q = diag(u) exp(S / eps) diag(v)``; a few Sinkhorn-Knopp
iterations (SwAV: 3, eps 0.05) approximate ``u, v``. Rows are then rescaled to
sum to 1. The loss of a prediction ``p = softmax(s' / T)`` on another view is the
cross-entropy ``-sum_j Q_ij log p_ij`` (SwAV, eq. 1-3).

The equipartition is what prevents the collapse of all images into one
class: a loss stuck at ``ln K`` marks it (:func:`collapse_score`).

Plain torch, on whatever device the scores live; nothing here imports semilearn.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
import torch.nn.functional as F

__all__ = ["sinkhorn_equipartition", "swapped_prediction_loss", "collapse_score"]

#: Fewest Sinkhorn-Knopp rounds per batch (SwAV runs exactly 3).
SINKHORN_MIN_ITERATIONS = 3
#: Most rounds: the loop stops earlier once every class holds its share within the tolerance.
SINKHORN_MAX_ITERATIONS = 100
#: Largest relative deviation of a class's share from ``1/K`` at which the loop stops.
EQUIPARTITION_TOLERANCE = 0.02
#: Entropic regularisation of the per-batch transport on cosine scores (SwAV's value).
SINKHORN_EPSILON = 0.05


@torch.no_grad()
def sinkhorn_equipartition(
    scores: torch.Tensor,
    epsilon: float = SINKHORN_EPSILON,
    tolerance: float = EQUIPARTITION_TOLERANCE,
    max_iterations: int = SINKHORN_MAX_ITERATIONS,
    all_reduce: Optional[Callable[[torch.Tensor], None]] = None,
) -> torch.Tensor:
    """Soft targets that spread a batch equally over the classes.

    Starts from ``P_i = softmax(S_i / eps) / B`` (each image's row: a per-row
    constant, such as the shift that keeps ``exp`` in range, cancels) and then
    alternately rescales every class (column) to hold ``1/K`` of the mass and
    every image (row) to hold ``1/B``: at least ``SINKHORN_MIN_ITERATIONS``
    rounds (SwAV's 3), and on until every class holds ``(1 +- tolerance) / K``
    after the row step (so the guarantee holds for skewed batches too), at most
    ``max_iterations``. Returns ``B * P``, each row a distribution. In a distributed run ``all_reduce`` sums the column masses and
    the batch sizes over ranks, so the equipartition holds over the global batch
    (SwAV's distributed Sinkhorn); ``B`` is then the global batch size.

    Args:
        scores: ``(B, K)`` scores (higher = more alike), any float dtype.
        epsilon: Entropic regularisation, in the units of ``scores``.
        tolerance: Largest relative deviation of a class's share from ``1/K`` to stop at.
        max_iterations: Most Sinkhorn-Knopp rounds.
        all_reduce: In-place sum over ranks of a tensor, or None in one process.

    Returns:
        ``(B, K)`` float32 targets, rows summing to 1 (no gradient).
    """
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty (B, K) matrix, got shape {tuple(scores.shape)}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon}")
    if max_iterations < SINKHORN_MIN_ITERATIONS:
        raise ValueError(f"max_iterations must be >= {SINKHORN_MIN_ITERATIONS}, got {max_iterations}")
    reduce = all_reduce or (lambda tensor: None)
    tiny = torch.finfo(torch.float32).tiny
    batch = torch.tensor([float(scores.shape[0])], device=scores.device)
    reduce(batch)
    num_classes = scores.shape[1]
    plan = torch.softmax(scores.detach().float() / epsilon, dim=1) / batch
    columns = plan.sum(dim=0)
    reduce(columns)
    for done in range(1, max_iterations + 1):
        plan = plan / (columns.clamp_min(tiny) * num_classes)
        plan = plan / (plan.sum(dim=1, keepdim=True).clamp_min(tiny) * batch)
        columns = plan.sum(dim=0)
        reduce(columns)  # every rank sees the same sums, so every rank stops at the same round
        if done >= SINKHORN_MIN_ITERATIONS and bool((columns * num_classes - 1.0).abs().max() <= tolerance):
            break
    return plan * batch


def swapped_prediction_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of predicted logits against soft targets: ``-mean_i sum_j Q_ij log softmax(z_i)_j``.

    Args:
        logits: ``(B, K)`` predictions of one view (already divided by the temperature).
        targets: ``(B, K)`` soft targets of the other view (:func:`sinkhorn_equipartition`).

    Returns:
        A scalar tensor.
    """
    if logits.shape != targets.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} differ in shape")
    return -(targets * F.log_softmax(logits.float(), dim=1)).sum(dim=1).mean()


def collapse_score(loss: float, num_classes: int) -> float:
    """``loss / ln K``: near 1 when the predictions carry no information about the targets (collapse).

    Args:
        loss: A swapped-prediction loss value.
        num_classes: ``K``.
    """
    return float(loss) / math.log(num_classes) if num_classes > 1 else 0.0
