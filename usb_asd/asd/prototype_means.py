"""The instance head's prototypes as running means of their cells (online spherical k-means).

With ``asd_prototype_update: mean`` the prototypes get no gradient. After each
step every prototype moves towards the mean projection of the weak views whose
argmax it is, the update step of spherical k-means (MacQueen 1967; online, as in
mini-batch k-means, Sculley 2010) with a momentum ``m``:

.. math::

    \\bar z_j = \\frac{\\sum_{i: a_i = j} z_i}{|\\{i: a_i = j\\}|}, \\qquad
    c_j \\leftarrow \\frac{m\\, c_j + (1 - m)\\, \\bar z_j}{\\lVert m\\, c_j + (1 - m)\\, \\bar z_j \\rVert},

where ``a_i = argmax_j z_i^T c_j`` and ``z_i`` are unit projections. A prototype
no image of the batch fell in keeps its place. With several processes the sums
and counts are all-reduced, so every rank applies the same update.

Why: an instance class is the set of images whose argmax a prototype is, and
the map's labels can be no better than these classes are pure. Offline, on the
final instance heads of six MNIST-5k runs, ten Lloyd steps started from the
learned prototypes (the projections unchanged) raised the classes' purity on the
validation part by 1.2 to 2.6 points (0.885-0.902 to 0.899-0.917), and on two
heads traced with the labels held off from 0.856 and 0.845 to 0.882 and 0.877
(``benchmarks/investigations/asd_prototype_lloyd_offline.py``): the
swapped-prediction gradient leaves the prototypes short of their cells' centres.

The momentum follows the pool: ``m = 1 - B / N`` (``B`` images a step over all
ranks, ``N`` pool images), so a prototype averages its cell over about the last
pass over the pool (CoKe, Qian et al., CVPR 2022, takes the last epoch's means),
clipped to ``[0.9, 0.999]``.

With ``asd_prototype_update: lloyd`` the prototypes keep their gradient, and at
every re-clustering (every ``asd_cluster_iter`` steps, after
``asd_freeze_prototypes_iter``) :class:`PrototypeLloyd` runs the offline
diagnostic's own operation on a queue of the last weak-view projections: ``L``
batch Lloyd steps (spherical k-means, above with ``m = 0`` and every cell
re-assigned each step) started from the prototypes. Plain torch; nothing here
imports semilearn.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import torch
import torch.nn.functional as F

from .embedding_queue import EmbeddingQueue

__all__ = ["LLOYD_QUEUE_IMAGES", "LLOYD_STEPS", "PROTOTYPE_UPDATES", "PrototypeLloyd", "epoch_momentum",
           "lloyd_queue_length", "lloyd_steps", "update_prototype_means"]

#: ``asd_prototype_update``: gradient (SwAV's, the default), running means of the cells every step,
#: or gradient plus Lloyd steps on a queue of projections at every re-clustering.
PROTOTYPE_UPDATES = ("gradient", "mean", "lloyd")

#: Projections queued for the Lloyd steps over all ranks, at most: about one pass over MNIST-5k's pool,
#: and a bound that keeps the cost of a re-clustering independent of the pool's size.
LLOYD_QUEUE_IMAGES = 4096

#: Lloyd steps at each re-clustering: the offline diagnostic's count (its purity gain came within the first ten).
LLOYD_STEPS = 10


def epoch_momentum(images_per_step: int, num_samples: int) -> float:
    """``m = 1 - B / N`` clipped to ``[0.9, 0.999]``: a running mean over about one pass over the pool.

    Args:
        images_per_step: ``B``, unlabelled images per step over all ranks.
        num_samples: ``N``, images in the pool.
    """
    if images_per_step < 1 or num_samples < 1:
        raise ValueError(f"images_per_step and num_samples must be >= 1, got {images_per_step} and {num_samples}")
    return float(min(0.999, max(0.9, 1.0 - images_per_step / num_samples)))


def _cell_sums(centres: torch.Tensor, z: torch.Tensor,
               all_reduce: Optional[Callable[[torch.Tensor], None]]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Each unit centre's cell (the ``z`` whose nearest centre it is): the sum of its ``z`` and their count,
    summed over ranks when ``all_reduce`` is given."""
    assigned = (z @ centres.t()).argmax(dim=1)
    sums = torch.zeros_like(centres).index_add_(0, assigned, z)
    counts = torch.bincount(assigned, minlength=centres.shape[0]).to(centres.dtype)
    if all_reduce is not None:
        all_reduce(sums)
        all_reduce(counts)
    return sums, counts


