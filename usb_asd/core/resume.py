"""Exact continuation from a checkpoint.

USB restores weights, optimiser and scheduler, but a resumed run still differs
from an uninterrupted one: random-number states are not saved, a run resumed
in the middle of an epoch restarts that epoch's data from its first batch (or,
with ``epoch: 1``, trains no further), and creating a data-loader iterator
draws from the global generator. This module fixes the three, so that with
``num_workers: 0`` a resumed run is bit-for-bit the uninterrupted one. (With
worker processes the augmentation randomness lives in the workers and the
continuation is only statistically equivalent.)
"""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np
import torch
from semilearn.datasets import DistributedSampler
from torch.utils.data import DataLoader


class ResumableSampler(DistributedSampler):
    """Wraps USB's sampler so the next pass can skip the batches already trained on.

    Subclasses USB's ``DistributedSampler`` only so USB's
    ``DistSamplerSeedHook`` still calls :meth:`set_epoch`; all work is delegated
    to the wrapped sampler, whose order is a function of the epoch alone.
    """

    def __init__(self, inner: DistributedSampler) -> None:  # noqa: D107 - no super().__init__ on purpose
        self.inner = inner
        self.skip = 0

    def __iter__(self) -> Iterator[int]:
        skip, self.skip = self.skip, 0
        for position, index in enumerate(iter(self.inner)):
            if position >= skip:
                yield index

    def __len__(self) -> int:
        return len(self.inner)

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    @property
    def epoch(self) -> int:  # type: ignore[override]
        return self.inner.epoch


def resumable_loader(
    loader: DataLoader, seed: int, make_sampler: Optional[Callable[[DistributedSampler, int], ResumableSampler]] = None
) -> DataLoader:
    """The same loader with a :class:`ResumableSampler` and its own generator.

    The own generator keeps iterator creation from drawing on the global RNG.
    Loaders whose sampler is not USB's ``DistributedSampler`` are returned as is.

    Args:
        loader: A loader built by USB.
        seed: Seed of the loader's own generator.
        make_sampler: ``(usb_sampler, batch_size) -> ResumableSampler``; default
            :class:`ResumableSampler` itself (adaptors may yield richer keys).
    """
    if not isinstance(loader.sampler, DistributedSampler) or isinstance(loader.sampler, ResumableSampler):
        return loader
    sampler = make_sampler(loader.sampler, loader.batch_size) if make_sampler else ResumableSampler(loader.sampler)
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=sampler,
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        generator=torch.Generator().manual_seed(seed),
    )


def capture_rng_state() -> Dict[str, Any]:
    """Python, numpy, torch (and CUDA) generator states."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
