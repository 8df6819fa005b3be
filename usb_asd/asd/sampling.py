"""Choosing the ``n_l`` unlabelled instances that become instance classes each round.

ASD (Duan et al., "An Adaptor for Triggering Semi-Supervised Learning to
Out-of-Box Serve Deep Image Clustering", IEEE TIP 2025, arXiv 2509.20976)
draws ``n_l`` instances (default ``4k`` for ``k`` clusters) from the
unlabelled pool each round and gives each its own class ("slot") of the
instance head. Two samplers are provided:

* :class:`NonRepeatingSampler`: uniform sampling that walks a random
  permutation, so every sample becomes an instance once before any sample is
  drawn twice (maximal coverage of the pool over rounds).
* :func:`prototype_neighbour_sample` / :class:`PrototypeNeighbourSampler`:
  "prototypes accompanied by neighbours" (PS). Diverse prototypes are chosen
  by k-means++ seeding in feature space and each brings its nearest
  neighbours, so small modes of an imbalanced pool are still represented and
  each mode is represented by a few mutually similar instances (which gives
  class transition tracking something to link).

Nothing here knows about USB: numpy arrays in, index arrays out. Every
stateful sampler has ``state_dict`` / ``load_state_dict`` whose round trip
restores its future draws exactly (the ``numpy.random.Generator`` state is
saved).
"""

from __future__ import annotations

import copy
from typing import Any, Dict, Optional

import numpy as np

__all__ = [
    "SAMPLERS",
    "NonRepeatingSampler",
    "PrototypeNeighbourSampler",
    "prototype_neighbour_sample",
    "default_num_prototypes",
]

#: Instances per prototype group (the prototype and its neighbours) when
#: neither ``num_prototypes`` nor ``neighbours_per_prototype`` is given. With
#: ASD's default ``n_l = 4k`` this gives ``k`` prototypes, i.e. about one per
#: cluster, each with three neighbours.
DEFAULT_GROUP_SIZE = 4


def _check_count(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} ({value}) must be at least {minimum}")
    return int(value)


