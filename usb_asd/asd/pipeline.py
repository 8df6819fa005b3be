"""ASD's label builder: sample, align, track, map -> cluster labels for sampled instances.

Composes the four stages into the state ASD keeps between iterations (Duan et
al., IEEE TIP 2025, arXiv 2509.20976):

1. a sampler (:mod:`.sampling`) draws ``c * n_l`` candidates from the pool;
2. a placement (:mod:`.alignment`) puts one in each of the ``n_l`` entries, so that
   entry (slot, instance class) ``j`` keeps its meaning across rounds;
3. a tracker (:mod:`.transitions`) counts the instance head's class transitions;
4. a map (:mod:`.cluster_maps`) groups the ``n_l`` instance classes into ``k`` clusters.

The state: ``slots[j]``, the pool image of entry ``j``; the map's cluster of each
entry (None during warm-up); optionally a given clustering of the pool
(``asd_init_assignments``) that labels the entries until the chain's own maps take
over (:meth:`ClusterLabelBuilder.start_from`, :meth:`ClusterLabelBuilder.hand_over`).
The labelled batch the SSL learner sees is ``(x_{slots[j]}, cluster of j)``.
Knows nothing of USB: plain arrays in and out.
"""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from .alignment import PLACEMENTS
from .background import BackgroundJob, FinishedJob
from .cluster_maps import CLUSTER_MAPS, no_fit
from .feature_clusters import FEATURE_CLUSTERINGS
from .mapping import DISTANCES, ColdFitComparison
from .neighbour_transitions import FeatureNeighbourBank
from .sampling import SAMPLERS
from .transitions import ClassTransitionTracker

#: The variants' names, from their registries.
SAMPLER_NAMES = tuple(SAMPLERS)
ALIGNMENTS = tuple(PLACEMENTS)
MAPPINGS = tuple(CLUSTER_MAPS)


@dataclass(frozen=True)
class ASDSettings:
    """What the label builder needs to know (each field is an ``asd_*`` config key).

    The method's own:

    Args:
        num_clusters: ``k``.
        num_instances: ``n_l``, instance classes (entries) per round.
        ot_reg: Entropic regularisation of Sinkhorn, relative to the largest cost.
        window: ``N_b``, batches of transitions the tracker remembers.
        draw_factor: ``c``, candidates drawn per entry: a round draws ``c * n_l``
            images and OT keeps, for each entry, the candidate that fits its
            instance class best (:func:`.alignment.select_for_slots`). 1 places
            every drawn image (the paper's draw).
        seed: Seed of every random choice.

    The variants' (each name is registered with its stage):

    Args:
        sampler: A key of :data:`.sampling.SAMPLERS` (``"uniform"``, the default, or ``"prototype"``).
        alignment: A key of :data:`.alignment.PLACEMENTS` (``"ot"``, the default, or ``"none"``).
        mapping: A key of :data:`.cluster_maps.CLUSTER_MAPS` (``"ctt"``, the default,
            ``"features"`` or ``"random"``).
        kmedoids_distance: ``"spectral"`` (default) or ``"linear"``, see :mod:`.mapping` (``ctt`` only).
        feature_clustering: ``"kmeans"`` (default) or ``"spectral"``, see :mod:`.feature_clusters`
            (``features`` only).
    """

    num_clusters: int
    num_instances: int
    sampler: str = "uniform"
    alignment: str = "ot"
    ot_reg: float = 0.05
    window: int = 50
    mapping: str = "ctt"
    kmedoids_distance: str = "spectral"
    feature_clustering: str = "kmeans"
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
            ("asd_sampler", self.sampler, SAMPLER_NAMES),
            ("asd_alignment", self.alignment, ALIGNMENTS),
            ("asd_mapping", self.mapping, MAPPINGS),
            ("asd_kmedoids_distance", self.kmedoids_distance, DISTANCES),
            ("asd_feature_clustering", self.feature_clustering, FEATURE_CLUSTERINGS),
        ):
            if value not in allowed:
                raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
        if self.feature_clustering != "kmeans" and self.mapping != "features":
            raise ValueError(
                f"asd_feature_clustering: {self.feature_clustering} applies to asd_mapping: features only, "
                f"not asd_mapping: {self.mapping}; leave it at kmeans"
            )
        if self.draw_factor < 1:
            raise ValueError(f"asd_draw_factor must be >= 1, got {self.draw_factor}")
        if self.draw_factor > 1 and not self.selects_candidates:
            raise ValueError(
                f"asd_draw_factor: {self.draw_factor} selects candidates by OT: it works with asd_alignment: ot "
                f"and asd_sampler: uniform only; set asd_draw_factor: 1"
            )
        if self.ot_reg <= 0:
            raise ValueError(f"asd_ot_reg must be > 0, got {self.ot_reg}")
        if self.window < 1:
            raise ValueError(f"asd_window must be >= 1, got {self.window}")

    @property
    def selects_candidates(self) -> bool:
        """Whether a round can draw more candidates than entries and keep the best (OT, a feature-free draw)."""
        return PLACEMENTS[self.alignment].selects and not SAMPLERS[self.sampler].needs_features

    @property
    def num_candidates(self) -> int:
        """Images drawn per round, ``c * n_l``."""
        return self.draw_factor * self.num_instances


