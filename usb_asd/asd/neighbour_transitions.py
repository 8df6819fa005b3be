"""Class transitions between feature-space neighbours (``asd_transitions: neighbours``).

ASD's map groups instance classes that images move between (the paper's class
transition tracking). The default source of moves is an image's weak view ->
its strong view; SoC's is an image between two visits. Both are moves of *one*
image under augmentation or training. This module reads moves of another kind:
from an image to its nearest neighbours in the learner's feature space, the
signal SCAN mines (Van Gansbeke et al., ECCV 2020, section 2.1).

For an unlabelled image :math:`i` with unit feature :math:`f_i` and instance
class :math:`c_i` (the instance head's argmax on its weak view), and a bank
:math:`\\mathcal{B}` of recent images' unit features and instance classes, the
transitions recorded are

.. math::
    c_i \\to c_j \\quad \\text{for each } j \\in \\operatorname{kNN}_k(f_i; \\mathcal{B}),
    \\; \\operatorname{idx}(j) \\ne \\operatorname{idx}(i),

the :math:`k` bank entries of largest cosine :math:`f_i^\\top f_j`, leaving out
earlier copies of the same image. The tracker drops :math:`c_i = c_j`, so the
counts between instance classes are how often images of one class have their
near neighbours in the other.

Why it is an option (docs/EXPERIMENT_LOG.md, 2026-12-07, night): on eight
finished MNIST-5k runs, the transitions between the final features' 10
nearest neighbours joined instance classes of the same majority class 71-77 %
of the time (weak -> strong views: 65-69 %), and a cold k-Medoids map of them
labelled the validation part 0 to 4.6 points better than one of the view
transitions (never worse). Before the learner trains, with the instance stage's
features alone, they were not better (+0.5 and -4.1 on two traced runs), so
the hook reads them only once the cluster labels are on.

The bank is a fixed-length queue (:data:`BANK_LENGTH` images, oldest out), so a
step's cost, ``B x BANK_LENGTH`` cosines and a top-``k``, does not grow with the
pool.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

__all__ = ["BANK_LENGTH", "NUM_NEIGHBOURS", "FeatureNeighbourBank"]

#: Images the bank remembers: about one pass over MNIST-5k at 224 images a step, and a few
#: batches' worth on any pool; fixed, so the per-step cost does not follow the pool's size.
BANK_LENGTH = 4096
#: Neighbours per image. Offline, 5, 10 and 20 gave maps within 1.5 points of each other.
NUM_NEIGHBOURS = 10


class FeatureNeighbourBank:
    """A queue of recent images (unit feature, instance class, pool index) and their neighbour transitions.

    Deterministic (numpy, float32 cosines), so ranks that feed it the same
    batches hold the same bank and produce the same transitions.

    Args:
        length: Images remembered (the oldest leave first).
        num_neighbours: ``k``, neighbours read per image.
    """

    def __init__(self, length: int = BANK_LENGTH, num_neighbours: int = NUM_NEIGHBOURS) -> None:
        if length < 1 or num_neighbours < 1:
            raise ValueError(f"length and num_neighbours must be >= 1, got {length} and {num_neighbours}")
        self.length = int(length)
        self.num_neighbours = int(num_neighbours)
        self._features = np.zeros((0, 0), dtype=np.float32)  # newest last
        self._classes = np.zeros(0, dtype=np.int64)
        self._indices = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return int(self._classes.size)

    def neighbour_pairs(self, features: np.ndarray, classes: np.ndarray,
                        sample_idx: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The batch's transitions to its nearest bank entries (the bank is not changed).

        Args:
            features: ``(B, d)`` unit features (rows of norm 1).
            classes: ``(B,)`` instance classes of those images.
            sample_idx: ``(B,)`` their pool indices (a bank entry of the same image is no neighbour).

        Returns:
            ``(before, after)``, each ``(m,)`` int64: ``before`` repeats each image's class once per
            neighbour, ``after`` holds the neighbours' classes; ``m <= B * k`` (fewer while the bank
            holds fewer than ``k`` other images).
        """
        features, classes, sample_idx = self._check(features, classes, sample_idx)
        if len(self) == 0 or features.shape[0] == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if features.shape[1] != self._features.shape[1]:
            raise ValueError(f"features have {features.shape[1]} dimensions, the bank's {self._features.shape[1]}")
        cosine = features @ self._features.T  # (B, L)
        cosine[sample_idx[:, None] == self._indices[None, :]] = -np.inf
        k = min(self.num_neighbours, len(self))
        # The k largest per row (a partial sort, O(L)), then those k in descending order.
        nearest = np.argpartition(-cosine, k - 1, axis=1)[:, :k]
        ranked = np.argsort(-np.take_along_axis(cosine, nearest, axis=1), axis=1, kind="stable")
        order = np.take_along_axis(nearest, ranked, axis=1)
        valid = np.take_along_axis(cosine, order, axis=1) > -np.inf
        before = np.repeat(classes[:, None], k, axis=1)[valid]
        after = self._classes[order][valid]
        return before.astype(np.int64), after.astype(np.int64)

    def push(self, features: np.ndarray, classes: np.ndarray, sample_idx: np.ndarray) -> None:
        """Append a batch; the oldest entries leave beyond :attr:`length`."""
        features, classes, sample_idx = self._check(features, classes, sample_idx)
        if len(self) == 0:
            self._features = np.zeros((0, features.shape[1]), dtype=np.float32)
        self._features = np.concatenate([self._features, features])[-self.length:]
        self._classes = np.concatenate([self._classes, classes])[-self.length:]
        self._indices = np.concatenate([self._indices, sample_idx])[-self.length:]

    def observe(self, features: np.ndarray, classes: np.ndarray,
                sample_idx: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`neighbour_pairs` of the batch against the bank, then :meth:`push` it."""
        pairs = self.neighbour_pairs(features, classes, sample_idx)
        self.push(features, classes, sample_idx)
        return pairs

    @staticmethod
    def _check(features, classes, sample_idx) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        features = np.asarray(features, dtype=np.float32)
        classes = np.asarray(classes, dtype=np.int64).reshape(-1)
        sample_idx = np.asarray(sample_idx, dtype=np.int64).reshape(-1)
        if features.ndim != 2 or features.shape[0] != classes.size or classes.size != sample_idx.size:
            raise ValueError(f"features must be (B, d) with B = len(classes) = len(sample_idx), got "
                             f"{features.shape}, {classes.size} and {sample_idx.size}")
        return features, classes, sample_idx

    def state_dict(self) -> Dict[str, Any]:
        return {"length": self.length, "num_neighbours": self.num_neighbours, "features": self._features.copy(),
                "classes": self._classes.copy(), "indices": self._indices.copy()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if int(state["length"]) != self.length or int(state["num_neighbours"]) != self.num_neighbours:
            raise ValueError(f"the saved neighbour bank holds {state['length']} images and reads "
                             f"{state['num_neighbours']} neighbours; this run's {self.length} and {self.num_neighbours}")
        self._features = np.asarray(state["features"], dtype=np.float32).copy()
        self._classes = np.asarray(state["classes"], dtype=np.int64).copy()
        self._indices = np.asarray(state["indices"], dtype=np.int64).copy()
