"""The adaptor's "labelled" data: the sampled instances' views, built by the data loader.

ASD's labelled batch is ``(x_{slots[j]}, cluster(j))`` for slots ``j`` drawn by
USB's labelled sampler. The slot table changes every ``N_t`` iterations (a
redraw), so the loader must build each batch from the table of *its*
iteration. The loader's worker processes build the views, as they do for a
labelled split, so the training process only looks up the cluster labels (building
them in the training process would put the augmentations on the step's critical path).

How a worker knows which table to use:

* :class:`SlotStreamSampler` yields ``(iteration, slot)`` pairs: the training
  iteration a sample is drawn for is its position in the sampler's stream
  divided by the batch size.
* :class:`SlotTable` keeps the table in shared memory with the number of the
  round it belongs to. Round ``1 + i // N_t`` serves iteration ``i`` (the first
  draw precedes training; a redraw follows every ``N_t``-th iteration).
* A worker that runs ahead of training (prefetching) waits until that round is
  published. So every batch is built from the right table whatever the
  timing, and the augmentation randomness is the worker's own, seeded by the
  loader: runs are reproducible with workers too.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Iterator, Tuple, Union

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..core.resume import ResumableSampler

__all__ = ["SlotTable", "SlotDataset", "SlotStreamSampler"]


class SlotTable:
    """The current slot -> pool-instance table, in shared memory, tagged with its round.

    Args:
        num_instances: Entries of the table: ``n_l``, one pool image per slot.
        round_iter: ``N_t``, iterations per round.
        wait_timeout_s: How long a reader waits for a round before raising.
    """

    def __init__(self, num_instances: int, round_iter: int, wait_timeout_s: float = 600.0) -> None:
        if round_iter < 1:
            raise ValueError(f"asd_round_iter must be >= 1, got {round_iter}")
        self.num_instances = int(num_instances)
        self.round_iter = int(round_iter)
        self.wait_timeout_s = float(wait_timeout_s)
        # Shared before any loader worker starts, so forked and spawned workers see updates.
        self.instances = torch.full((self.num_instances,), -1, dtype=torch.long).share_memory_()
        self.round = torch.zeros(1, dtype=torch.long).share_memory_()

    def round_for(self, iteration: int) -> int:
        """The round whose table serves training iteration ``iteration`` (0-based)."""
        return 1 + int(iteration) // self.round_iter

    def publish(self, slots: np.ndarray, iteration: int) -> None:
        """Make ``slots`` the table from ``iteration`` on (the table before it is written, then the round)."""
        slots = np.asarray(slots, dtype=np.int64)
        if slots.shape != (self.num_instances,):
            raise ValueError(f"slots must have shape ({self.num_instances},), got {slots.shape}")
        self.instances.copy_(torch.from_numpy(slots))
        self.round.fill_(self.round_for(iteration))

    def instance_for(self, slot: int, iteration: int) -> int:
        """The instance in ``slot`` for ``iteration``, waiting until its round is published."""
        needed = self.round_for(iteration)
        deadline = None
        while True:
            current = int(self.round[0])
            if current == needed:
                return int(self.instances[slot])
            if current > needed:
                raise RuntimeError(
                    f"asd: a labelled batch for iteration {iteration} (round {needed}) was requested after "
                    f"round {current} was published: the loader and the training loop disagree on the iteration"
                )
            deadline = deadline or time.monotonic() + self.wait_timeout_s
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"asd: the slot table of round {needed} (iteration {iteration}) was not published within "
                    f"{self.wait_timeout_s:.0f} s (current round {current})"
                )
            time.sleep(0.001)


class SlotDataset(Dataset):
    """The adaptor's "labelled" dataset: slot ``j`` -> the views of the instance in slot ``j``.

    Indexed by ``(iteration, slot)`` pairs from :class:`SlotStreamSampler`.
    Returns ``idx_lb`` (the slot), ``inst_lb`` (the pool index the views are of),
    ``it_lb`` (the iteration), ``x_lb`` (weak view) and, when ``with_strong``,
    ``x_lb_s`` (strong view). Cluster labels are not here: the training
    process attaches them, since re-clustering may change them after a batch
    was built.

    ``targets`` is a balanced placeholder (``j mod k``): some learners read the
    labelled class distribution at start-up (ReMixMatch's distribution
    alignment), and with no labels a uniform prior is the honest default.

    Args:
        pool: The unlabelled dataset (USB ``BasicDataset`` API: ``__sample__``,
            ``transform``, ``strong_transform``).
        table: The shared :class:`SlotTable`.
        num_clusters: ``k``.
        with_strong: Whether the learner reads strong views of labelled data (``x_lb_s``).
    """

    def __init__(self, pool, table: SlotTable, num_clusters: int, with_strong: bool) -> None:
        self.pool = pool
        self.table = table
        self.with_strong = bool(with_strong)
        self.num_instances = table.num_instances
        self.targets = np.arange(self.num_instances) % num_clusters

    def __len__(self) -> int:
        return self.num_instances

    def __getitem__(self, key: Union[int, Tuple[int, int]]) -> Dict[str, Any]:
        if isinstance(key, tuple):
            iteration, slot = int(key[0]), int(key[1])
        else:
            # Plain indexing (outside training): the table currently published.
            slot = int(key)
            iteration = (int(self.table.round[0]) - 1) * self.table.round_iter
        if not 0 <= slot < self.num_instances:
            raise IndexError(f"slot {slot} out of range [0, {self.num_instances})")
        instance = self.table.instance_for(slot, iteration)
        if instance < 0:
            raise RuntimeError("asd: no slot table has been published yet")
        img, _ = self.pool.__sample__(instance)
        pil = Image.fromarray(img)
        item = {"idx_lb": slot, "inst_lb": instance, "it_lb": iteration, "x_lb": self.pool.transform(pil)}
        if self.with_strong:
            item["x_lb_s"] = self.pool.strong_transform(pil)
        return item


class SlotStreamSampler(ResumableSampler):
    """USB's labelled sampler, yielding ``(iteration, slot)`` instead of ``slot``.

    The iteration of a position in the stream is ``epoch * per_epoch +
    position // batch_size``, where ``per_epoch`` is the number of batches
    per epoch (USB's train loaders drop the last partial batch). Skipping on
    resume (:class:`ResumableSampler`) keeps positions, so iterations stay right.

    Args:
        inner: USB's ``DistributedSampler`` of the labelled loader.
        batch_size: The labelled loader's batch size.
    """

    def __init__(self, inner, batch_size: int) -> None:
        super().__init__(inner)
        self.batch_size = int(batch_size)

    def __iter__(self) -> Iterator[Tuple[int, int]]:  # type: ignore[override]
        skip, self.skip = self.skip, 0
        first = self.inner.epoch * (len(self.inner) // self.batch_size)
        for position, index in enumerate(iter(self.inner)):
            if position >= skip:
                yield first + position // self.batch_size, int(index)