def default_num_prototypes(m: int, neighbours_per_prototype: Optional[int] = None) -> int:
    """Number of prototypes used by PS when none is given.

    Each prototype heads a group of ``1 + neighbours_per_prototype`` instances,
    so ``P = ceil(m / (1 + neighbours_per_prototype))``. Without
    ``neighbours_per_prototype`` the group size is :data:`DEFAULT_GROUP_SIZE`
    (4) and ``P = max(1, m // 4)``: with ASD's ``n_l = 4k`` that is one
    prototype per cluster.

    Args:
        m: Number of instances to draw.
        neighbours_per_prototype: Neighbours each prototype brings, or None.

    Returns:
        The number of prototypes ``P`` with ``1 <= P <= m``.
    """
    m = _check_count("m", m)
    if neighbours_per_prototype is None:
        return max(1, m // DEFAULT_GROUP_SIZE)
    neighbours = _check_count("neighbours_per_prototype", neighbours_per_prototype, minimum=0)
    return -(-m // (1 + neighbours))


class NonRepeatingSampler:
    """Uniform instance sampling without repeats until the pool is exhausted.

    The sampler walks a random permutation of ``{0, ..., N-1}``. A draw of
    ``m`` takes the next ``m`` entries. When fewer than ``m`` remain, the
    remainder is taken and the draw is completed from a fresh permutation,
    skipping indices already in this draw; the fresh permutation is then
    reordered so that the indices just used come first (they count as drawn
    in the new pass). Hence: no duplicates within a draw; the concatenated
    stream of draws is a sequence of full permutations, so every index is
    drawn once before any index is drawn again, and ``ceil(N / m)`` draws
    cover the whole pool.

    Args:
        num_samples: Pool size ``N``.
        seed: Seed of the ``numpy.random.Generator`` (PCG64).
    """

    def __init__(self, num_samples: int, seed: int) -> None:
        self.num_samples = _check_count("num_samples", num_samples)
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._perm = self._rng.permutation(self.num_samples)
        self._pos = 0

    #: Uniform draws read no features.
    needs_features = False

    def draw(self, m: int, features: Optional[np.ndarray] = None) -> np.ndarray:
        """The next ``m`` distinct indices.

        Args:
            m: How many indices, ``1 <= m <= N``.
            features: Unused (the draw is uniform).

        Returns:
            ``int64`` array of shape ``(m,)`` of distinct indices in ``[0, N)``.
        """
        m = _check_count("m", m)
        if m > self.num_samples:
            raise ValueError(f"m ({m}) must not exceed the number of samples ({self.num_samples})")
        end = self._pos + m
        if end <= self.num_samples:
            out = self._perm[self._pos:end].copy()
            self._pos = end
            return out.astype(np.int64)
        rest = self._perm[self._pos:]
        need = m - rest.size
        fresh = self._rng.permutation(self.num_samples)
        in_rest = np.zeros(self.num_samples, dtype=bool)
        in_rest[rest] = True
        # Skip indices already in this draw; rest.size + need <= N guarantees enough.
        taken = fresh[~in_rest[fresh]][:need]
        is_taken = np.zeros(self.num_samples, dtype=bool)
        is_taken[taken] = True
        # The new pass starts with what this draw took from it, so the stream of
        # draws stays a concatenation of full permutations.
        self._perm = np.concatenate([taken, fresh[~is_taken[fresh]]])
        self._pos = need
        return np.concatenate([rest, taken]).astype(np.int64)

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to continue the same sequence of draws."""
        return {
            "num_samples": self.num_samples,
            "seed": self.seed,
            "perm": self._perm.copy(),
            "pos": self._pos,
            "rng_state": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; later draws repeat exactly."""
        perm = np.asarray(state["perm"], dtype=np.int64)
        num_samples = int(state["num_samples"])
        if perm.shape != (num_samples,):
            raise ValueError(f"state perm must have shape ({num_samples},), got {perm.shape}")
        if not 0 <= int(state["pos"]) <= num_samples:
            raise ValueError(f"state pos ({state['pos']}) must lie in [0, {num_samples}]")
        self.num_samples = num_samples
        self.seed = int(state["seed"])
        self._perm = perm.copy()
        self._pos = int(state["pos"])
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = copy.deepcopy(state["rng_state"])


def _unit_rows(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    # Zero vectors stay zero (cosine 0 to everything) instead of becoming NaN.
    return features / np.maximum(norms, 1e-12)


def _kmeanspp_seeds(x: np.ndarray, num_prototypes: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of ``num_prototypes`` distinct k-means++ seeds of unit rows ``x``."""
    n = x.shape[0]
    chosen = np.empty(num_prototypes, dtype=np.int64)
    chosen[0] = rng.integers(n)
    # ||x_i - x_j||^2 = 2 - 2 cos(x_i, x_j) for unit rows; clip rounding below 0.
    # Kept in float64 so the sampling probabilities sum to 1 even for float32 features.
    nearest_sq = np.maximum(2.0 - 2.0 * (x @ x[chosen[0]]).astype(np.float64), 0.0)
    nearest_sq[chosen[0]] = 0.0
    for t in range(1, num_prototypes):
        total = nearest_sq.sum()
        if total > 0.0:
            nxt = int(rng.choice(n, p=nearest_sq / total))
        else:
            # All remaining points coincide with a prototype: uniform over the unchosen.
            free = np.ones(n, dtype=bool)
            free[chosen[:t]] = False
            nxt = int(rng.choice(np.flatnonzero(free)))
        chosen[t] = nxt
        nearest_sq = np.minimum(nearest_sq, np.maximum(2.0 - 2.0 * (x @ x[nxt]).astype(np.float64), 0.0))
        nearest_sq[chosen[: t + 1]] = 0.0
    return chosen


def _neighbour_lists(x: np.ndarray, protos: np.ndarray, length: int) -> np.ndarray:
    """For each prototype, the ``length`` rows of ``x`` most cosine-similar to it, nearest first."""
    n = x.shape[0]
    # Prototypes are processed in chunks so the similarity block stays near 2^24 entries.
    chunk = max(1, min(256, (1 << 24) // n))
    out = np.empty((protos.size, length), dtype=np.int64)
    for start in range(0, protos.size, chunk):
        sims = x[protos[start:start + chunk]] @ x.T
        # The prototype itself comes first even if another row is an exact duplicate.
        sims[np.arange(sims.shape[0]), protos[start:start + chunk]] = np.inf
        if length < n:
            top = np.argpartition(-sims, length - 1, axis=1)[:, :length]
        else:
            top = np.broadcast_to(np.arange(n), sims.shape).copy()
        top_sims = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        out[start:start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


def prototype_neighbour_sample(
    features: np.ndarray,
    m: int,
    num_prototypes: int,
    rng: np.random.Generator,
    candidates: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Prototypes accompanied by neighbours (PS): ``m`` diverse, locally grouped instances.

    1. Features are L2-normalised, ``z_i = f_i / ||f_i||``, so that distances
       are cosine distances: ``||z_i - z_j||^2 = 2 - 2 cos(f_i, f_j)``.
    2. ``P = num_prototypes`` prototypes are picked by k-means++ seeding
       (Arthur & Vassilvitskii, SODA 2007): the first uniformly at random, each
       next one with probability ``D(z)^2 / sum D^2`` where ``D(z)`` is the
       distance from ``z`` to its nearest chosen prototype. This choice (the
       ASD paper does not fix the seeding rule) favours far-apart prototypes,
       so small, separated modes are reached even when one mode holds most of
       the data, while staying random rather than always taking outliers (as
       farthest-point selection would).
    3. Each prototype brings its nearest neighbours by cosine similarity,
       round-robin: in round ``r`` every prototype (in seeding order) adds its
       nearest not-yet-chosen neighbour, until ``m`` distinct indices are
       chosen. Round 0 adds the prototypes themselves.

    Cost: ``O(P N d)`` for seeding and neighbour search over ``N`` candidates.

    Args:
        features: ``(N, d)`` features of the whole pool.
        m: Number of instances to return, ``1 <= m <= len(candidates)``.
        num_prototypes: ``P``, ``1 <= P <= m``.
        rng: Random generator (used for seeding only).
        candidates: Optional distinct indices into ``features`` to sample from
            (e.g. the not yet visited ones); default all ``N``.

    Returns:
        ``int64`` array of ``m`` distinct indices into ``features``; the first
        ``P`` are the prototypes.
    """
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features must have shape (num_samples, dim), got {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features must be finite")
    num_samples = features.shape[0]
    m = _check_count("m", m)
    num_prototypes = _check_count("num_prototypes", num_prototypes)
    if candidates is None:
        pool = np.arange(num_samples, dtype=np.int64)
        if m > num_samples:
            raise ValueError(f"m ({m}) must not exceed the number of samples ({num_samples})")
    else:
        pool = np.asarray(candidates)
        if pool.ndim != 1 or (pool.size and not np.issubdtype(pool.dtype, np.integer)):
            raise ValueError(f"candidates must be a one-dimensional integer array, got {pool.dtype} {pool.shape}")
        pool = pool.astype(np.int64)
        if pool.size and (pool.min() < 0 or pool.max() >= num_samples):
            raise ValueError(f"candidates must be indices in [0, {num_samples})")
        if np.unique(pool).size != pool.size:
            raise ValueError("candidates must be distinct")
        if m > pool.size:
            raise ValueError(f"m ({m}) must not exceed the number of candidates ({pool.size})")
    if num_prototypes > m:
        raise ValueError(f"num_prototypes ({num_prototypes}) must not exceed m ({m})")

    # float32 features stay float32 (a copy of the pool is made; halving it matters for large N).
    x = _unit_rows(features[pool].astype(np.result_type(features.dtype, np.float32)))
    protos = _kmeanspp_seeds(x, num_prototypes, rng)
    n = x.shape[0]
    # Each prototype needs about m / P neighbours; collisions between groups may
    # need more, so the lists grow (doubling) until m distinct indices are found.
    length = min(n, 2 * (-(-m // num_prototypes)))
    while True:
        lists = _neighbour_lists(x, protos, length)
        taken = np.zeros(n, dtype=bool)
        chosen = []
        pointers = np.zeros(num_prototypes, dtype=np.int64)
        while len(chosen) < m:
            progressed = False
            for p in range(num_prototypes):
                row = lists[p]
                ptr = pointers[p]
                while ptr < length and taken[row[ptr]]:
                    ptr += 1
                pointers[p] = ptr
                if ptr < length:
                    taken[row[ptr]] = True
                    chosen.append(row[ptr])
                    pointers[p] = ptr + 1
                    progressed = True
                    if len(chosen) == m:
                        break
            if not progressed:
                break
        if len(chosen) == m or length == n:
            break
        length = min(n, 2 * length)
    return pool[np.asarray(chosen, dtype=np.int64)]


class PrototypeNeighbourSampler:
    """Stateful PS sampler that prefers samples not drawn in earlier rounds.

    Each round :meth:`draw` runs :func:`prototype_neighbour_sample` on the
    current features restricted to the samples not visited yet, so coverage of
    the pool grows over rounds. When fewer than ``m`` unvisited samples
    remain, the visited mask is reset first (a new pass over the pool begins;
    the few leftovers get no priority in it).

    The number of prototypes per draw is ``num_prototypes`` if given; else
    ``ceil(m / (1 + neighbours_per_prototype))`` if that is given; else
    ``max(1, m // 4)`` (see :func:`default_num_prototypes`). At most one of the
    two may be given.

    Args:
        num_samples: Pool size ``N``.
        seed: Seed of the ``numpy.random.Generator``.
        num_prototypes: Fixed number of prototypes per draw, or None.
        neighbours_per_prototype: Neighbours per prototype, or None.
    """

    def __init__(
        self,
        num_samples: int,
        seed: int,
        num_prototypes: Optional[int] = None,
        neighbours_per_prototype: Optional[int] = None,
    ) -> None:
        self.num_samples = _check_count("num_samples", num_samples)
        if num_prototypes is not None and neighbours_per_prototype is not None:
            raise ValueError("give at most one of num_prototypes and neighbours_per_prototype")
        self.num_prototypes = None if num_prototypes is None else _check_count("num_prototypes", num_prototypes)
        self.neighbours_per_prototype = (
            None
            if neighbours_per_prototype is None
            else _check_count("neighbours_per_prototype", neighbours_per_prototype, minimum=0)
        )
        self.seed = int(seed)
        self._rng = np.random.default_rng(self.seed)
        self._visited = np.zeros(self.num_samples, dtype=bool)

    @property
    def visited(self) -> np.ndarray:
        """Boolean mask of samples drawn in the current pass (a copy)."""
        return self._visited.copy()

    def prototypes_for(self, m: int) -> int:
        """Number of prototypes a draw of ``m`` uses."""
        if self.num_prototypes is not None:
            return self.num_prototypes
        return default_num_prototypes(m, self.neighbours_per_prototype)

    #: A draw reads the current features of the whole pool.
    needs_features = True

    def draw(self, m: int, features: Optional[np.ndarray] = None) -> np.ndarray:
        """``m`` distinct indices chosen by PS among the unvisited samples.

        Args:
            m: How many indices, ``1 <= m <= N``.
            features: ``(N, d)`` current features of the whole pool.

        Returns:
            ``int64`` array of ``m`` distinct indices in ``[0, N)``.
        """
        m = _check_count("m", m)
        if m > self.num_samples:
            raise ValueError(f"m ({m}) must not exceed the number of samples ({self.num_samples})")
        features = np.asarray(features) if features is not None else np.empty((0, 0))
        if features.ndim != 2 or features.shape[0] != self.num_samples:
            raise ValueError(
                f"features must have shape ({self.num_samples}, dim), got {features.shape}"
            )
        if int((~self._visited).sum()) < m:
            self._visited[:] = False
        candidates = np.flatnonzero(~self._visited)
        out = prototype_neighbour_sample(features, m, self.prototypes_for(m), self._rng, candidates)
        self._visited[out] = True
        return out

    def state_dict(self) -> Dict[str, Any]:
        """Everything needed to repeat future draws (given the same features)."""
        return {
            "num_samples": self.num_samples,
            "seed": self.seed,
            "num_prototypes": self.num_prototypes,
            "neighbours_per_prototype": self.neighbours_per_prototype,
            "visited": self._visited.copy(),
            "rng_state": copy.deepcopy(self._rng.bit_generator.state),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`."""
        visited = np.asarray(state["visited"], dtype=bool)
        num_samples = int(state["num_samples"])
        if visited.shape != (num_samples,):
            raise ValueError(f"state visited must have shape ({num_samples},), got {visited.shape}")
        self.num_samples = num_samples
        self.seed = int(state["seed"])
        self.num_prototypes = state["num_prototypes"]
        self.neighbours_per_prototype = state["neighbours_per_prototype"]
        self._visited = visited.copy()
        self._rng = np.random.default_rng()
        self._rng.bit_generator.state = copy.deepcopy(state["rng_state"])


#: ``asd_sampler`` name -> ``sampler(num_samples, seed)``: uniform without repeats (the paper's
#: random draw) or prototypes with their neighbours (the paper's PS).
SAMPLERS = {"uniform": NonRepeatingSampler, "prototype": PrototypeNeighbourSampler}
