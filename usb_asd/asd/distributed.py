"""One ASD state across the processes of a distributed run.

With USB's ``multiprocessing_distributed`` each process trains on its own shard
of the unlabelled pool, and DDP averages their gradients. ASD's state must then
be one: every rank must train on the same slots, the same instance->cluster map
and the same cluster labels at every step, or DDP averages gradients computed
against contradictory labels for the same instances (independent ranks fit
unrelated maps).

Who computes what (:class:`SharedLabelBuilder`):

* **Transitions, every step, on every rank.** Each rank's ``(sample index,
  argmax)`` pairs of the step are all-gathered and every rank updates its own
  tracker with the concatenation in rank order. The tracker is a deterministic
  function of its inputs (:class:`~.transitions.ClassTransitionTracker`), so the
  trackers stay identical, and the transitions seen by all ranks count: one
  window entry per global step, as in one process with the global batch.
* **Redraws and re-clusterings, on rank 0 only.** Rank 0 draws, runs the
  eval-mode forwards (pool features, the new instances' log-probabilities),
  aligns by OT and fits the map; then it broadcasts the builder's state (all of
  it but the tracker, which every rank already holds) and the other ranks load
  it. The other ranks run no forward and no clustering: the eval-mode
  forwards, and the BatchNorm running statistics they read, exist once, on rank
  0 (DDP runs with ``broadcast_buffers=False``, so the ranks' running
  statistics differ; with one rank computing they cannot disagree), and
  checkpoints (written by rank 0) hold the state every rank has.
* **Background re-clusterings** (``asd_recluster_lag``): rank 0 alone starts
  the fit on its snapshot; every rank notes the apply step, and there rank 0
  waits for its fit and broadcasts as above. A redraw in between broadcasts the
  state without the pending fit (it does not wait for it).

The collectives run on a gloo process group over host memory (the default
group when it is gloo, else one created on first use), so nothing here adds a
host-device transfer: the hooks hand numpy arrays that they have already
brought to the host.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist

from .background import FinishedJob
from .mapping import ColdFitComparison
from .pipeline import ASDSettings, ClusterLabelBuilder
from .scale import check_scale

__all__ = ["SharedLabelBuilder", "make_label_builder", "distributed_world", "gather_pairs", "gather_rows",
           "sum_over_ranks"]


def distributed_world() -> Tuple[int, int]:
    """``(rank, world_size)`` of the default process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce_sum(tensor: torch.Tensor) -> None:
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)


def sum_over_ranks() -> Optional[Callable[[torch.Tensor], None]]:
    """An in-place sum over the ranks of the default group (on the tensor's device), or None in one process.

    The per-batch transport's column masses (:mod:`.balanced_targets`) go through
    it, so the instance classes share the global batch equally.
    """
    _, world_size = distributed_world()
    return _all_reduce_sum if world_size > 1 else None


def make_label_builder(settings: ASDSettings, num_samples: int) -> ClusterLabelBuilder:
    """The label builder for this process: shared across ranks in a distributed run.

    Args:
        settings: ASD's settings.
        num_samples: Size of the unlabelled pool.

    Raises:
        ConfigError: a size an option refuses (:func:`.scale.check_scale`).

    Returns:
        A :class:`SharedLabelBuilder` when a process group of more than one rank
        is running, else a plain :class:`~.pipeline.ClusterLabelBuilder` (one
        process: nothing changes).
    """
    check_scale(settings, num_samples)
    _, world_size = distributed_world()
    if world_size > 1:
        return SharedLabelBuilder(settings, num_samples)
    return ClusterLabelBuilder(settings, num_samples)


_HOST_GROUP: Dict[str, Any] = {}


def _host_group():
    """A gloo group for host-side collectives: the default group when it is gloo.

    Created on first use, not at construction: the learner builds datasets (and
    the builder) on rank 0 while the other ranks wait at a barrier, so a
    collective ``new_group`` there would deadlock.
    """
    if dist.get_backend() == "gloo":
        return None
    if "group" not in _HOST_GROUP:
        _HOST_GROUP["group"] = dist.new_group(backend="gloo")
    return _HOST_GROUP["group"]


