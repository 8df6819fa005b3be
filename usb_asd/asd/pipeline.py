"""ASD's label builder: sample, align, track, map -> cluster labels for sampled instances.

Composes the four stages (:mod:`.sampling`, :mod:`.alignment`,
:mod:`.transitions`, :mod:`.mapping`) into the state ASD keeps between
iterations (Duan et al., IEEE TIP 2025, arXiv 2509.20976):

* ``slots[e]``: the sampled instance (index into the unlabelled pool) of entry
  ``e = c * n_l + j``, the ``c``-th of the ``m`` images instance-head class
  ``j`` stands for (``m = asd_instances_per_slot``, 1 by default: one image
  per class, the paper's setting);
* ``slot_clusters[j]``: the cluster id of slot ``j`` (None during warm-up);
* optionally a given clustering of the pool (``asd_init_assignments``) that labels
  the entries until the chain's own maps take over
  (:meth:`ClusterLabelBuilder.start_from`, :meth:`ClusterLabelBuilder.hand_over`).

The labelled batch the SSL learner sees is then ``(x_{slots[e]}, slot_clusters[e mod n_l])``.
Knows nothing of USB: plain arrays in and out.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool

from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .background import BackgroundJob, FinishedJob

from .alignment import align_to_slots, instance_slot_cost, select_for_slots
from .feature_clusters import FEATURE_CLUSTERINGS, cluster_features
from .mapping import DISTANCES, InstanceClusterMapper, cluster_posterior, random_mapping
from .sampling import NonRepeatingSampler, PrototypeNeighbourSampler
from .transitions import ClassTransitionTracker

SAMPLERS = ("uniform", "prototype")
ALIGNMENTS = ("ot", "none")
MAPPINGS = ("ctt", "random", "features")
#: Cluster labels of a redraw's new instances (``asd_redraw_labels``).
REDRAW_LABELS = ("slot", "posterior")

#: Settings added after checkpoints were first written, with the value those checkpoints ran with.
_SETTINGS_BEFORE_THEY_EXISTED = {"kmedoids_distance": "linear", "redraw_labels": "slot", "feature_clustering": "kmeans",
                                 "instances_per_slot": 1, "draw_factor": 1}


@dataclass(frozen=True)
class ASDSettings:
    """What the label builder needs to know (each field is an ``asd_*`` config key).

    Args:
        num_clusters: ``k``.
        num_instances: ``n_l``, sampled instances per round (paper: ``4k``).
        sampler: ``"uniform"`` (non-repeating) or ``"prototype"`` (prototypes with neighbours).
        alignment: ``"ot"`` (Sinkhorn + rounding) or ``"none"`` (slot ``j`` <- ``j``-th draw).
        ot_reg: Entropic regularisation of Sinkhorn, relative to the largest cost.
        window: ``N_b``, batches of transitions the tracker remembers.
        mapping: ``"ctt"`` (k-Medoids on transitions), ``"random"`` (ablation) or
            ``"features"`` (each instance takes its image's cluster in a clustering
            of the pool's features, :mod:`.feature_clusters`; not the paper's).
        kmedoids_distance: ``"linear"`` (``1 - S / max S``) or ``"spectral"``
            (distance in the normalised spectral embedding of ``S``), see :mod:`.mapping`.
        redraw_labels: Cluster label of a redraw's new instance: ``"slot"`` (that of
            the slot it is placed in) or ``"posterior"`` (the cluster with the most
            instance-head probability mass, :func:`.mapping.cluster_posterior`).
        feature_clustering: How ``mapping="features"`` clusters the pool's
            features: ``"kmeans"`` (warm-started) or ``"spectral"`` (kNN graph),
            see :mod:`.feature_clusters`.
        instances_per_slot: ``m``, images drawn per instance class and round
            (``m * n_l`` per draw, OT places exactly ``m`` in each class). 1 is
            the paper's one image per class; larger ``m`` makes each instance
            class a small over-cluster (not the paper's).
        draw_factor: ``c``, candidates drawn per entry: a round draws ``c * m * n_l``
            images and OT keeps, for each entry, the candidate that fits its
            instance class best (:func:`.alignment.select_for_slots`); the others
            are not used this round. 1 places every drawn image (the paper's draw).
        seed: Seed of every random choice.
    """

    num_clusters: int
    num_instances: int
    sampler: str = "uniform"
    alignment: str = "ot"
    ot_reg: float = 0.05
    window: int = 50
    mapping: str = "ctt"
    kmedoids_distance: str = "spectral"
    redraw_labels: str = "slot"
    feature_clustering: str = "kmeans"
    instances_per_slot: int = 1
    draw_factor: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_clusters < 2:
            raise ValueError(f"asd: num_classes (the number of clusters k) must be >= 2, got {self.num_clusters}")
        if self.num_instances < self.num_clusters:
            raise ValueError(
                f"asd_num_instances (n_l = {self.num_instances}) must be >= the number of clusters "
                f"({self.num_clusters}): each cluster needs at least one instance class"
            )
        for key, value, allowed in (
            ("asd_sampler", self.sampler, SAMPLERS),
            ("asd_alignment", self.alignment, ALIGNMENTS),
            ("asd_mapping", self.mapping, MAPPINGS),
            ("asd_kmedoids_distance", self.kmedoids_distance, DISTANCES),
            ("asd_redraw_labels", self.redraw_labels, REDRAW_LABELS),
            ("asd_feature_clustering", self.feature_clustering, FEATURE_CLUSTERINGS),
        ):
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        if self.redraw_labels == "posterior" and self.mapping != "ctt":
            raise ValueError(
                f"asd_redraw_labels: posterior relabels slots of the k-Medoids map, which "
                f"asd_mapping: {self.mapping} does not use; set asd_redraw_labels: slot"
            )
        if self.feature_clustering != "kmeans" and self.mapping != "features":
            raise ValueError(
                f"asd_feature_clustering: {self.feature_clustering} applies to asd_mapping: features only, "
                f"not asd_mapping: {self.mapping}; leave it at kmeans"
            )
        if self.instances_per_slot < 1:
            raise ValueError(f"asd_instances_per_slot must be >= 1, got {self.instances_per_slot}")
        if self.instances_per_slot > 1 and (self.redraw_labels == "posterior" or self.sampler == "prototype"):
            raise ValueError(
                f"asd_instances_per_slot: {self.instances_per_slot} works with asd_redraw_labels: slot and "
                f"asd_sampler: uniform only (got {self.redraw_labels}, {self.sampler}); set asd_instances_per_slot: 1"
            )
        if self.draw_factor < 1:
            raise ValueError(f"asd_draw_factor must be >= 1, got {self.draw_factor}")
        if self.draw_factor > 1 and (self.redraw_labels == "posterior" or self.sampler == "prototype"
                                     or self.alignment != "ot"):
            raise ValueError(
                f"asd_draw_factor: {self.draw_factor} selects candidates by OT: it works with asd_alignment: ot, "
                f"asd_redraw_labels: slot and asd_sampler: uniform only; set asd_draw_factor: 1"
            )
        if self.ot_reg <= 0:
            raise ValueError(f"asd_ot_reg must be > 0, got {self.ot_reg}")
        if self.window < 1:
            raise ValueError(f"asd_window must be >= 1, got {self.window}")

    @property
    def num_entries(self) -> int:
        """Images placed per round, ``m * n_l``: the entries of the labelled set."""
        return self.instances_per_slot * self.num_instances

    @property
    def num_candidates(self) -> int:
        """Images drawn per round, ``c * m * n_l``."""
        return self.draw_factor * self.num_entries

    @classmethod
    def from_saved(cls, saved: Dict[str, Any]) -> "ASDSettings":
        """Settings as stored in a checkpoint; a setting added since takes the value those runs had."""
        return cls(**{**_SETTINGS_BEFORE_THEY_EXISTED, **saved})


#: Instance classes per cluster by default: an overclustering (IIC, SeLa, SwAV use many more
#: prototypes than classes), so each instance class can stay pure.
INSTANCES_PER_CLUSTER = 10
#: Cap of the default ``n_l`` (the transition map's n_l x n_l problems stay within docs/SCALE.md's
#: budgets); never below the paper's ``4k``.
MAX_DEFAULT_INSTANCES = 4000


#: ``asd_draw_factor: auto``: candidates per entry, when the pool holds that many.
AUTO_DRAW_FACTOR = 4


def resolve_draw_factor(value: Any, num_samples: Optional[int], num_entries: int, selects: bool = True) -> int:
    """``asd_draw_factor`` as a run uses it: an integer as given; ``auto`` as ``min(4, N // (m n_l))``, at least 1.

    Args:
        value: The key's value, an integer or ``"auto"``.
        num_samples: Pool size ``N``, or None where the pool is not known (then ``auto`` is 4).
        num_entries: ``m * n_l``, images placed per round.
        selects: Whether the run's draw can select candidates (uniform sampler, OT, slot labels);
            ``auto`` is 1 where it cannot.
    """
    if value != "auto":
        return int(value)
    if not selects:
        return 1
    if num_samples is None:
        return AUTO_DRAW_FACTOR
    return max(1, min(AUTO_DRAW_FACTOR, int(num_samples) // max(1, int(num_entries))))


def default_num_instances(num_clusters: int, num_samples: Optional[int] = None) -> int:
    """The default ``n_l`` for ``k`` clusters and ``N`` pool images: ``max(4k, min(10k, 4000, N // 2))``.

    ``10k`` instance classes up to ``k = 400``, beyond that 4,000, and never more
    than half the pool (a small folder keeps room to select among candidates),
    but always at least the paper's ``4k``.
    """
    k = int(num_clusters)
    cap = MAX_DEFAULT_INSTANCES if num_samples is None else min(MAX_DEFAULT_INSTANCES, int(num_samples) // 2)
    return max(4 * k, min(INSTANCES_PER_CLUSTER * k, cap))


def _no_fit() -> Dict[str, Any]:
    """The re-clustering of a fixed (random) map: nothing to compute."""
    return {}


def _cluster_pool(method: str, features: np.ndarray, k: int, seed: int,
                  previous: Optional[np.ndarray]) -> Dict[str, Any]:
    """The features map's re-clustering (module level: it may run in the background worker)."""
    return {"pool_clusters": cluster_features(method, features, k, seed, previous=previous)}


def _fit_mapper(mapper_state: Dict[str, Any], similarity: np.ndarray,
                start: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """The transition map's re-clustering: a mapper in ``mapper_state`` fitted on ``similarity``.

    Module level, on copies: it may run in the background worker.

    Args:
        mapper_state: The current mapper's state.
        similarity: ``(n_l, n_l)`` transition similarity.
        start: A partition of the instance classes to start from instead of the current
            medoids (the given clustering's, :meth:`ClusterLabelBuilder.given_slot_partition`):
            the fit starts from its medoids and matches its ids to it. Without transitions
            nothing is fitted and the current map stays as it was.
    """
    mapper = InstanceClusterMapper(
        mapper_state["num_clusters"], mapper_state["seed"], max_iter=mapper_state["max_iter"],
        method=mapper_state["method"], init=mapper_state["init"], distance=mapper_state["distance"],
    )
    if start is None:
        mapper.load_state_dict(mapper_state)
        mapper.fit(similarity)
        return {"mapper": mapper.state_dict()}
    mapper.load_state_dict({**mapper_state, "mapping": np.asarray(start, dtype=np.int64), "medoids": None})
    mapper.fit(similarity)
    if mapper.num_fits == int(mapper_state.get("num_fits", 0)):
        return {"mapper": mapper_state}  # no transitions yet: the given partition is not a map of the chain's
    return {"mapper": mapper.state_dict()}


class ClusterLabelBuilder:
    """Keeps ASD's slots, transitions and instance->cluster map, and builds cluster labels.

    Args:
        settings: See :class:`ASDSettings`.
        num_samples: Size of the unlabelled pool ``N``; must be >= ``n_l``.
    """

    #: Where :meth:`start_recluster` runs the fit (:class:`.background.BackgroundJob`'s ``kind``).
    background_kind = "process"

    def __init__(self, settings: ASDSettings, num_samples: int) -> None:
        if settings.num_candidates > num_samples:
            raise ValueError(
                f"asd_num_instances x asd_instances_per_slot x asd_draw_factor ({settings.num_instances} x "
                f"{settings.instances_per_slot} x {settings.draw_factor}) must not exceed the number of unlabelled "
                f"samples ({num_samples}); lower asd_draw_factor or asd_num_instances"
            )
        self.settings = settings
        self.num_samples = int(num_samples)
        n_l, seed = settings.num_instances, settings.seed
        self.uniform_sampler = NonRepeatingSampler(num_samples, seed)
        self.prototype_sampler = PrototypeNeighbourSampler(num_samples, seed + 1)
        self.tracker = ClassTransitionTracker(num_samples, n_l, settings.window)
        self.mapper = InstanceClusterMapper(settings.num_clusters, seed, distance=settings.kmedoids_distance)
        self.slots: Optional[np.ndarray] = None
        self.rounds = 0
        self._random_map: Optional[np.ndarray] = None
        self._pool_clusters: Optional[np.ndarray] = None  # asd_mapping: features
        # A given clustering of the pool (asd_init_assignments), and whether it still labels the entries.
        self._given: Optional[np.ndarray] = None
        self._given_labels_on = False
        # A re-clustering running in the background: (iteration to apply it at, job).
        self._pending: Optional[Tuple[int, Any]] = None
        if settings.mapping == "random":
            self._random_map = random_mapping(n_l, settings.num_clusters, np.random.default_rng(seed + 2))

    # ---- sampling and alignment ---------------------------------------------
    @property
    def needs_features(self) -> bool:
        """Whether :meth:`draw` needs features of the whole pool (prototype sampling)."""
        return self.settings.sampler == "prototype"

    def draw(self, features: Optional[np.ndarray] = None) -> np.ndarray:
        """The next ``c * m * n_l`` distinct instances, in draw order (not yet in slots).

        Args:
            features: ``(N, d)`` features of the whole pool, needed by the prototype sampler.
        """
        n_l = self.settings.num_instances
        if self.settings.sampler == "uniform":
            return self.uniform_sampler.draw(self.settings.num_candidates)
        if features is None or len(features) != self.num_samples:
            raise ValueError(
                f"asd_sampler: prototype needs features of all {self.num_samples} unlabelled samples"
            )
        return self.prototype_sampler.draw(n_l, features)

    def place(self, instances: np.ndarray, log_probs: Optional[np.ndarray] = None) -> np.ndarray:
        """Put newly drawn instances into slots and make them current.

        With ``alignment="ot"`` and a previous round, the instances go to slots
        by :func:`align_to_slots` on ``C[i, j] = -log p(j | x_i)`` (the instance
        head's log-softmax), so slot ``j`` keeps its meaning. With ``m =
        instances_per_slot`` images per slot, each slot is offered ``m`` times
        (the cost repeated ``m`` times along the slots): entry ``c * n_l + j``
        is slot ``j``'s ``c``-th copy, and every slot receives exactly ``m``
        instances. Otherwise entry ``e`` takes the ``e``-th instance. With
        ``draw_factor`` ``c > 1`` the ``c`` times more candidates than entries are
        not all placed: each entry takes the candidate :func:`select_for_slots`
        chooses for it (before any previous round: the first ``m * n_l``).

        Cluster labels (``redraw_labels``): with ``"slot"`` a new instance
        inherits the cluster of its slot. The placement is balanced, so when
        the new draw holds fewer images of a class than the old one, some
        instances must take slots of another class. With ``"posterior"`` (``m =
        1`` only), once a map exists, the slot of instance ``i`` is relabelled
        ``argmax_c q(c | x_i)`` (:func:`.mapping.cluster_posterior`), whatever
        slot it took.

        Args:
            instances: ``(c * m * n_l,)`` distinct pool indices from :meth:`draw`.
            log_probs: ``(c * m * n_l, n_l)`` instance-head log-softmax on those instances
                (rows follow ``instances``); required after the first round for
                OT, and for ``"posterior"`` labels once a map exists.

        Returns:
            The new ``slots`` array (instance of each entry).
        """
        instances = np.asarray(instances, dtype=np.int64)
        n_l, m = self.settings.num_instances, self.settings.instances_per_slot
        entries, drawn = m * n_l, self.settings.num_candidates
        if instances.shape != (drawn,) or len(np.unique(instances)) != drawn:
            raise ValueError(f"instances must be {drawn} distinct pool indices, got shape {instances.shape}")
        if self.needs_log_probs and log_probs is None:
            raise ValueError(
                f"asd_alignment: {self.settings.alignment} with asd_redraw_labels: "
                f"{self.settings.redraw_labels} needs the instance head's log-probabilities of the new instances"
            )
        entry_of_instance = np.arange(entries)
        if self.settings.alignment == "ot" and self.slots is not None:
            cost = instance_slot_cost(log_probs)
            cost = np.tile(cost, (1, m)) if m > 1 else cost
            if drawn > entries:
                instances = instances[select_for_slots(cost, reg=self.settings.ot_reg)]
            else:
                entry_of_instance = align_to_slots(cost, reg=self.settings.ot_reg)
        elif drawn > entries:
            instances = instances[:entries]
        slots = np.empty(entries, dtype=np.int64)
        slots[entry_of_instance] = instances
        if self.settings.redraw_labels == "posterior" and self.mapper.mapping is not None:
            posterior = cluster_posterior(log_probs, self.mapper.mapping, self.settings.num_clusters)
            self.mapper.reassign(entry_of_instance, posterior.argmax(axis=1))
        self.slots = slots
        self.rounds += 1
        return slots.copy()

    @property
    def needs_log_probs(self) -> bool:
        """Whether the next :meth:`place` needs the instance head's log-probabilities of the new instances."""
        if self.slots is None:
            return False
        return self.settings.alignment == "ot" or (
            self.settings.redraw_labels == "posterior" and self.mapper.mapping is not None
        )

    # ---- transitions and mapping --------------------------------------------
    def observe(self, sample_idx: np.ndarray, slot_predictions: np.ndarray) -> int:
        """Record the instance head's argmax on a batch of unlabelled samples (CTT)."""
        return self.tracker.update(sample_idx, slot_predictions)

    def observe_views(self, weak_predictions: np.ndarray, strong_predictions: np.ndarray) -> int:
        """Record the instance head's argmax moving from each image's weak view to its strong view."""
        return self.tracker.record(weak_predictions, strong_predictions)

    @property
    def needs_features_to_recluster(self) -> bool:
        """Whether :meth:`recluster` needs features of the whole pool (``mapping="features"``)."""
        return self.settings.mapping == "features"

    def recluster(self, features: Optional[np.ndarray] = None) -> bool:
        """Rebuild the map: k-Medoids on the transition similarity, or k-means on pool features.

        The same computation as :meth:`start_recluster` then :meth:`finish_recluster`,
        run at once in this process.

        Args:
            features: ``(N, d)`` features of the whole pool, needed with ``mapping="features"``.

        Returns:
            True once a mapping exists.
        """
        fn, args = self._recluster_work(features)
        return self._apply_recluster(fn(*args))

    def start_recluster(self, apply_at: int, features: Optional[np.ndarray] = None) -> None:
        """Start a re-clustering on a snapshot of the current state, in the background worker.

        What the fit reads (the transition similarity, the current map and its
        medoids, or the pool's features and previous groups) is copied now; the
        caller carries on training and calls :meth:`finish_recluster` at step
        ``apply_at``. The map is the one :meth:`recluster` would have computed now
        (the same function on the same inputs), whatever the worker's speed (the
        finish waits for it if needed).

        Args:
            apply_at: The iteration at which the caller will apply the result (kept in
                checkpoints, so a resumed run applies it at the same step).
            features: ``(N, d)`` features of the whole pool, needed with ``mapping="features"``;
                not copied: the caller must not modify them afterwards.
        """
        if self._pending is not None:
            raise RuntimeError(f"asd: a re-clustering is already pending (to apply at iteration {self._pending[0]})")
        fn, args = self._recluster_work(features)
        job = FinishedJob(fn(*args)) if fn is _no_fit else BackgroundJob(fn, *args, kind=self.background_kind)
        self._pending = (int(apply_at), job)

    @property
    def pending_recluster_at(self) -> Optional[int]:
        """The iteration at which the pending re-clustering is to be applied, or None."""
        return None if self._pending is None else self._pending[0]

    def finish_recluster(self) -> bool:
        """Wait for the pending re-clustering and make its map current.

        Returns:
            True once a mapping exists.
        """
        if self._pending is None:
            raise RuntimeError("asd: finish_recluster without a pending re-clustering")
        _, job = self._pending
        self._pending = None
        try:
            result = job.result()
        except BrokenProcessPool as error:
            raise RuntimeError("asd: the background re-clustering worker died (out of memory?); "
                               "run with asd_recluster_lag: 0 to re-cluster in the training process") from error
        return self._apply_recluster(result)

    def _recluster_work(self, features: Optional[np.ndarray]) -> Tuple[Callable[..., Dict[str, Any]], tuple]:
        """Snapshot what a re-clustering reads: a module-level function and its arguments.

        The function touches nothing of ``self`` (it may run in the background
        worker while training goes on). Its result is a dict of plain values
        (what :meth:`_apply_recluster` installs; checkpoints store it while pending).
        """
        if self._random_map is not None:
            return _no_fit, ()
        settings = self.settings
        if settings.mapping == "features":
            if features is None or len(features) != self.num_samples:
                raise ValueError(f"asd_mapping: features needs features of all {self.num_samples} unlabelled samples")
            previous = None if self._pool_clusters is None else self._pool_clusters.copy()
            if self._given_labels_on:
                previous = self._given.copy()  # a refinement of the given groups, ids matched to them
            return _cluster_pool, (
                settings.feature_clustering, features, settings.num_clusters, settings.seed, previous,
            )
        # New arrays: the tracker and the mapper move on.
        start = self.given_slot_partition() if self._given_labels_on else None
        return _fit_mapper, (self.mapper.state_dict(), self.tracker.similarity(), start)

    def _apply_recluster(self, result: Dict[str, Any]) -> bool:
        """Install a re-clustering's result; True once a mapping exists."""
        if "pool_clusters" in result:
            self._pool_clusters = np.asarray(result["pool_clusters"], dtype=np.int64)
        if "mapper" in result:
            self.mapper.load_state_dict(result["mapper"])
        if self._random_map is not None or self.settings.mapping == "features":
            return True
        return self.mapper.mapping is not None

    @property
    def slot_clusters(self) -> Optional[np.ndarray]:
        """Cluster id of each slot in the chain's own map, ``(n_l,)``, or None while no mapping exists (warm-up).

        With ``mapping="features"`` the cluster of each entry's image, ``(m * n_l,)``.
        A given clustering (:meth:`start_from`) is not a map: this stays the chain's own
        (the label gate judges it) while the given labels serve.
        """
        if self._random_map is not None:
            return self._random_map.copy()
        if self.settings.mapping == "features":
            return None if self._pool_clusters is None or self.slots is None else self._pool_clusters[self.slots]
        return self.mapper.mapping

    @property
    def entry_clusters(self) -> Optional[np.ndarray]:
        """Cluster id of each entry's image, ``(m * n_l,)``, or None while no mapping exists (warm-up).

        While a given clustering serves (:meth:`start_from` until :meth:`hand_over`), each
        entry's image's given cluster.
        """
        if self._given_labels_on and self.slots is not None:
            return self._given[self.slots]
        clusters = self.slot_clusters
        if clusters is None or self.settings.mapping == "features":
            return clusters  # the features map labels each image (entry) already
        return np.tile(clusters, self.settings.instances_per_slot)

    def slots_of_entries(self, entry_idx: np.ndarray) -> np.ndarray:
        """The instance class (slot, the instance head's target) of each entry: ``e mod n_l``."""
        return np.asarray(entry_idx, dtype=np.int64) % self.settings.num_instances

    def labels_for_entries(self, entry_idx: np.ndarray) -> Optional[np.ndarray]:
        """Cluster labels of the images in the given entries (None during warm-up)."""
        clusters = self.entry_clusters
        return None if clusters is None else clusters[np.asarray(entry_idx, dtype=np.int64)]

    # ---- a given clustering to start from (asd_init_assignments) ----------------
    def start_from(self, pool_clusters: np.ndarray) -> None:
        """Start from a given clustering of the pool instead of cold.

        Until :meth:`hand_over`: each entry's cluster label is its image's given
        cluster (:attr:`entry_clusters`), so the learner trains on labels from
        the first step, and every re-clustering refines the given clustering:
        with ``mapping="ctt"`` the k-Medoids fit starts from the medoids of the
        given partition of the instance classes (:meth:`given_slot_partition`)
        and its ids are matched to it; with ``mapping="features"`` the pool's
        clustering starts from the given groups and its ids are matched to them.
        The maps made meanwhile are the chain's own (:attr:`slot_clusters`), for
        the label gate to judge; after the hand-over the fits warm-start from the
        previous map as in a cold run.

        Args:
            pool_clusters: ``(N,)`` cluster id of each pool image, in ``[0, k)``.
        """
        clusters = np.asarray(pool_clusters)
        k = self.settings.num_clusters
        if clusters.shape != (self.num_samples,) or not np.issubdtype(clusters.dtype, np.integer):
            raise ValueError(f"a given clustering must hold one integer cluster id per pool image "
                             f"({self.num_samples}), got shape {clusters.shape} and type {clusters.dtype}")
        if clusters.size and (clusters.min() < 0 or clusters.max() >= k):
            raise ValueError(f"a given clustering's ids must lie in [0, {k})")
        if self.settings.mapping == "random":
            raise ValueError("asd_mapping: random has no map to refine a given clustering with")
        self._given = clusters.astype(np.int64)
        self._given_labels_on = True

    @property
    def given_labels_on(self) -> bool:
        """Whether the given clustering labels the entries (from :meth:`start_from` until :meth:`hand_over`)."""
        return self._given_labels_on

    def hand_over(self) -> None:
        """From now on the chain's own map labels the entries; the given clustering no longer serves."""
        self._given_labels_on = False

    def given_slot_partition(self) -> np.ndarray:
        """The given cluster of each instance class, ``(n_l,)``: that of the image in its slot.

        With ``m`` images per slot, the cluster most of them are given (ties: the lowest id).
        """
        if self._given is None or self.slots is None:
            raise RuntimeError("asd: given_slot_partition needs a given clustering and a sample set")
        n_l, k = self.settings.num_instances, self.settings.num_clusters
        counts = np.zeros((n_l, k), dtype=np.int64)
        np.add.at(counts, (self.slots_of_entries(np.arange(self.slots.size)), self._given[self.slots]), 1)
        return counts.argmax(axis=1).astype(np.int64)

    # ---- checkpoints ----------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """The whole state, with a pending re-clustering's result (waited for) and its step."""
        pending = None
        if self._pending is not None:
            # The result, not the snapshot: the same few arrays a finished fit installs,
            # where the snapshot (an n_l x n_l similarity) could not be rebuilt from the
            # tracker after it moved on.
            pending = {"apply_at": self._pending[0], "result": self._pending[1].result()}
        # The given clustering is not in _current_state: every rank reads it from the file, so a
        # redraw's broadcast need not carry N ids.
        given = None if self._given is None else {"clusters": self._given.copy(), "labels_on": self._given_labels_on}
        return {**self._current_state(), "pending_recluster": pending, "given": given}

    def _current_state(self) -> Dict[str, Any]:
        """The state without the pending re-clustering (what a redraw broadcasts)."""
        return {
            "settings": asdict(self.settings),
            "num_samples": self.num_samples,
            "uniform_sampler": self.uniform_sampler.state_dict(),
            "prototype_sampler": self.prototype_sampler.state_dict(),
            "tracker": self.tracker.state_dict(),
            "mapper": self.mapper.state_dict(),
            "slots": None if self.slots is None else self.slots.copy(),
            "rounds": self.rounds,
            "random_map": None if self._random_map is None else self._random_map.copy(),
            "pool_clusters": None if self._pool_clusters is None else self._pool_clusters.copy(),
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        try:
            saved = ASDSettings.from_saved(state["settings"])
        except (TypeError, ValueError):  # a key or value this version does not know
            saved = None
        if saved != self.settings or state["num_samples"] != self.num_samples:
            raise ValueError(
                "the checkpoint's ASD settings differ from this run's: "
                f"{state['settings']} (N={state['num_samples']}) vs {asdict(self.settings)} (N={self.num_samples})"
            )
        self.uniform_sampler.load_state_dict(state["uniform_sampler"])
        self.prototype_sampler.load_state_dict(state["prototype_sampler"])
        self.tracker.load_state_dict(state["tracker"])
        self.mapper.load_state_dict(state["mapper"])
        self.slots = None if state["slots"] is None else np.asarray(state["slots"], dtype=np.int64)
        self.rounds = int(state["rounds"])
        self._random_map = None if state["random_map"] is None else np.asarray(state["random_map"])
        pool_clusters = state.get("pool_clusters")  # absent from states written before the option
        self._pool_clusters = None if pool_clusters is None else np.asarray(pool_clusters, dtype=np.int64)
        pending = state.get("pending_recluster")  # absent from states written before asd_recluster_lag
        self._pending = None if pending is None else (int(pending["apply_at"]), FinishedJob(pending["result"]))
        if "given" in state:  # absent from a broadcast (.distributed) and from states written before the option
            given = state["given"]
            self._given = None if given is None else np.asarray(given["clusters"], dtype=np.int64)
            self._given_labels_on = False if given is None else bool(given["labels_on"])
