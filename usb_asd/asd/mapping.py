"""Grouping the ``n_l`` instance classes into ``k`` clusters with k-medoids.

ASD (Duan et al., IEEE TIP 2025, arXiv 2509.20976) clusters the instance
classes using the class-transition similarity ``S`` of
:mod:`usb_asd.asd.transitions` (as in SoC, Duan et al., AAAI 2024): classes
between which predictions often move are grouped. The result is an
instance->cluster map ``g: {0..n_l-1} -> {0..k-1}``.

``D`` is made from ``S`` in one of two ways (``asd_kmedoids_distance``):
:func:`similarity_to_distance` (``1 - S / max S``) or :func:`spectral_distance`
(Euclidean distance in the normalised spectral embedding of ``S``, the
default, less misled by classes with many transitions to everything).

k-medoids on a precomputed dissimilarity ``D`` minimises

.. math:: \\sum_{c=1}^{k} \\sum_{i \\in C_c} D_{i, m_c}

over medoids ``m_1..m_k`` (members of the data) and the partition. The
"alternate" iterations (Park & Jun, 2009; the scheme of the authors' SoC code)
assign each class to its nearest medoid and move each medoid to the member
with the smallest in-cluster distance sum; neither step increases the
objective. Cold start: ``sklearn_extra.cluster.KMedoids`` (its initialisation
and iterations), then the alternate iterations below. Later fits warm-start
from the previous medoids with the alternate iterations, because
scikit-learn-extra 0.3.0 only accepts ``init`` as a method name or as an array
of *points* (matched by value against the rows of ``X``, which is ambiguous for
a precomputed matrix with repeated rows), not as medoid indices. Warm starts
only descend; :meth:`InstanceClusterMapper.compete_cold` lets a cold fit
replace the map when its objective is lower (``asd_cold_refit``, an option).

Cluster ids are kept stable across re-clusterings: new clusters are relabelled
to match the previous map (Hungarian algorithm on the ``k x k`` overlap of
member sets), so finding the same groups again keeps the same ids.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from sklearn_extra.cluster import KMedoids

from .arrays import as_numpy

__all__ = [
    "ColdFitComparison",
    "InstanceClusterMapper",
    "kmedoids_objective",
    "random_mapping",
    "similarity_to_distance",
    "spectral_distance",
]


class ColdFitComparison(NamedTuple):
    """The current map against a cold fit of the same transitions, on the same distance.

    ``current`` and ``cold`` are their k-Medoids objectives, ``replaced`` whether the
    cold fit became the map, ``agreement`` the adjusted Rand index of the two
    partitions of the instance classes (1: the warm starts and a fresh fit find
    the same grouping).
    """

    current: float
    cold: float
    replaced: bool
    agreement: float


#: How a similarity becomes k-medoids' dissimilarity (``asd_kmedoids_distance``).
DISTANCES = ("linear", "spectral")
#: Largest number of instance classes whose first fit uses ``init="build"`` (the default);
#: larger ones seed with ``"k-medoids++"``.
BUILD_MAX_N = 1000


def similarity_to_distance(similarity: np.ndarray) -> np.ndarray:
    """Dissimilarity for k-medoids: ``D = 1 - S / max(S)`` with ``D_ii = 0``.

    A precomputed metric must be a dissimilarity (small = alike); dividing by
    the largest similarity makes it scale-free (transition counts grow with the
    window and batch size) and puts it in ``[0, 1]``.

    Args:
        similarity: ``(n, n)`` symmetric, non-negative, not all zero.

    Returns:
        ``(n, n)`` float64 distance with zero diagonal.
    """
    peak = similarity.max()
    if peak <= 0:
        raise ValueError("similarity must have a positive entry to be turned into a distance")
    dist = 1.0 - similarity / peak
    np.fill_diagonal(dist, 0.0)
    return dist


#: Largest ``n`` whose embedding uses the full dense eigendecomposition (``numpy.linalg.eigh``,
#: the original path: digits' n_l = 40 and CIFAR-10's are far below it). Above it only the
#: ``dim`` eigenvectors that are used are computed (:func:`top_eigenvectors`).
DENSE_EIGEN_MAX_N = 1000
#: Above :data:`DENSE_EIGEN_MAX_N`, ``dim <= n / this`` on a sparse matrix uses the Lanczos
#: solver; a larger ``dim`` (ImageNet-1k: 1,000 of 4,000) or a dense matrix the dense solver
#: restricted to those eigenvectors.
SPARSE_EIGEN_MIN_RATIO = 10
#: Largest share of non-zero entries for which the matrix counts as sparse (Lanczos on a
#: dense matrix was slower than the dense solver: 11.6 s against 6.6 s at n = 1,200, dim = 20).
SPARSE_EIGEN_MAX_DENSITY = 0.05


def top_eigenvectors(matrix: np.ndarray, dim: int) -> np.ndarray:
    """Eigenvectors of the ``dim`` largest eigenvalues of a symmetric matrix, ascending order.

    Three solvers, by size, all giving an orthonormal basis of the same
    eigenspace (columns may differ in sign, and within a repeated eigenvalue by a
    rotation; the row-normalised embedding's distances do not depend on either
    when the space is the same):

    * ``n <= DENSE_EIGEN_MAX_N``: ``numpy.linalg.eigh``, every eigenvector (unchanged
      behaviour for the sizes trained so far);
    * ``dim <= n / SPARSE_EIGEN_MIN_RATIO`` and at most ``SPARSE_EIGEN_MAX_DENSITY`` of
      the entries non-zero (transition counts over a window are sparse):
      ``scipy.sparse.linalg.eigsh`` (Lanczos, ``which="LA"``), deterministic start vector;
    * otherwise ``scipy.linalg.eigh(subset_by_index=...)`` (LAPACK ``syevr``, MRRR):
      the tridiagonal reduction and only ``dim`` eigenvectors. At n = 4,000 and
      dim = 1,000 this is several times faster than the full decomposition (docs/SCALE.md).

    Args:
        matrix: ``(n, n)`` symmetric.
        dim: Number of eigenvectors, ``1 <= dim <= n``.

    Returns:
        ``(n, dim)`` float64 eigenvectors, columns by ascending eigenvalue.
    """
    n = matrix.shape[0]
    if n <= DENSE_EIGEN_MAX_N or dim >= n:
        _, vectors = np.linalg.eigh(matrix)  # ascending eigenvalues
        return vectors[:, -dim:]
    if dim * SPARSE_EIGEN_MIN_RATIO <= n and np.count_nonzero(matrix) <= SPARSE_EIGEN_MAX_DENSITY * n * n:
        import scipy.sparse as sp
        from scipy.sparse.linalg import eigsh

        start = np.ones(n) / np.sqrt(n)  # deterministic: reruns and ranks agree
        values, vectors = eigsh(sp.csr_matrix(matrix), k=dim, which="LA", v0=start, tol=1e-10)
        return vectors[:, np.argsort(values, kind="stable")]
    from scipy.linalg import eigh

    _, vectors = eigh(matrix, subset_by_index=[n - dim, n - 1], driver="evr", check_finite=False)
    return vectors


def neighbour_graph(similarity: np.ndarray, neighbours: int) -> np.ndarray:
    """Keep each class's ``neighbours`` strongest similarities (the union, so the result stays symmetric).

    .. math:: W_{ab} = S_{ab} \, [\, b \in \mathcal{N}_m(a) \text{ or } a \in \mathcal{N}_m(b) \,],

    with ``N_m(a)`` the ``m`` classes of largest ``S_a.`` (ties: lowest index).
    Transitions also run between classes of different clusters; a hub class
    that moves to many clusters links them all. Keeping only each class's
    strongest links leaves the within-cluster ones (a class's top neighbour
    is far more often of its own cluster than its average transition), as a
    kNN graph does in spectral clustering (von Luxburg, 2007, section 2.2).

    Args:
        similarity: ``(n, n)`` symmetric, non-negative, zero diagonal.
        neighbours: ``m >= 1``; ``m >= n - 1`` keeps everything.

    Returns:
        ``(n, n)`` float64 symmetric similarity.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    n = sim.shape[0]
    if neighbours < 1:
        raise ValueError(f"neighbours must be >= 1, got {neighbours}")
    if neighbours >= n - 1:
        return sim.copy()
    order = np.argsort(-sim, axis=1, kind="stable")[:, :neighbours]
    keep = np.zeros(sim.shape, dtype=bool)
    keep[np.arange(n)[:, None], order] = True
    keep &= sim > 0
    return np.where(keep | keep.T, sim, 0.0)