def _gather_ragged(local: torch.Tensor) -> torch.Tensor:
    """All-gather a host tensor whose first dimension may differ between ranks, concatenated in rank order
    (sizes are gathered first, then each rank's part is padded to the longest)."""
    group = _host_group()
    world_size = dist.get_world_size(group)
    sizes = [torch.zeros(1, dtype=torch.int64) for _ in range(world_size)]
    dist.all_gather(sizes, torch.tensor([local.shape[0]], dtype=torch.int64), group=group)
    counts = [int(s.item()) for s in sizes]
    padded = local.new_zeros((max(counts), *local.shape[1:]))
    padded[: local.shape[0]] = local
    gathered = [torch.empty_like(padded) for _ in range(world_size)]
    dist.all_gather(gathered, padded, group=group)
    return torch.cat([g[:n] for g, n in zip(gathered, counts)])


def gather_pairs(first: np.ndarray, second: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """All-gather two equally long int64 vectors from every rank, concatenated in rank order.

    Ranks may hold different lengths.

    Args:
        first: ``(B_r,)`` integers of this rank (e.g. sample indices).
        second: ``(B_r,)`` integers paired with them (e.g. argmax classes).

    Returns:
        ``(first_all, second_all)`` of length ``sum_r B_r``, rank 0's pairs first.
    """
    first = np.asarray(first, dtype=np.int64).reshape(-1)
    second = np.asarray(second, dtype=np.int64).reshape(-1)
    if first.shape != second.shape:
        raise ValueError(f"gather_pairs: {first.size} entries against {second.size}")
    pairs = _gather_ragged(torch.from_numpy(np.stack([first, second], axis=1))).numpy()
    return pairs[:, 0].copy(), pairs[:, 1].copy()


def gather_rows(rows: np.ndarray) -> np.ndarray:
    """All-gather a float32 ``(n_rank, d)`` array from every rank, concatenated in rank order (ragged ``n``)."""
    return _gather_ragged(torch.from_numpy(np.ascontiguousarray(rows, dtype=np.float32))).numpy()


class SharedLabelBuilder(ClusterLabelBuilder):
    """A :class:`~.pipeline.ClusterLabelBuilder` whose state is one across the ranks.

    Rank 0 computes redraws and re-clusterings and broadcasts the result;
    every rank counts the gathered transitions of all ranks. The adaptor calls
    it exactly as the plain builder: on ranks other than 0 the ``needs_*``
    properties are False, so the adaptor runs no forward there.

    Args:
        settings: See :class:`~.pipeline.ASDSettings`.
        num_samples: Size of the unlabelled pool ``N``.
        src: The rank that computes (0).
    """

    #: A worker process started from a rank hung the 2-rank gloo test; a thread works (see .background).
    background_kind = "thread"

    def __init__(self, settings: ASDSettings, num_samples: int, src: int = 0) -> None:
        super().__init__(settings, num_samples)
        self.rank, self.world_size = distributed_world()
        self.src = int(src)

    @property
    def computes(self) -> bool:
        """Whether this rank computes redraws and re-clusterings (rank 0)."""
        return self.rank == self.src

    # ---- what the adaptor must compute: only on the computing rank -------------
    @property
    def needs_features(self) -> bool:
        return self.computes and super().needs_features

    @property
    def needs_features_to_recluster(self) -> bool:
        return self.computes and super().needs_features_to_recluster

    @property
    def needs_log_probs(self) -> bool:
        return self.computes and super().needs_log_probs

    # ---- transitions: gathered from every rank ---------------------------------
    def observe(self, sample_idx: np.ndarray, slot_predictions: np.ndarray) -> int:
        """Record the argmax of every rank's batch (gathered, in rank order); returns the moves of all."""
        return super().observe(*gather_pairs(sample_idx, slot_predictions))

    def observe_views(self, weak_predictions: np.ndarray, strong_predictions: np.ndarray) -> int:
        """Record weak -> strong argmax moves of every rank's batch (gathered); returns the moves of all."""
        return super().observe_views(*gather_pairs(weak_predictions, strong_predictions))

    def observe_neighbours(self, features: np.ndarray, predictions: np.ndarray, sample_idx: np.ndarray) -> int:
        """Every rank's batch (gathered, in rank order) meets the bank and joins it: the banks stay equal."""
        rows = gather_rows(np.asarray(features, dtype=np.float32))
        return super().observe_neighbours(rows, *gather_pairs(predictions, sample_idx))

    # ---- redraws and re-clusterings: rank 0 computes, the others load -----------
    def draw(self, features: Optional[np.ndarray] = None) -> np.ndarray:
        """Rank 0's draw; elsewhere a placeholder that :meth:`place` replaces with rank 0's slots."""
        if self.computes:
            return super().draw(features)
        return np.arange(self.settings.num_candidates, dtype=np.int64)

    def place(self, instances: np.ndarray, log_probs: Optional[np.ndarray] = None) -> np.ndarray:
        """Rank 0 places its draw (OT) and broadcasts; every rank returns rank 0's slots."""
        if self.computes:
            super().place(instances, log_probs)
        self._share(None)
        return self.slots.copy()

    def recluster(self, features: Optional[np.ndarray] = None, compete_cold: bool = False) -> bool:
        """Rank 0 rebuilds the map and broadcasts it; every rank returns rank 0's answer."""
        done = super().recluster(features, compete_cold=compete_cold) if self.computes else None
        return bool(self._share(done))

    def compete_cold(self) -> Optional[ColdFitComparison]:
        """Rank 0 lets a cold fit compete and broadcasts the map; every rank returns rank 0's comparison."""
        return self._share(super().compete_cold() if self.computes else None)

    def compare_cold(self) -> Optional[ColdFitComparison]:
        """Rank 0 compares a cold fit with the map; every rank returns rank 0's comparison (the gate decides alike)."""
        return self._share(super().compare_cold() if self.computes else None)

    def start_recluster(self, apply_at: int, features: Optional[np.ndarray] = None,
                        compete_cold: bool = False) -> None:
        """Rank 0 starts the background fit; the others only note the step at which it applies."""
        if self.computes:
            super().start_recluster(apply_at, features, compete_cold=compete_cold)
        elif self._pending is not None:
            raise RuntimeError(f"asd: a re-clustering is already pending (to apply at iteration {self._pending[0]})")
        else:  # a placeholder: rank 0's result arrives by broadcast at the apply step
            self._pending = (int(apply_at), FinishedJob({}))

    def finish_recluster(self) -> bool:
        """Rank 0 waits for its fit and broadcasts the map; every rank returns rank 0's answer."""
        if self.computes:
            done = super().finish_recluster()
        else:
            if self._pending is None:
                raise RuntimeError("asd: finish_recluster without a pending re-clustering")
            self._pending, done = None, None
        return bool(self._share(done))

    def _share(self, result: Any) -> Any:
        """Broadcast rank 0's state (all but the tracker) and ``result``; load it elsewhere.

        A re-clustering pending in rank 0's background worker is not part of it
        (a redraw must not wait for it): it is broadcast at its own apply step.
        """
        group = _host_group()
        payload = [None]
        if self.computes:
            state = self._current_state()
            del state["tracker"]  # every rank holds the same tracker already
            payload = [(state, result)]
        dist.broadcast_object_list(payload, src=self.src, group=group)
        state, result = payload[0]
        if not self.computes:
            # Load through the builder's own checks, keeping this rank's tracker and pending step.
            pending = self._pending
            self.load_state_dict({**state, "tracker": self.tracker.state_dict()})
            self._pending = pending
        return result

    def state_digest(self) -> Dict[str, Any]:
        """What must agree across ranks: slots, slot clusters, rounds, and the tracker's counts."""
        counts = self.tracker.transition_counts()
        return {
            "slots": None if self.slots is None else self.slots.copy(),
            "slot_clusters": None if self.slot_clusters is None else np.asarray(self.slot_clusters).copy(),
            "rounds": self.rounds,
            "transitions": int(counts.sum()),
        }