@torch.no_grad()
def update_prototype_means(prototypes: torch.Tensor, embeddings: torch.Tensor, momentum: float,
                           all_reduce: Optional[Callable[[torch.Tensor], None]] = None) -> torch.Tensor:
    """One online spherical k-means step of ``prototypes`` (in place) on unit ``embeddings``.

    Args:
        prototypes: ``(n_l, d)`` prototype parameter (any norm; rows are normalised here).
        embeddings: ``(B, d)`` unit projections of this rank's weak views (no gradient needed).
        momentum: ``m`` in ``[0, 1)``; 0 moves each prototype onto its batch mean.
        all_reduce: In-place sum over ranks, or None in one process.

    Returns:
        ``(n_l,)`` images per prototype in the (global) batch.
    """
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    centres = F.normalize(prototypes.float(), dim=1)
    sums, counts = _cell_sums(centres, embeddings.detach().float(), all_reduce)
    seen = counts > 0
    means = sums[seen] / counts[seen, None]
    moved = F.normalize(momentum * centres[seen] + (1.0 - momentum) * means, dim=1)
    prototypes[seen] = moved.to(prototypes.dtype)
    return counts


@torch.no_grad()
def lloyd_steps(prototypes: torch.Tensor, embeddings: torch.Tensor, steps: int,
                all_reduce: Optional[Callable[[torch.Tensor], None]] = None) -> torch.Tensor:
    """``steps`` batch spherical k-means (Lloyd) steps of ``prototypes`` (in place) on fixed unit ``embeddings``.

    Each step assigns every projection to its nearest prototype,
    ``a_i = argmax_j z_i^T c_j``, and moves each prototype that received any to
    its cell's mean direction, ``c_j = sum_{a_i = j} z_i / ||sum_{a_i = j} z_i||``.
    A prototype keeps the norm of its row (only its direction moves, so the
    gradient's scale on it is unchanged); an empty cell keeps its prototype.
    Class ``j`` stays near prototype ``j``, so the instance classes keep their
    identities. Each step does not raise ``sum_i max_j z_i^T c_j``.

    Args:
        prototypes: ``(n_l, d)`` prototype parameter (rows of any non-zero norm).
        embeddings: ``(n, d)`` this rank's unit projections.
        steps: ``L >= 0`` Lloyd steps.
        all_reduce: In-place sum over ranks, or None in one process.

    Returns:
        ``(n_l,)`` projections per prototype (over all ranks) at the last assignment.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    norms = prototypes.float().norm(dim=1, keepdim=True)
    centres = prototypes.float() / norms
    z = embeddings.detach().float()
    counts = torch.zeros(centres.shape[0], dtype=centres.dtype, device=centres.device)
    for _ in range(steps):
        sums, counts = _cell_sums(centres, z, all_reduce)
        seen = counts > 0
        centres[seen] = F.normalize(sums[seen], dim=1)
    prototypes.copy_((centres * norms).to(prototypes.dtype))
    return counts


def lloyd_queue_length(num_samples: int, world_size: int = 1) -> int:
    """Projections each rank queues for the Lloyd steps: ``min(4096, N)`` over all ranks.

    Args:
        num_samples: ``N``, images in the pool (no point queueing more than one pass).
        world_size: Processes sharing the queue's total.
    """
    if num_samples < 1 or world_size < 1:
        raise ValueError(f"num_samples and world_size must be >= 1, got {num_samples} and {world_size}")
    return max(1, min(LLOYD_QUEUE_IMAGES, num_samples) // world_size)


class PrototypeLloyd:
    """``asd_prototype_update: lloyd``: a queue of recent weak-view projections, and Lloyd steps on it.

    Args:
        length: Projections this rank keeps (:func:`lloyd_queue_length`).
        steps: Lloyd steps at each refinement.
        all_reduce: In-place sum over ranks, or None in one process.
    """

    def __init__(self, length: int, steps: int = LLOYD_STEPS,
                 all_reduce: Optional[Callable[[torch.Tensor], None]] = None) -> None:
        self.queue = EmbeddingQueue(length)
        self.steps = int(steps)
        self.all_reduce = all_reduce

    def observe(self, embeddings: torch.Tensor) -> None:
        """Queue a batch's ``(B, d)`` unit weak-view projections (the newest first, the oldest fall off)."""
        self.queue.push(embeddings)

    def refine(self, prototypes: torch.Tensor) -> Optional[torch.Tensor]:
        """Lloyd steps of ``prototypes`` (in place) on the queued projections; None while the queue is empty.

        Returns:
            ``(n_l,)`` projections per prototype at the last assignment, or None.
        """
        queued = self.queue.items()
        if queued is None:
            return None
        return lloyd_steps(prototypes, queued, self.steps, self.all_reduce)

    def state_dict(self) -> Dict[str, Any]:
        return {"queue": self.queue.state_dict()}

    def load_state_dict(self, state: Dict[str, Any], device: Optional[torch.device] = None) -> None:
        self.queue.load_state_dict(state["queue"], device)