def default_neighbours(num_classes: int, num_clusters: int) -> int:
    """``m = ceil(n / (2k))``: half the instance classes an average cluster holds (at least 1)."""
    return max(1, -(-int(num_classes) // (2 * int(num_clusters))))


def spectral_distance(similarity: np.ndarray, dim: int) -> np.ndarray:
    """Euclidean distance between the rows of a spectral embedding of ``S``.

    The embedding of Ng, Jordan & Weiss (NeurIPS 2001): with degrees
    ``d_a = sum_b S_ab``, the normalised affinity ``A = D^{-1/2} S D^{-1/2}``,
    its eigenvectors ``U`` (``n x dim``) of the ``dim`` largest eigenvalues,
    rows scaled to unit length, ``u_a = U_a / ||U_a||``; then

    .. math:: D_{ab} = \lVert u_a - u_b \rVert_2 \in [0, 2].

    Two classes are close when they transition to the same groups of classes,
    not only to each other, and a class with many transitions overall (a
    "hub") is not close to everything, as it is with ``1 - S / max S``. A
    class with no transitions (``d_a = 0``) is put at distance 1 from every
    other class (its embedding row is not defined: ``e_a`` is an eigenvector
    of eigenvalue 0, in the top ``dim`` or not depending on the rest).

    Args:
        similarity: ``(n, n)`` symmetric, non-negative, not all zero.
        dim: Embedding dimension (the number of clusters ``k``), ``1 <= dim <= n``.

    Returns:
        ``(n, n)`` float64 distance with zero diagonal.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    n = sim.shape[0]
    if not 1 <= dim <= n:
        raise ValueError(f"dim must lie in [1, {n}], got {dim}")
    if sim.max() <= 0:
        raise ValueError("similarity must have a positive entry to be turned into a distance")
    degree = sim.sum(axis=1)
    inv_sqrt = np.zeros(n)
    inv_sqrt[degree > 0] = 1.0 / np.sqrt(degree[degree > 0])
    affinity = inv_sqrt[:, None] * sim * inv_sqrt[None, :]
    emb = top_eigenvectors(affinity, dim)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = np.divide(emb, norms, out=np.zeros_like(emb), where=norms > 1e-12)
    sq = (emb ** 2).sum(axis=1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * emb @ emb.T, 0.0))
    isolated = degree <= 0
    dist[isolated, :] = 1.0
    dist[:, isolated] = 1.0
    np.fill_diagonal(dist, 0.0)
    return dist


def kmedoids_objective(dist: np.ndarray, medoids: np.ndarray) -> float:
    """The k-medoids objective of a set of medoids: :math:`\\sum_i \\min_c D_{i, m_c}`.

    Each class counted at its nearest medoid (the assignment :func:`_assign` makes,
    up to ties, which do not change the sum).

    Args:
        dist: ``(n, n)`` dissimilarity.
        medoids: ``(k,)`` distinct class indices.

    Returns:
        The sum of each class's distance to its nearest medoid.
    """
    return float(dist[:, np.asarray(medoids, dtype=np.int64)].min(axis=1).sum())


def _assign(dist: np.ndarray, medoids: np.ndarray) -> np.ndarray:
    """Nearest medoid per class (ties: lowest cluster position); each medoid in its own cluster."""
    labels = np.argmin(dist[:, medoids], axis=1)
    # A class at distance 0 from two medoids could pull a medoid out of its own
    # cluster and leave that cluster empty; pinning medoids prevents it.
    labels[medoids] = np.arange(medoids.size)
    return labels


def _farthest_class(dist: np.ndarray, chosen: np.ndarray) -> int:
    """The class (not in ``chosen``) whose distance to its nearest chosen class is largest."""
    gap = dist[:, chosen].min(axis=1)
    gap[chosen] = -np.inf
    return int(np.argmax(gap))


def _make_distinct(dist: np.ndarray, medoids: np.ndarray) -> np.ndarray:
    """Replace repeated medoids by the class farthest from the medoids so far (deterministic)."""
    medoids = medoids.astype(np.int64).copy()
    is_medoid = np.zeros(dist.shape[0], dtype=bool)
    for c, m in enumerate(medoids):
        if is_medoid[m]:
            m = _farthest_class(dist, is_medoid)
            medoids[c] = m
        is_medoid[m] = True
    return medoids


def _cluster_spreads(dist: np.ndarray, labels: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """In-cluster distance sums, and each cluster's member with the smallest, without a loop over clusters.

    ``spread[i] = sum_{j in C(i)} D_ij`` over the members ``j`` of ``i``'s own
    cluster. Clusters of equal size are handled together: their ``(s, s)``
    blocks are stacked into one ``(g, s, s)`` array and summed along the last
    axis, so the Python loop runs over the distinct cluster sizes (a handful)
    instead of the ``k`` clusters (1,000 at ImageNet-1k). Each sum runs over the
    same contiguous row of ``s`` values, in the same order, as
    ``dist[np.ix_(members, members)].sum(axis=1)`` does for one cluster, so the
    figures are the same to the bit (tested against that loop).

    Args:
        dist: ``(n, n)`` dissimilarity.
        labels: ``(n,)`` cluster of each class, in ``[0, k)``.
        k: Number of clusters.

    Returns:
        ``(spread (n,), best (k,))``: ``best[c]`` is the member of cluster ``c`` with the
        smallest spread (the lowest index on ties), ``-1`` for an empty cluster.
    """
    n = labels.size
    order = np.argsort(labels, kind="stable")  # each cluster's members in ascending index order
    sizes = np.bincount(labels, minlength=k)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    spread = np.empty(n, dtype=np.float64)
    best = np.full(k, -1, dtype=np.int64)
    for size in np.unique(sizes[sizes > 0]):
        clusters = np.flatnonzero(sizes == size)
        members = order[starts[clusters][:, None] + np.arange(size)]  # (g, size)
        sums = dist[members[:, :, None], members[:, None, :]].sum(axis=2)
        spread[members] = sums
        best[clusters] = members[np.arange(clusters.size), np.argmin(sums, axis=1)]
    return spread, best


def _partition_medoids(dist: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Medoids of a given partition: per cluster, the member with the smallest in-cluster distance sum.

    An empty cluster gets the class farthest from the medoids chosen so far
    (as :func:`_make_distinct` does), so the ``k`` medoids are always distinct.
    """
    _, medoids = _cluster_spreads(dist, labels, k)
    for c in np.flatnonzero(medoids < 0):  # some cluster is non-empty: labels has n >= 1 entries
        medoids[c] = _farthest_class(dist, medoids[medoids >= 0])
    return medoids


def _alternate(dist: np.ndarray, medoids: np.ndarray, max_iter: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Alternate k-medoids iterations from ``medoids`` until the medoids stop changing.

    Medoid update: the member ``i`` of cluster ``c`` minimising
    ``sum_{j in C_c} D_ij`` (equivalently maximising the in-cluster similarity
    sum); on ties the current medoid is kept (otherwise the lowest index), which
    rules out oscillation between equally good medoids. All clusters at once
    (:func:`_cluster_spreads`; every medoid is in its own cluster, so none is empty).

    Returns:
        ``(labels, medoids, iterations)``.
    """
    medoids = medoids.copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):
        labels = _assign(dist, medoids)
        spread, best = _cluster_spreads(dist, labels, medoids.size)
        current = spread[medoids]
        better = spread[best] < current - 1e-12 * np.maximum(1.0, np.abs(current))
        new = np.where(better, best, medoids)
        if np.array_equal(new, medoids):
            break
        medoids = new
    return _assign(dist, medoids), medoids, iterations


def _symmetric_similarity(similarity) -> np.ndarray:
    """``(S + S^T) / 2`` with a zero diagonal, float64, after checking ``S`` is square, finite and non-negative."""
    sim = as_numpy(similarity)
    if sim.ndim != 2 or sim.shape[0] != sim.shape[1]:
        raise ValueError(f"similarity must be a square (n, n) array, got shape {sim.shape}")
    sim = sim.astype(np.float64)
    if not np.all(np.isfinite(sim)) or np.any(sim < 0):
        raise ValueError("similarity must be finite and non-negative")
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    return sim


def match_cluster_ids(new_labels: np.ndarray, old_labels: np.ndarray, k: int) -> np.ndarray:
    """``new_to_old`` permutation maximising the overlap of member sets.

    Solves ``max_sigma sum_c |C^new_c ∩ C^old_sigma(c)|`` with the Hungarian
    algorithm. Ties are broken towards the identity (keeping the warm-start
    order): a bonus of ``1 / (2k)`` on the diagonal totals at most 1/2, less
    than one shared member, so it never beats a strictly larger overlap.
    """
    overlap = np.zeros((k, k), dtype=np.float64)
    np.add.at(overlap, (new_labels, old_labels), 1.0)
    overlap[np.diag_indices(k)] += 0.5 / k
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    new_to_old = np.empty(k, dtype=np.int64)
    new_to_old[rows] = cols
    return new_to_old


def random_mapping(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """A balanced random instance->cluster map (ablation: CTT vs random grouping).

    Cluster sizes differ by at most one: ``np.arange(n) % k`` randomly permuted.

    Args:
        n: Number of instance classes, ``n >= k``.
        k: Number of clusters.
        rng: Random generator.

    Returns:
        ``int64`` array ``(n,)`` with every id in ``[0, k)`` used.
    """
    if k < 1:
        raise ValueError(f"k ({k}) must be at least 1")
    if n < k:
        raise ValueError(f"k ({k}) must not exceed the number of instance classes n ({n})")
    return rng.permutation(np.arange(n, dtype=np.int64) % k)


class InstanceClusterMapper:
    """k-medoids grouping of instance classes with warm starts and stable cluster ids.

    Args:
        num_clusters: ``k``.
        seed: ``random_state`` for KMedoids' cold start (used by the
            ``"k-medoids++"`` and ``"random"`` initialisations).
        max_iter: Maximum k-medoids iterations.
        distance: How the similarity becomes a dissimilarity: ``"linear"``
            (:func:`similarity_to_distance`) or ``"spectral"``
            (:func:`spectral_distance` with ``dim = k``).
    """

    def __init__(
        self,
        num_clusters: int,
        seed: int,
        max_iter: int = 300,
        distance: str = "linear",
    ) -> None:
        if isinstance(num_clusters, bool) or not isinstance(num_clusters, (int, np.integer)) or num_clusters < 1:
            raise ValueError(f"num_clusters must be a positive integer, got {num_clusters!r}")
        if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
            raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
        if distance not in DISTANCES:
            raise ValueError(f"asd_kmedoids_distance must be one of {DISTANCES}, got {distance!r}")
        self.num_clusters = int(num_clusters)
        self.distance = distance
        self.seed = int(seed)
        self.max_iter = int(max_iter)
        self._mapping: Optional[np.ndarray] = None
        self._medoids: Optional[np.ndarray] = None
        self.num_fits = 0

    @property
    def mapping(self) -> Optional[np.ndarray]:
        """Cluster id of each instance class, ``(n,)`` int64, or None before the first fit."""
        return None if self._mapping is None else self._mapping.copy()

    @property
    def medoids(self) -> Optional[np.ndarray]:
        """``medoids[c]`` is the instance class at the centre of cluster ``c``, or None."""
        return None if self._medoids is None else self._medoids.copy()

    def _cold_start(self, dist: np.ndarray) -> np.ndarray:
        # BUILD is O(k n^2) (tens of seconds at k = 1,000, n = 4,000); above BUILD_MAX_N the
        # first fit seeds with k-medoids++ (O(k n), seeded) and the alternate iterations follow.
        init = "build" if dist.shape[0] <= BUILD_MAX_N else "k-medoids++"
        model = KMedoids(
            n_clusters=self.num_clusters,
            metric="precomputed",
            method="alternate",
            init=init,
            max_iter=self.max_iter,
            random_state=self.seed,
        )
        with warnings.catch_warnings():
            # Convergence and empty-cluster warnings: the alternate iterations
            # that follow continue from these medoids and repair both.
            warnings.simplefilter("ignore")
            model.fit(dist)
        return _make_distinct(dist, np.asarray(model.medoid_indices_, dtype=np.int64))

    def dissimilarity(self, similarity: np.ndarray) -> np.ndarray:
        """The k-medoids dissimilarity of a symmetric, zero-diagonal similarity with a positive entry.

        :func:`spectral_distance` (``dim = k``) of its :func:`neighbour_graph` with
        :func:`default_neighbours`, or :func:`similarity_to_distance`, by ``distance``.
        """
        if self.distance == "spectral":
            n = similarity.shape[0]
            return spectral_distance(neighbour_graph(similarity, default_neighbours(n, self.num_clusters)),
                                     self.num_clusters)
        return similarity_to_distance(similarity)

    def fit(self, similarity: np.ndarray, compete_cold: bool = False) -> Optional[np.ndarray]:
        """Re-cluster the instance classes from a class similarity.

        ``S`` is symmetrised, ``(S + S^T) / 2``, with its diagonal zeroed, and
        turned into ``D = 1 - S / max(S)`` (:func:`similarity_to_distance`) or,
        with ``distance="spectral"``, into :func:`spectral_distance`.
        The first fit runs KMedoids, later fits warm-start from the previous
        medoids; both finish with alternate iterations in which every medoid
        belongs to its own cluster, so there are exactly ``k`` non-empty
        clusters (the ``k`` medoids are distinct since ``n >= k``). New ids are
        then matched to the previous ones (Hungarian on member overlap).

        Warm-up: if ``S`` is all zero (no transitions yet, the start of
        training) there is nothing to cluster; the current mapping is returned
        unchanged (None before any successful fit).

        Args:
            similarity: ``(n, n)`` non-negative similarity of the ``n = n_l``
                instance classes (numpy or torch).
            compete_cold: Then let a cold fit replace the result when its objective is
                lower (:meth:`compete_cold`, on the same dissimilarity).

        Returns:
            The mapping ``(n,)`` (a copy), or None during warm-up before any fit.
        """
        sim = _symmetric_similarity(similarity)
        n = sim.shape[0]
        if n < self.num_clusters:
            raise ValueError(
                f"num_clusters ({self.num_clusters}) must not exceed the number of instance classes ({n})"
            )
        if self._mapping is not None and self._mapping.size != n:
            raise ValueError(
                f"similarity covers {n} instance classes but the current mapping has {self._mapping.size}"
            )
        if sim.max() <= 0:
            return self.mapping
        dist = self.dissimilarity(sim)
        if self._medoids is not None:
            start = self._medoids
        elif self._mapping is not None:  # a given partition (a state without medoids): its medoids under this D
            start = _partition_medoids(dist, self._mapping, self.num_clusters)
        else:
            start = self._cold_start(dist)
        labels, medoids, _ = _alternate(dist, start, self.max_iter)
        self._install(labels, medoids)
        self.num_fits += 1
        if compete_cold:  # on the same distance: no second eigendecomposition
            self._compete_cold(dist)
        return self.mapping

    def _install(self, labels: np.ndarray, medoids: np.ndarray) -> None:
        """Make a fit current, its cluster ids matched to the current map's (Hungarian on overlap)."""
        if self._mapping is not None:
            new_to_old = match_cluster_ids(labels, self._mapping, self.num_clusters)
            labels = new_to_old[labels]
            reordered = np.empty_like(medoids)
            reordered[new_to_old] = medoids
            medoids = reordered
        self._mapping = labels.astype(np.int64)
        self._medoids = medoids.astype(np.int64)

    def compete_cold(self, similarity: np.ndarray) -> Optional[ColdFitComparison]:
        """Let a cold fit of ``similarity`` replace the current map when its objective is lower.

        The current medoids and a cold fit (KMedoids, then the alternate
        iterations, as a first :meth:`fit`) are scored by :func:`kmedoids_objective`
        on the same dissimilarity; the cold fit is installed (ids matched to the
        current map) only when its objective is strictly lower. Warm starts only
        descend, so this is the one way out of the basin the current medoids sit in
        (e.g. a given partition's, or the first fits', ``asd_cold_refit``).

        Args:
            similarity: ``(n, n)`` non-negative similarity, as for :meth:`fit`.

        Returns:
            The comparison, or None where there is nothing to compare (no medoids
            yet, or no transitions).
        """
        dist = self._cold_fit_distance(similarity)
        return None if dist is None else self._compete_cold(dist)

    def compare_cold(self, similarity: np.ndarray) -> Optional[ColdFitComparison]:
        """How a cold fit of ``similarity`` compares with the current map; the map stays.

        The label-free trust check of ``asd_switch_rule: cold_fit``: warm starts make
        consecutive maps agree by construction, while a fresh fit agrees with the
        map only where the transitions themselves single out its grouping,

        .. math:: \\operatorname{ARI}(\\text{map}, \\operatorname{KMedoids}_{\\text{cold}}(D)).

        Args:
            similarity: ``(n, n)`` non-negative similarity, as for :meth:`fit`.

        Returns:
            The comparison (``replaced`` False), or None as for :meth:`compete_cold`.
        """
        dist = self._cold_fit_distance(similarity)
        return None if dist is None else self._compete_cold(dist, install=False)

    def _cold_fit_distance(self, similarity: np.ndarray) -> Optional[np.ndarray]:
        """The dissimilarity a cold fit compares on, or None where there is nothing to compare."""
        if self._medoids is None:
            return None
        sim = _symmetric_similarity(similarity)
        if sim.shape[0] != self._mapping.size:
            raise ValueError(f"similarity covers {sim.shape[0]} instance classes but the current "
                             f"mapping has {self._mapping.size}")
        if sim.max() <= 0:
            return None
        return self.dissimilarity(sim)

    def _compete_cold(self, dist: np.ndarray, install: bool = True) -> ColdFitComparison:
        """:meth:`compete_cold` (or, without ``install``, :meth:`compare_cold`) on a dissimilarity already built."""
        current = kmedoids_objective(dist, self._medoids)
        labels, medoids, _ = _alternate(dist, self._cold_start(dist), self.max_iter)
        cold = kmedoids_objective(dist, medoids)
        agreement = float(adjusted_rand_score(self._mapping, labels))
        replaced = install and cold < current - 1e-12 * max(1.0, abs(current))
        if replaced:
            self._install(labels, medoids)
        return ColdFitComparison(current, cold, bool(replaced), agreement)

    def state_dict(self) -> Dict[str, Any]:
        """Settings, mapping and medoids (None when the mapping was set from a partition, until the next fit)."""
        return {
            "num_clusters": self.num_clusters,
            "seed": self.seed,
            "max_iter": self.max_iter,
            "distance": self.distance,
            "mapping": self.mapping,
            "medoids": self.medoids,
            "num_fits": self.num_fits,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`; later fits behave identically."""
        mapping = None if state["mapping"] is None else np.asarray(state["mapping"], dtype=np.int64)
        medoids = None if state["medoids"] is None else np.asarray(state["medoids"], dtype=np.int64)
        k = int(state["num_clusters"])
        if mapping is None and medoids is not None:
            raise ValueError("state medoids need a mapping")
        if medoids is not None:
            if medoids.shape != (k,) or np.unique(medoids).size != k:
                raise ValueError(f"state medoids must be {k} distinct instance classes")
            if mapping.ndim != 1 or medoids.max() >= mapping.size or np.any(mapping[medoids] != np.arange(k)):
                raise ValueError("state medoids must each belong to their own cluster in mapping")
        self.num_clusters = k
        self.seed = int(state["seed"])
        self.max_iter = int(state["max_iter"])
        self.distance = state.get("distance", "linear")  # states from before the option
        self._mapping = mapping
        self._medoids = medoids
        self.num_fits = int(state.get("num_fits", 0))
