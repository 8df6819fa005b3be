"""The instance->cluster map ``g: {0..n_l-1} -> {0..k-1}`` of ASD's label builder, one class per kind.

``asd_mapping`` picks one from :data:`CLUSTER_MAPS`:

* ``"ctt"`` (:class:`TransitionKMedoidsMap`, the paper's): k-Medoids on the class
  transition similarity ``S`` of :mod:`.transitions` (Duan et al., IEEE TIP 2025,
  arXiv 2509.20976, Sec. III-C), with warm starts and stable ids (:mod:`.mapping`);
* ``"features"`` (:class:`PoolFeatureMap`): each sampled image takes its cluster in a
  clustering of the whole pool's features (:mod:`.feature_clusters`); not the paper's;
* ``"random"`` (:class:`RandomMap`): a fixed balanced random map, the ablation of CTT.

A map's re-clustering is split in two so that it can run in a background worker:
:meth:`ClusterMap.work` snapshots what the fit reads as a module-level function and
its arguments (touching nothing of the map), and :meth:`ClusterMap.apply` installs
the result, a dict of plain values that checkpoints can store.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type

import numpy as np

from .feature_clusters import cluster_features
from .mapping import ColdFitComparison, InstanceClusterMapper, random_mapping

__all__ = ["CLUSTER_MAPS", "ClusterMap", "PoolFeatureMap", "RandomMap", "TransitionKMedoidsMap", "register_map"]

#: ``asd_mapping`` name -> map class.
CLUSTER_MAPS: Dict[str, Type["ClusterMap"]] = {}

Work = Tuple[Callable[..., Dict[str, Any]], tuple]


def register_map(name: str):
    """Class decorator: make a :class:`ClusterMap` available as ``asd_mapping: name``."""

    def register(cls):
        cls.name = name
        CLUSTER_MAPS[name] = cls
        return cls

    return register


def no_fit() -> Dict[str, Any]:
    """The re-clustering of a fixed map: nothing to compute."""
    return {}


class ClusterMap:
    """What the label builder asks of a map.

    Args:
        settings: The builder's :class:`~usb_asd.asd.pipeline.ASDSettings`.
        num_samples: Pool size ``N``.
    """

    name = ""
    #: Whether a re-clustering reads features of the whole pool.
    needs_features = False
    #: Whether a given clustering of the pool can be refined by this map (``asd_init_assignments``).
    refines_given = True
    #: Whether a cold fit can compete with the map's warm-started one (``asd_cold_refit``).
    competes_cold = False

    def __init__(self, settings, num_samples: int) -> None:
        self.settings = settings
        self.num_samples = int(num_samples)

    def work(self, similarity: Callable[[], np.ndarray], features: Optional[np.ndarray],
             given_pool: Optional[np.ndarray], given_slots: Optional[np.ndarray], compete_cold: bool = False) -> Work:
        """The re-clustering as ``(function, arguments)``, on copies of what it reads.

        Args:
            similarity: Returns the ``(n_l, n_l)`` transition similarity (called only by maps that read it).
            features: ``(N, d)`` pool features, for maps with :attr:`needs_features`.
            given_pool: ``(N,)`` a given clustering of the pool while it labels the entries, else None.
            given_slots: ``(n_l,)`` that clustering's cluster of each instance class, else None.
            compete_cold: A cold fit competes with the warm-started one (maps with
                :attr:`competes_cold` only; the others refuse it).
        """
        raise NotImplementedError

    def apply(self, result: Dict[str, Any]) -> bool:
        """Install a re-clustering's result; True once a map exists."""
        raise NotImplementedError

    def compete_cold(self, similarity: Callable[[], np.ndarray]) -> Optional[ColdFitComparison]:
        """Let a cold fit of the current transitions replace the map when it fits them better.

        Returns:
            Both objectives and which fit was kept, where the map compares (:attr:`competes_cold`); else None.
        """
        return None

    def compare_cold(self, similarity: Callable[[], np.ndarray]) -> Optional[ColdFitComparison]:
        """How a cold fit of the current transitions compares with the map, which stays (``asd_switch_rule``).

        Returns:
            The comparison, where the map compares (:attr:`competes_cold`) and has a fit to compare; else None.
        """
        return None

    def slot_clusters(self, slots: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """Cluster of each entry, ``(n_l,)``, given the entries' pool images ``slots``; None before any map."""
        raise NotImplementedError

    def state_dict(self) -> Dict[str, Any]:
        """The map's state as plain values (checkpoints, and the ranks' broadcast)."""
        raise NotImplementedError

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output exactly."""
        raise NotImplementedError


def _refuse_cold_competition(name: str, compete_cold: bool) -> None:
    if compete_cold:
        raise ValueError(f"asd_cold_refit needs asd_mapping: ctt (a k-Medoids map); asd_mapping: {name} has "
                         "no warm start for a cold fit to compete with")


def fit_transition_map(mapper_state: Dict[str, Any], similarity: np.ndarray,
                       start: Optional[np.ndarray] = None, compete_cold: bool = False) -> Dict[str, Any]:
    """Fit a k-Medoids mapper (restored from ``mapper_state``) on ``similarity``; module level for the worker.

    Args:
        mapper_state: The current :class:`~usb_asd.asd.mapping.InstanceClusterMapper` state.
        similarity: ``(n_l, n_l)`` transition similarity.
        start: A partition of the instance classes to start from instead of the current
            medoids (a given clustering's): the fit starts from its medoids and matches its
            ids to it. Without transitions nothing is fitted and the current map stays.
        compete_cold: After the warm-started fit, a cold fit replaces it when its objective is
            lower (:meth:`~usb_asd.asd.mapping.InstanceClusterMapper.compete_cold`; not with ``start``).
    """
    mapper = InstanceClusterMapper(mapper_state["num_clusters"], mapper_state["seed"],
                                   max_iter=mapper_state["max_iter"], distance=mapper_state["distance"])
    if start is None:
        mapper.load_state_dict(mapper_state)
        mapper.fit(similarity, compete_cold=compete_cold)
        return {"mapper": mapper.state_dict()}
    mapper.load_state_dict({**mapper_state, "mapping": np.asarray(start, dtype=np.int64), "medoids": None})
    mapper.fit(similarity)
    if mapper.num_fits == int(mapper_state.get("num_fits", 0)):
        return {"mapper": mapper_state}  # no transitions yet: the given partition is not a map of the chain's
    return {"mapper": mapper.state_dict()}


@register_map("ctt")
class TransitionKMedoidsMap(ClusterMap):
    """k-Medoids of the instance classes on their transition similarity (ASD, Sec. III-C).

    The distance is ``asd_kmedoids_distance`` (:func:`~usb_asd.asd.mapping.spectral_distance`
    of the strongest transitions, or ``1 - S / max S``); see
    :class:`~usb_asd.asd.mapping.InstanceClusterMapper`.
    """

    competes_cold = True

    def __init__(self, settings, num_samples: int) -> None:
        super().__init__(settings, num_samples)
        self.mapper = InstanceClusterMapper(settings.num_clusters, settings.seed, distance=settings.kmedoids_distance)

    def work(self, similarity, features, given_pool, given_slots, compete_cold=False) -> Work:
        # While a given clustering serves, every fit refines its partition: nothing competes.
        compete = compete_cold and given_slots is None
        return fit_transition_map, (self.mapper.state_dict(), similarity(), given_slots, compete)

    def compete_cold(self, similarity):
        return self.mapper.compete_cold(similarity())

    def compare_cold(self, similarity):
        return self.mapper.compare_cold(similarity())

    def apply(self, result: Dict[str, Any]) -> bool:
        if "mapper" in result:
            self.mapper.load_state_dict(result["mapper"])
        return self.mapper.mapping is not None

    def slot_clusters(self, slots):
        return self.mapper.mapping

    def state_dict(self) -> Dict[str, Any]:
        return {"mapper": self.mapper.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.mapper.load_state_dict(state["mapper"])


def cluster_pool(method: str, features: np.ndarray, k: int, seed: int,
                 previous: Optional[np.ndarray]) -> Dict[str, Any]:
    """The features map's re-clustering (module level for the worker)."""
    return {"pool_clusters": cluster_features(method, features, k, seed, previous=previous)}


@register_map("features")
class PoolFeatureMap(ClusterMap):
    """Each entry takes its image's cluster in a clustering of the pool's features (not the paper's).

    ``asd_feature_clustering`` picks the clustering (:mod:`.feature_clusters`); each fit
    warm-starts from the previous groups (or the given clustering's) and matches ids to them.
    """

    needs_features = True

    def __init__(self, settings, num_samples: int) -> None:
        super().__init__(settings, num_samples)
        self.pool_clusters: Optional[np.ndarray] = None

    def work(self, similarity, features, given_pool, given_slots, compete_cold=False) -> Work:
        _refuse_cold_competition(self.name, compete_cold)
        if features is None or len(features) != self.num_samples:
            raise ValueError(f"asd_mapping: features needs features of all {self.num_samples} unlabelled samples")
        previous = None if self.pool_clusters is None else self.pool_clusters.copy()
        if given_pool is not None:
            previous = given_pool.copy()  # a refinement of the given groups, ids matched to them
        s = self.settings
        return cluster_pool, (s.feature_clustering, features, s.num_clusters, s.seed, previous)

    def apply(self, result: Dict[str, Any]) -> bool:
        if "pool_clusters" in result:
            self.pool_clusters = np.asarray(result["pool_clusters"], dtype=np.int64)
        return True

    def slot_clusters(self, slots):
        return None if self.pool_clusters is None or slots is None else self.pool_clusters[slots]

    def state_dict(self) -> Dict[str, Any]:
        return {"pool_clusters": None if self.pool_clusters is None else self.pool_clusters.copy()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        clusters = state["pool_clusters"]
        self.pool_clusters = None if clusters is None else np.asarray(clusters, dtype=np.int64)


@register_map("random")
class RandomMap(ClusterMap):
    """A fixed, balanced random map (:func:`~usb_asd.asd.mapping.random_mapping`): the ablation of CTT."""

    refines_given = False

    def __init__(self, settings, num_samples: int) -> None:
        super().__init__(settings, num_samples)
        rng = np.random.default_rng(settings.seed + 2)
        self.mapping = random_mapping(settings.num_instances, settings.num_clusters, rng)

    def work(self, similarity, features, given_pool, given_slots, compete_cold=False) -> Work:
        _refuse_cold_competition(self.name, compete_cold)
        return no_fit, ()

    def apply(self, result: Dict[str, Any]) -> bool:
        return True

    def slot_clusters(self, slots):
        return self.mapping.copy()

    def state_dict(self) -> Dict[str, Any]:
        return {"mapping": self.mapping.copy()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.mapping = np.asarray(state["mapping"], dtype=np.int64)
