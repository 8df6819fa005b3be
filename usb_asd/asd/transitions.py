"""Class transition tracking (CTT) over the instance head's predictions.

From SoC (Duan et al., "Roll With the Punches: Expansion and Shrinkage of Soft
Label Selection for Semi-Supervised Fine-Grained Learning", AAAI 2024), used by ASD
(Duan et al., IEEE TIP 2025, arXiv 2509.20976) to find which instance classes
belong together: while training, the instance head's prediction for an
unlabelled sample moves between instance classes that look alike. For each
sample the last argmax is kept; when it moves from ``a`` to ``b`` (``a != b``)
one transition ``a -> b`` is counted. Counts over the last ``N_b`` batches
(a sliding window, :attr:`ClassTransitionTracker.window`) give

.. math:: M_{ab} = \\#\\{a \\to b \\text{ moves in the last } N_b \\text{ batches}\\},
          \\qquad S = (M + M^\\top) / 2,

a symmetric similarity between instance classes, clustered by
:mod:`usb_asd.asd.mapping`.

:meth:`ClassTransitionTracker.update` counts moves between an image's
successive visits (SoC's tracking, ``asd_transitions: visits``);
:meth:`ClassTransitionTracker.record` counts given pairs within one batch,
such as an image's weak-view argmax -> its strong-view argmax
(``asd_transitions: views``). Both feed the same window.

Memory: each batch in the window is stored as its distinct transition pairs
and their counts (``O(#transitions)``), never as a dense
``num_classes x num_classes`` array per batch, so memory is bounded by
``window x batch size`` pairs whatever the number of classes.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Deque, Dict, Optional, Tuple

import numpy as np
import scipy.sparse as sp

from .arrays import as_numpy

__all__ = ["ClassTransitionTracker"]


def _int_vector(name: str, values, upper: int, upper_name: str) -> np.ndarray:
    arr = as_numpy(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= upper):
        raise ValueError(f"{name} must lie in [0, {upper}) ({upper_name}), got values in [{arr.min()}, {arr.max()}]")
    return arr


class ClassTransitionTracker:
    """Sliding-window counts of argmax moves between instance classes.

    Args:
        num_samples: Number of unlabelled samples (size of the prediction bank).
        num_classes: Number of instance classes ``n_l``.
        window: ``N_b``, number of most recent batches whose transitions are counted.
    """

    def __init__(self, num_samples: int, num_classes: int, window: int) -> None:
        for name, value in (("num_samples", num_samples), ("num_classes", num_classes), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.num_samples = int(num_samples)
        self.num_classes = int(num_classes)
        self.window = int(window)
        #: Last argmax per sample, -1 where none has been seen (or it was reset).
        self._bank = np.full(self.num_samples, -1, dtype=np.int64)
        # One entry per batch, oldest first: (pairs (t, 2) int64 distinct, counts (t,) int64).
        self._ring: Deque[Tuple[np.ndarray, np.ndarray]] = deque(maxlen=self.window)

    @property
    def bank(self) -> np.ndarray:
        """Copy of the per-sample last prediction (``-1`` = none)."""
        return self._bank.copy()

    @property
    def num_batches(self) -> int:
        """Batches currently held in the window (at most :attr:`window`)."""
        return len(self._ring)

    def update(self, sample_idx, predictions) -> int:
        """Record one batch of predictions.

        For every sample with a previous prediction ``a`` and new prediction
        ``b != a`` the transition ``(a, b)`` is recorded; the batch's
        transitions become the newest entry of the window (the oldest batch
        is dropped when the window is full; a batch without transitions still
        takes an entry, since the window counts batches). Then the bank is set
        to the new predictions.

        A sample index repeated within one batch is processed in order, as if
        its occurrences came one after another: ``bank -> p_1 -> p_2 -> ...``
        each counted when it changes, and the bank ends with the last one.

        Args:
            sample_idx: ``(B,)`` indices in ``[0, num_samples)`` (numpy or torch).
            predictions: ``(B,)`` argmax classes in ``[0, num_classes)`` (numpy or torch).

        Returns:
            The number of transitions recorded for this batch.
        """
        idx = _int_vector("sample_idx", sample_idx, self.num_samples, "num_samples")
        pred = _int_vector("predictions", predictions, self.num_classes, "num_classes")
        if idx.shape != pred.shape:
            raise ValueError(f"sample_idx has {idx.size} entries but predictions has {pred.size}")
        order = np.argsort(idx, kind="stable")  # stable: repeats keep their batch order
        s, p = idx[order], pred[order]
        prev = self._bank[s]
        repeat = np.zeros(s.size, dtype=bool)
        repeat[1:] = s[1:] == s[:-1]
        prev[repeat] = p[np.flatnonzero(repeat) - 1]
        moved = (prev >= 0) & (prev != p)
        self._push(prev[moved], p[moved])
        last = np.ones(s.size, dtype=bool)
        last[:-1] = s[1:] != s[:-1]
        self._bank[s[last]] = p[last]
        return int(moved.sum())

    def record(self, before, after) -> int:
        """Record one batch of paired predictions ``before[i] -> after[i]`` (e.g. weak -> strong view).

        Pairs that differ become the newest window entry (a batch without
        any still takes one, as in :meth:`update`); the bank is untouched.

        Args:
            before: ``(B,)`` instance classes in ``[0, num_classes)``, e.g. argmax on the weak views.
            after: ``(B,)`` instance classes of the same images, e.g. argmax on their strong views.

        Returns:
            The number of transitions recorded (pairs with ``before[i] != after[i]``).
        """
        a = _int_vector("before", before, self.num_classes, "num_classes")
        b = _int_vector("after", after, self.num_classes, "num_classes")
        if a.shape != b.shape:
            raise ValueError(f"before has {a.size} entries but after has {b.size}")
        moved = a != b
        self._push(a[moved], b[moved])
        return int(moved.sum())

    def _push(self, sources: np.ndarray, targets: np.ndarray) -> None:
        """Make one batch's transitions ``sources[i] -> targets[i]`` the newest window entry.

        Stored as distinct pairs with counts, so memory follows the number of
        distinct transitions, not ``num_classes^2``.
        """
        pairs = np.stack([sources, targets], axis=1)
        if pairs.shape[0]:
            pairs, counts = np.unique(pairs, axis=0, return_counts=True)
        else:
            pairs, counts = np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.int64)
        self._ring.append((pairs.astype(np.int64), counts.astype(np.int64)))

    def transition_counts(self) -> sp.csr_matrix:
        """``M`` (``num_classes x num_classes``, sparse): ``M[a, b]`` = ``a -> b`` moves in the window."""
        if self._ring:
            pairs = np.concatenate([pr for pr, _ in self._ring], axis=0)
            counts = np.concatenate([c for _, c in self._ring])
        else:
            pairs, counts = np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.int64)
        # coo -> csr sums the duplicates coming from different batches.
        return sp.coo_matrix(
            (counts, (pairs[:, 0], pairs[:, 1])), shape=(self.num_classes, self.num_classes), dtype=np.int64
        ).tocsr()

    def similarity(self) -> np.ndarray:
        """Dense symmetric similarity ``S = (M + M^T) / 2`` with zero diagonal (float64)."""
        counts = self.transition_counts().astype(np.float64)
        sim = ((counts + counts.T) * 0.5).toarray()
        np.fill_diagonal(sim, 0.0)
        return sim

    def reset_bank(self, sample_idx: Optional[Any] = None) -> None:
        """Forget last predictions (all, or for the given samples), e.g. when slots change meaning.

        The window of counted transitions is kept; use :meth:`clear_window` to drop it.
        """
        if sample_idx is None:
            self._bank[:] = -1
        else:
            self._bank[_int_vector("sample_idx", sample_idx, self.num_samples, "num_samples")] = -1

    def clear_window(self) -> None:
        """Drop all counted transitions (the bank is kept)."""
        self._ring.clear()

    def memory_items(self) -> int:
        """Number of stored (distinct per batch) transition pairs over the window."""
        return int(sum(pr.shape[0] for pr, _ in self._ring))

    def state_dict(self) -> Dict[str, Any]:
        """Bank and window (oldest batch first)."""
        return {
            "num_samples": self.num_samples,
            "num_classes": self.num_classes,
            "window": self.window,
            "bank": self._bank.copy(),
            "ring_pairs": [pr.copy() for pr, _ in self._ring],
            "ring_counts": [c.copy() for _, c in self._ring],
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; later updates behave identically."""
        num_samples, num_classes, window = int(state["num_samples"]), int(state["num_classes"]), int(state["window"])
        bank = np.asarray(state["bank"], dtype=np.int64)
        if bank.shape != (num_samples,):
            raise ValueError(f"state bank must have shape ({num_samples},), got {bank.shape}")
        if len(state["ring_pairs"]) != len(state["ring_counts"]) or len(state["ring_pairs"]) > window:
            raise ValueError(f"state ring must hold at most window ({window}) batches of pairs and counts")
        ring: Deque[Tuple[np.ndarray, np.ndarray]] = deque(maxlen=window)
        for pairs, counts in zip(state["ring_pairs"], state["ring_counts"]):
            pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (pairs.shape[0],):
                raise ValueError("state ring_counts must have one count per pair")
            ring.append((pairs.copy(), counts.copy()))
        self.num_samples, self.num_classes, self.window = num_samples, num_classes, window
        self._bank = bank.copy()
        self._ring = ring
