"""A queue of recent weak-view projections, so a small batch can still be spread over many classes.

The per-batch transport (:mod:`.balanced_targets`) asks each of the ``K``
instance classes to take ``B / K`` images of the batch; with fewer images than
classes (``B < K``) most classes get a fraction of one image and the targets
become nearly uniform. SwAV (Caron et al., NeurIPS 2020, section 4.1, "small
batches") then solves the transport over the batch *and* the projections of the
last few batches, scored against the current prototypes, and keeps the batch's
rows. This module is that queue.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import torch

__all__ = ["EmbeddingQueue", "queue_length_for"]


def queue_length_for(batch_size: int, num_classes: int) -> int:
    """Queued projections needed so that one transport covers at least ``K`` images besides the batch.

    ``0`` when the batch alone holds at least ``K`` images; otherwise the smallest
    multiple of ``B`` that is ``>= K`` (whole batches, so the queue turns over
    evenly).

    Args:
        batch_size: ``B``, unlabelled images per step.
        num_classes: ``K``, the instance classes.
    """
    if batch_size < 1 or num_classes < 1:
        raise ValueError(f"batch_size and num_classes must be >= 1, got {batch_size} and {num_classes}")
    if batch_size >= num_classes:
        return 0
    return -(-num_classes // batch_size) * batch_size


class EmbeddingQueue:
    """First-in first-out store of the last ``length`` unit projections (no gradient).

    Args:
        length: Capacity; 0 disables the queue.
    """

    def __init__(self, length: int) -> None:
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        self.length = int(length)
        self._items: Optional[torch.Tensor] = None  # (length, d); rows [0, filled) valid, newest first
        self.filled = 0

    def extend_scores(self, batch_scores: torch.Tensor, prototypes: torch.Tensor) -> torch.Tensor:
        """The batch's scores followed by the queued projections' scores against ``prototypes``.

        Args:
            batch_scores: ``(B, K)`` the batch's cosine scores.
            prototypes: ``(K, d)`` unit prototypes (the same the batch was scored against).

        Returns:
            ``(B + filled, K)``; the first ``B`` rows are ``batch_scores``.
        """
        if self._items is None or self.filled == 0:
            return batch_scores
        queued = self._items[: self.filled].to(prototypes.dtype) @ prototypes.detach().t()
        return torch.cat([batch_scores, queued.to(batch_scores.dtype)], dim=0)

    def items(self) -> Optional[torch.Tensor]:
        """The ``(filled, d)`` queued projections, newest first, or None while the queue is empty."""
        if self._items is None or self.filled == 0:
            return None
        return self._items[: self.filled]

    @torch.no_grad()
    def push(self, embeddings: torch.Tensor) -> None:
        """Put a batch's projections ``(B, d)`` at the front; the oldest fall off the end."""
        if self.length == 0:
            return
        embeddings = embeddings.detach()
        if self._items is None:
            self._items = embeddings.new_zeros((self.length, embeddings.shape[1]))
        keep = min(self.filled, self.length - min(len(embeddings), self.length))
        new = embeddings[: self.length]
        self._items = torch.cat([new, self._items[:keep], self._items.new_zeros((self.length - len(new) - keep,
                                                                                  self._items.shape[1]))])
        self.filled = min(self.length, len(new) + keep)

    def state_dict(self) -> Dict[str, Any]:
        items = None if self._items is None else self._items[: self.filled].cpu().clone()
        return {"length": self.length, "items": items}

    def load_state_dict(self, state: Dict[str, Any], device: Optional[torch.device] = None) -> None:
        if int(state["length"]) != self.length:
            raise ValueError(f"the saved queue holds {state['length']} projections, this run's {self.length}")
        items = state["items"]
        if items is None or len(items) == 0:
            self._items, self.filled = None, 0
            return
        items = torch.as_tensor(items)
        if device is not None:
            items = items.to(device)
        self._items = torch.cat([items, items.new_zeros((self.length - len(items), items.shape[1]))])
        self.filled = len(items)
