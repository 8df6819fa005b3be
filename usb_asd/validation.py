"""A validation part of the training pool: where settings may be chosen with labels.

Clustering runs never read labels to train, and no setting may be chosen with
the test split's labels. Settings are compared instead on a fixed, stratified
part of the *training* pool (``VALIDATION_FRACTION`` of each class, seed
``VALIDATION_SEED``, the same for every run, learner and seed): the final
model clusters the whole pool, its cluster ids on these images are scored
against their labels (ACC with Hungarian matching, NMI, ARI), and those are the
only labels read to choose. The test split stays untouched for reporting.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

from .data.splits import stratified_split_indices
from .metrics import clustering_scores
from .outputs.assignments import dataset_logits

VALIDATION_FRACTION = 0.2
VALIDATION_SEED = 0


def validation_indices(
    targets: np.ndarray, fraction: float = VALIDATION_FRACTION, seed: int = VALIDATION_SEED
) -> Optional[np.ndarray]:
    """Sorted pool indices of the validation part, or None when some pool image has no label.

    Args:
        targets: ``(N,)`` class of each pool image, ``-1`` where unknown.
        fraction: Share of each class in the validation part.
        seed: Seed of the stratified draw.
    """
    targets = np.asarray(targets, dtype=np.int64)
    if len(targets) == 0 or np.any(targets < 0):
        return None
    _, held_out = stratified_split_indices(targets, fraction, seed)
    return held_out


def validation_scores(predictions: np.ndarray, targets: np.ndarray) -> Dict[str, float]:
    """``val_acc``, ``val_nmi``, ``val_ari`` of cluster ids against the validation part's labels.

    Args:
        predictions: ``(m,)`` cluster id of each validation image (the final model's argmax).
        targets: ``(m,)`` their classes.
    """
    scores = clustering_scores(np.asarray(targets), np.asarray(predictions))
    return {f"val_{key}": float(value) for key, value in scores.items()}


@torch.no_grad()
def pool_predictions(model, dataset, transform, indices: np.ndarray, device, batch_size: int) -> np.ndarray:
    """Argmax of ``model(x)["logits"]`` on pool images (eval mode; the caller applies EMA weights).

    Args:
        model: A USB net returning a dict with ``logits``.
        dataset: USB's unlabelled training dataset (``__sample__(idx) -> (image, target)``).
        transform: The evaluation transform.
        indices: Pool indices to predict.
        device: Where the model is.
        batch_size: Images per forward.

    Returns:
        ``(len(indices),)`` int64 cluster ids.
    """
    was_training = model.training
    model.eval()
    try:
        logits = dataset_logits(model, dataset, transform, device, batch_size, indices=indices)
    finally:
        model.train(was_training)
    return logits.argmax(axis=1).astype(np.int64) if len(logits) else np.zeros(0, dtype=np.int64)