#: Instance classes per cluster by default: an overclustering (IIC, SeLa, SwAV use many more
#: prototypes than classes), so each instance class can stay pure.
INSTANCES_PER_CLUSTER = 10
#: Cap of the default ``n_l`` (the transition map's n_l x n_l problems stay within docs/SCALE.md's
#: budgets); never below the paper's ``4k``.
MAX_DEFAULT_INSTANCES = 4000


#: ``asd_draw_factor: auto``: candidates per entry, when the pool holds that many.
AUTO_DRAW_FACTOR = 4


def resolve_draw_factor(value: Any, num_samples: Optional[int], num_entries: int, selects: bool = True) -> int:
    """``asd_draw_factor`` as a run uses it: an integer as given; ``auto`` as ``min(4, N // n_l)``, at least 1.

    Args:
        value: The key's value, an integer or ``"auto"``.
        num_samples: Pool size ``N``, or None where the pool is not known (then ``auto`` is 4).
        num_entries: ``n_l``, images placed per round.
        selects: Whether the run's draw can select candidates (:attr:`ASDSettings.selects_candidates`);
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


class ClusterLabelBuilder:
    """Keeps ASD's slots, transitions and instance->cluster map, and builds cluster labels.

    Args:
        settings: See :class:`ASDSettings`.
        num_samples: Size of the unlabelled pool ``N``; must be >= ``c * n_l``.
    """

    #: Where :meth:`start_recluster` runs the fit (:class:`.background.BackgroundJob`'s ``kind``).
    background_kind = "process"

    def __init__(self, settings: ASDSettings, num_samples: int) -> None:
        if settings.num_candidates > num_samples:
            raise ValueError(
                f"asd_num_instances x asd_draw_factor ({settings.num_instances} x {settings.draw_factor}) must not "
                f"exceed the number of unlabelled samples ({num_samples}); lower asd_draw_factor or asd_num_instances"
            )
        self.settings = settings
        self.num_samples = int(num_samples)
        self.sampler = SAMPLERS[settings.sampler](num_samples, settings.seed)
        self.placement = PLACEMENTS[settings.alignment]
        self.tracker = ClassTransitionTracker(num_samples, settings.num_instances, settings.window)
        # Filled only under asd_transitions: neighbours, once the labels are on (empty: a few bytes).
        self.neighbour_bank = FeatureNeighbourBank()
        self.cluster_map = CLUSTER_MAPS[settings.mapping](settings, num_samples)
        self.slots: Optional[np.ndarray] = None
        self.rounds = 0
        # A given clustering of the pool (asd_init_assignments), and whether it still labels the entries.
        self._given: Optional[np.ndarray] = None
        self._given_labels_on = False
        # A re-clustering running in the background: (iteration to apply it at, job).
        self._pending: Optional[Tuple[int, Any]] = None

    # ---- sampling and alignment ---------------------------------------------
    @property
    def needs_features(self) -> bool:
        """Whether :meth:`draw` needs features of the whole pool (prototype sampling)."""
        return self.sampler.needs_features

    def draw(self, features: Optional[np.ndarray] = None) -> np.ndarray:
        """The next ``c * n_l`` distinct candidates, in draw order (not yet in slots).

        Args:
            features: ``(N, d)`` features of the whole pool, for samplers that read them.
        """
        if self.sampler.needs_features and (features is None or len(features) != self.num_samples):
            raise ValueError(
                f"asd_sampler: {self.settings.sampler} needs features of all {self.num_samples} unlabelled samples"
            )
        return self.sampler.draw(self.settings.num_candidates, features)

    def place(self, instances: np.ndarray, log_probs: Optional[np.ndarray] = None) -> np.ndarray:
        """Put newly drawn candidates into the entries and make them current (:class:`.alignment.Placement`).

        Before any previous round, entry ``j`` takes the ``j``-th candidate. A new
        instance inherits the cluster of the entry it is placed in.

        Args:
            instances: ``(c * n_l,)`` distinct pool indices from :meth:`draw`.
            log_probs: ``(c * n_l, n_l)`` instance-head log-softmax on them (rows follow
                ``instances``); required after the first round when :attr:`needs_log_probs`.

        Returns:
            The new ``slots`` array (pool image of each entry).
        """
        instances = np.asarray(instances, dtype=np.int64)
        drawn = self.settings.num_candidates
        if instances.shape != (drawn,) or len(np.unique(instances)) != drawn:
            raise ValueError(f"instances must be {drawn} distinct pool indices, got shape {instances.shape}")
        if self.needs_log_probs and log_probs is None:
            raise ValueError(f"asd_alignment: {self.settings.alignment} needs the instance head's "
                             f"log-probabilities of the new instances")
        first_round = self.slots is None
        self.slots = self.placement.place(instances, None if first_round else log_probs,
                                          self.settings.num_instances, self.settings.ot_reg).astype(np.int64)
        self.rounds += 1
        return self.slots.copy()

    @property
    def needs_log_probs(self) -> bool:
        """Whether the next :meth:`place` needs the instance head's log-probabilities of the new instances."""
        return self.slots is not None and self.placement.needs_log_probs

    # ---- transitions and mapping --------------------------------------------
    def observe(self, sample_idx: np.ndarray, slot_predictions: np.ndarray) -> int:
        """Record the instance head's argmax on a batch of unlabelled samples (between visits, SoC's CTT)."""
        return self.tracker.update(sample_idx, slot_predictions)

    def observe_views(self, weak_predictions: np.ndarray, strong_predictions: np.ndarray) -> int:
        """Record the instance head's argmax moving from each image's weak view to its strong view."""
        return self.tracker.record(weak_predictions, strong_predictions)

    def observe_neighbours(self, features: np.ndarray, predictions: np.ndarray, sample_idx: np.ndarray) -> int:
        """Record moves from each image's instance class to those of its nearest neighbours in feature space
        (:class:`.neighbour_transitions.FeatureNeighbourBank`), then remember the batch."""
        return self.tracker.record(*self.neighbour_bank.observe(features, predictions, sample_idx))

    @property
    def needs_features_to_recluster(self) -> bool:
        """Whether :meth:`recluster` needs features of the whole pool (``mapping="features"``)."""
        return self.cluster_map.needs_features

    def recluster(self, features: Optional[np.ndarray] = None, compete_cold: bool = False) -> bool:
        """Rebuild the map now, in this process (:meth:`start_recluster` then :meth:`finish_recluster`).

        Args:
            features: ``(N, d)`` features of the whole pool, for maps that read them.
            compete_cold: After the warm-started fit, a cold fit of the same transitions
                replaces it when its k-Medoids objective is lower (``asd_cold_refit``;
                :meth:`.mapping.InstanceClusterMapper.compete_cold`).

        Returns:
            True once a mapping exists.
        """
        fn, args = self._recluster_work(features, compete_cold)
        return self.cluster_map.apply(fn(*args))

    def start_recluster(self, apply_at: int, features: Optional[np.ndarray] = None,
                        compete_cold: bool = False) -> None:
        """Start a re-clustering on a snapshot of the current state, in the background worker.

        What the fit reads is copied now; the caller carries on training and calls
        :meth:`finish_recluster` at step ``apply_at``. The map is the one
        :meth:`recluster` would have computed now (the same function on the same
        inputs), whatever the worker's speed (the finish waits for it if needed).

        Args:
            apply_at: The iteration at which the caller will apply the result (kept in
                checkpoints, so a resumed run applies it at the same step).
            features: ``(N, d)`` features of the whole pool, for maps that read them; not
                copied: the caller must not modify them afterwards.
            compete_cold: As in :meth:`recluster`.
        """
        if self._pending is not None:
            raise RuntimeError(f"asd: a re-clustering is already pending (to apply at iteration {self._pending[0]})")
        fn, args = self._recluster_work(features, compete_cold)
        job = FinishedJob(fn(*args)) if fn is no_fit else BackgroundJob(fn, *args, kind=self.background_kind)
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
        return self.cluster_map.apply(result)

    def _recluster_work(self, features: Optional[np.ndarray],
                        compete_cold: bool = False) -> Tuple[Callable[..., Dict[str, Any]], tuple]:
        """The map's re-clustering as a module-level function and its arguments (:meth:`.ClusterMap.work`)."""
        given_on = self._given_labels_on
        return self.cluster_map.work(self.tracker.similarity, features,
                                     self._given if given_on else None,
                                     self.given_slot_partition() if given_on else None,
                                     compete_cold=compete_cold)

    @property
    def slot_clusters(self) -> Optional[np.ndarray]:
        """Cluster id of each entry in the chain's own map, ``(n_l,)``, or None while no mapping exists.

        A given clustering (:meth:`start_from`) is not a map: this stays the chain's own
        (the label gate judges it) while the given labels serve.
        """
        return self.cluster_map.slot_clusters(self.slots)

    @property
    def entry_clusters(self) -> Optional[np.ndarray]:
        """Cluster label of each entry, ``(n_l,)``: the given cluster of its image while a given
        clustering serves (:meth:`start_from` until :meth:`hand_over`), else :attr:`slot_clusters`."""
        if self._given_labels_on and self.slots is not None:
            return self._given[self.slots]
        return self.slot_clusters

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
        the k-Medoids fit starts from the medoids of the given partition of the
        instance classes (:meth:`given_slot_partition`) and matches its ids to it;
        the features map starts from the given groups and matches ids to them.
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
        if not self.cluster_map.refines_given:
            raise ValueError(f"asd_mapping: {self.settings.mapping} has no map to refine a given clustering with")
        self._given = clusters.astype(np.int64)
        self._given_labels_on = True

    @property
    def given_labels_on(self) -> bool:
        """Whether the given clustering labels the entries (from :meth:`start_from` until :meth:`hand_over`)."""
        return self._given_labels_on

    def hand_over(self) -> None:
        """From now on the chain's own map labels the entries; the given clustering no longer serves."""
        self._given_labels_on = False

    def compete_cold(self) -> Optional[ColdFitComparison]:
        """Now, on the current transitions: a cold fit replaces the map when its k-Medoids objective is lower.

        Warm starts only descend, so a map stays in the basin of the fit it started from:
        the first fits' (made while the features were near random) or, with a given
        clustering, its partition's (``asd_cold_refit``).

        Returns:
            Both objectives and whether the cold fit replaced the map, where the map compares (``ctt``); else None.
        """
        return self.cluster_map.compete_cold(self.tracker.similarity)

    def compare_cold(self) -> Optional[ColdFitComparison]:
        """Now, on the current transitions: how a cold fit compares with the map, which stays.

        The label gate's trust check (``asd_switch_rule: cold_fit``): the partition
        agreement of the map and a fresh fit of the same transitions.

        Returns:
            The comparison (``replaced`` False) where the map compares (``ctt``) and has a fit; else None.
        """
        return self.cluster_map.compare_cold(self.tracker.similarity)

    def given_slot_partition(self) -> np.ndarray:
        """The given cluster of each instance class, ``(n_l,)``: that of the image in its entry."""
        if self._given is None or self.slots is None:
            raise RuntimeError("asd: given_slot_partition needs a given clustering and a sample set")
        return self._given[self.slots].copy()

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
        # Like the tracker, the neighbour bank is fed the same batches on every rank: not broadcast.
        return {**self._current_state(), "pending_recluster": pending, "given": given,
                "neighbour_bank": self.neighbour_bank.state_dict()}

    def _current_state(self) -> Dict[str, Any]:
        """The state without the pending re-clustering (what a redraw broadcasts)."""
        return {
            "settings": asdict(self.settings),
            "num_samples": self.num_samples,
            "sampler": self.sampler.state_dict(),
            "tracker": self.tracker.state_dict(),
            "cluster_map": self.cluster_map.state_dict(),
            "slots": None if self.slots is None else self.slots.copy(),
            "rounds": self.rounds,
        }

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        try:
            saved = ASDSettings(**state["settings"])
        except (TypeError, ValueError):  # a key or value this version does not know
            saved = None
        if saved != self.settings or state["num_samples"] != self.num_samples:
            raise ValueError(
                "the checkpoint's ASD settings differ from this run's: "
                f"{state['settings']} (N={state['num_samples']}) vs {asdict(self.settings)} (N={self.num_samples})"
            )
        self.sampler.load_state_dict(state["sampler"])
        self.tracker.load_state_dict(state["tracker"])
        self.cluster_map.load_state_dict(state["cluster_map"])
        self.slots = None if state["slots"] is None else np.asarray(state["slots"], dtype=np.int64)
        self.rounds = int(state["rounds"])
        pending = state["pending_recluster"] if "pending_recluster" in state else None  # absent from a broadcast
        self._pending = None if pending is None else (int(pending["apply_at"]), FinishedJob(pending["result"]))
        if "neighbour_bank" in state:  # absent from a broadcast, and from checkpoints written before it existed
            self.neighbour_bank.load_state_dict(state["neighbour_bank"])
        if "given" in state:  # absent from a broadcast (.distributed)
            given = state["given"]
            self._given = None if given is None else np.asarray(given["clusters"], dtype=np.int64)
            self._given_labels_on = False if given is None else bool(given["labels_on"])
