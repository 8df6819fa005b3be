"""The instance head's objective on every unlabelled batch: balanced targets, swapped prediction.

ASD's instance stage (Duan et al., IEEE TIP 2025) gives sampled instances
semantically aligned instance-level labels by optimal transport. Here the same
alignment runs on every unlabelled batch, so the backbone learns from every
image and not only from the ``n_l`` sampled ones:

1. the weak views' cosine scores ``S_w`` against the ``n_l`` prototypes (with
   the queued projections of earlier batches when the batch is small,
   :mod:`.embedding_queue`) become balanced soft targets
   ``Q_w = sinkhorn(S_w)`` (:func:`.balanced_targets.sinkhorn_equipartition`);
2. the strong views predict them: ``L = CE(S_s / T, Q_w)``; when the weak
   views' features carry gradients the prediction is also swapped,
   ``L = (CE(S_s / T, Q_w) + CE(S_w / T, Q_s)) / 2`` (SwAV, Caron et al. 2020, eq. 1).

For a learner without a strong view the weak view predicts its own targets
(SeLa's self-labelling, Asano et al. 2020). Plain torch; nothing here imports semilearn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

import torch
import torch.nn.functional as F

from .balanced_targets import sinkhorn_equipartition, swapped_prediction_loss
from .embedding_queue import EmbeddingQueue, queue_length_for

__all__ = ["BalancedInstanceObjective", "InstanceObjectiveOutput"]


@dataclass
class InstanceObjectiveOutput:
    """One step's instance objective.

    Attributes:
        loss: Scalar swapped-prediction loss (carries gradients where the features did).
        weak_classes: ``(B,)`` argmax instance class of each weak view (no gradient).
        strong_classes: ``(B,)`` argmax on the strong views, or None without them.
        weak_embeddings: ``(B, d)`` unit projections of the weak views (no gradient).
    """

    loss: torch.Tensor
    weak_classes: torch.Tensor
    strong_classes: Optional[torch.Tensor]
    weak_embeddings: torch.Tensor


class BalancedInstanceObjective:
    """Balanced per-batch targets and the swapped-prediction loss, with the queue they need.

    Args:
        num_classes: ``n_l``, instance classes.
        batch_size: Unlabelled images per step and process (sizes the queue).
        all_reduce: In-place sum over ranks (distributed Sinkhorn), or None in one process.
    """

    def __init__(self, num_classes: int, batch_size: int,
                 all_reduce: Optional[Callable[[torch.Tensor], None]] = None) -> None:
        self.num_classes = int(num_classes)
        self.queue = EmbeddingQueue(queue_length_for(batch_size, num_classes))
        self.all_reduce = all_reduce

    def _targets(self, scores: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        extended = self.queue.extend_scores(scores.detach(), prototypes)
        return sinkhorn_equipartition(extended, all_reduce=self.all_reduce)[: len(scores)]

    def __call__(self, head, feat_w: torch.Tensor, feat_s: Optional[torch.Tensor],
                 freeze_prototypes: bool = False) -> InstanceObjectiveOutput:
        """The loss on one unlabelled batch.

        Args:
            head: The instance head (:class:`~usb_asd.nets.prototype_head.PrototypeHead`).
            feat_w: ``(B, D)`` backbone features of the weak views (with or without gradient).
            feat_s: ``(B, D)`` features of the strong views of the same images, or None.
            freeze_prototypes: Keep the prototypes out of the gradient (the first steps: SwAV
                freezes them while the features are still random).

        Returns:
            :class:`InstanceObjectiveOutput`.
        """
        prototypes = F.normalize(head.prototypes, dim=1)
        if freeze_prototypes:
            prototypes = prototypes.detach()
        z_w = head.embed(feat_w)
        scores_w = z_w @ prototypes.t()
        targets_w = self._targets(scores_w, prototypes)
        strong_classes = None
        if feat_s is not None:
            scores_s = head.embed(feat_s) @ prototypes.t()
            loss = swapped_prediction_loss(scores_s / head.temperature, targets_w)
            if scores_w.requires_grad:
                targets_s = self._targets(scores_s, prototypes)
                loss = 0.5 * (loss + swapped_prediction_loss(scores_w / head.temperature, targets_s))
            strong_classes = scores_s.detach().argmax(dim=1)
        else:
            loss = swapped_prediction_loss(scores_w / head.temperature, targets_w)
        self.queue.push(z_w)
        return InstanceObjectiveOutput(loss, scores_w.detach().argmax(dim=1), strong_classes, z_w.detach())

    def state_dict(self) -> Dict[str, Any]:
        return {"queue": self.queue.state_dict()}

    def load_state_dict(self, state: Dict[str, Any], device: Optional[torch.device] = None) -> None:
        self.queue.load_state_dict(state["queue"], device)
