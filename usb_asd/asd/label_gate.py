"""When the learner starts training on cluster labels: once the map can be trusted.

ASD's learner trains on the cluster labels of the sampled instances, which
are only as good as the instance->cluster map. Early maps come from random
features and change from one re-clustering to the next; a map that the
transitions have settled on stays. The gate switches the labels on at the
first re-clustering whose map passes the rule (``asd_switch_rule``), and at
the latest at ``cap`` steps, whatever the maps do. Once on, the labels stay on.

* ``consecutive``: the map agrees with the previous one,

  .. math:: \\operatorname{ARI}(\\text{map}_t, \\text{map}_{t-1}) \\ge \\tau.

  Each fit warm-starts from the previous medoids, so consecutive maps agree
  partly by construction: a map can be stable and still wrong.
* ``cold_fit``: the map agrees with the previous one and with a cold
  k-Medoids fit of the same transitions
  (:meth:`.mapping.InstanceClusterMapper.compare_cold`),

  .. math:: \\min\\big(\\operatorname{ARI}(\\text{map}_t, \\text{map}_{t-1}),\\;
            \\operatorname{ARI}(\\text{map}_t, \\operatorname{KMedoids}_{\\text{cold}}(D_t))\\big) \\ge \\tau:

  stable, and singled out by the transitions whatever the fits started from.
  (The first map is itself a cold fit, so the cold agreement alone would pass
  it trivially; the previous map is what makes the check bite.)
* ``held``: consecutive maps agree at each of the last ``h`` re-clusterings,

  .. math:: \min_{j=0}^{h-1} \operatorname{ARI}(\text{map}_{t-j}, \text{map}_{t-j-1}) \ge \tau,

  with ``h = ceil(asd_window / asd_cluster_iter)``: agreement held for one
  whole window of transitions, so the first and the last map of the chain are
  fitted on (nearly) disjoint transitions. Consecutive maps re-clustered every
  ``asd_cluster_iter`` steps share most of their window, and a single spike of
  their agreement can pass ``consecutive`` on a map that does not last (both
  cold-start traps of docs/EXPERIMENT_LOG.md, 2026-12-07, switched on so).

Whatever the rule, the gate also notes when ``consecutive`` alone would have
switched on (``consecutive_on_since``, never later than ``on_since``): a run
with the ``cold_fit`` rule says whether a run with the default would have made
the same decision, and so been the same run.

The adjusted Rand index runs over the ``n_l`` instance classes: label-free and
blind to cluster ids. Plain numpy; nothing here imports semilearn.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
from sklearn.metrics import adjusted_rand_score

__all__ = ["MapAgreementGate", "SWITCH_RULES", "held_re_clusterings", "rule_agreement"]

#: What a map must agree with for the labels to switch on (``asd_switch_rule``).
SWITCH_RULES = ("consecutive", "cold_fit", "held")


def held_re_clusterings(window: int, cluster_iter: int) -> int:
    """``h = ceil(window / cluster_iter)``: the re-clusterings in one window of transitions (rule ``held``).

    Args:
        window: ``asd_window``, the steps of transitions a map is fitted on.
        cluster_iter: ``asd_cluster_iter``, the steps between re-clusterings.
    """
    return max(1, -(-int(window) // max(1, int(cluster_iter))))


def rule_agreement(rule: str, consecutive: Optional[float], cold: Optional[float]) -> Optional[float]:
    """The agreement ``rule`` compares with the threshold, or None where it has none yet.

    Args:
        rule: One of :data:`SWITCH_RULES`.
        consecutive: ARI of the map with the previous one (None for the first map).
        cold: ARI of the map with a cold fit of the same transitions (None where none was made).

    Returns:
        ``consecutive`` for ``consecutive``; ``min(consecutive, cold)`` for ``cold_fit``.

    Raises:
        ValueError: for ``held``, which reads the last ``h`` maps' agreements
            (:attr:`MapAgreementGate.decisive_agreement`), not one map's.
    """
    if rule == "consecutive":
        return consecutive
    if rule == "cold_fit":
        return None if consecutive is None or cold is None else min(consecutive, cold)
    raise ValueError(f"rule_agreement reads one map's agreements; {rule!r} needs the gate's history")


class MapAgreementGate:
    """Switches cluster labels on when a map passes the switch rule, or at a cap.

    Args:
        threshold: ``tau``; above 1 the maps never suffice and the labels switch on at ``cap``.
        cap: Steps after which the labels are on whatever the maps (the latest switch-on).
        rule: One of :data:`SWITCH_RULES`.
        hold: Rule ``held``: the number ``h`` of consecutive agreements in a row that must pass (ignored,
            i.e. 1, under the other rules).
    """

    def __init__(self, threshold: float, cap: int, rule: str = "consecutive", hold: int = 1) -> None:
        if not 0.0 <= threshold:
            raise ValueError(f"asd_switch_ari must be >= 0, got {threshold}")
        if cap < 0:
            raise ValueError(f"asd_warmup_iter must be >= 0, got {cap}")
        if rule not in SWITCH_RULES:
            raise ValueError(f"asd_switch_rule must be one of {', '.join(SWITCH_RULES)}, got {rule!r}")
        if hold < 1:
            raise ValueError(f"the held rule's number of re-clusterings must be >= 1, got {hold}")
        self.threshold = float(threshold)
        self.cap = int(cap)
        self.rule = rule
        #: Rule ``held``: how many consecutive agreements in a row must pass (1 for the other rules).
        self.hold = int(hold) if rule == "held" else 1
        self._recent: list = []  # the last ``hold`` consecutive agreements, oldest first
        self.on_since: Optional[int] = None
        #: The step at which rule ``consecutive`` would have switched on (equal to ``on_since`` under that rule).
        self.consecutive_on_since: Optional[int] = None
        self.last_agreement: Optional[float] = None
        self.last_cold_agreement: Optional[float] = None
        self._previous: Optional[np.ndarray] = None

    @property
    def needs_cold_fit(self) -> bool:
        """Whether the next :meth:`observe_map` needs ``cold_agreement`` (rule ``cold_fit``, labels still off)."""
        return self.rule == "cold_fit" and self.on_since is None

    @property
    def decisive_agreement(self) -> Optional[float]:
        """The agreement the rule reads (:func:`rule_agreement` of the last map; under ``held`` the lowest of
        the last ``hold`` agreements, None until there are that many)."""
        if self.rule == "held":
            return min(self._recent) if len(self._recent) == self.hold else None
        return rule_agreement(self.rule, self.last_agreement, self.last_cold_agreement)

    def observe_map(self, step: int, mapping: Optional[np.ndarray],
                    cold_agreement: Optional[float] = None) -> bool:
        """Note the map installed after ``step`` steps; True when the labels are (now) on.

        Args:
            step: Steps done.
            mapping: ``(n_l,)`` cluster id of each instance class, or None (no map yet).
            cold_agreement: ARI of ``mapping`` with a cold fit of the same transitions
                (rule ``cold_fit``; None where none was made).
        """
        if mapping is not None:
            mapping = np.asarray(mapping, dtype=np.int64).copy()
            self.last_cold_agreement = None if cold_agreement is None else float(cold_agreement)
            if self._previous is not None and self._previous.shape == mapping.shape:
                self.last_agreement = float(adjusted_rand_score(self._previous, mapping))
                self._recent = (self._recent + [self.last_agreement])[-self.hold:]
            if (self.consecutive_on_since is None and self.last_agreement is not None
                    and self.last_agreement >= self.threshold):
                self.consecutive_on_since = int(step)
            agreement = self.decisive_agreement
            if self.on_since is None and agreement is not None and agreement >= self.threshold:
                self.on_since = int(step)
            self._previous = mapping
        if self.on_since is None and self.is_on(step):
            self.on_since = int(step)
            if self.consecutive_on_since is None:  # the cap binds the consecutive rule too
                self.consecutive_on_since = int(step)
        return self.is_on(step)

    def is_on(self, step: int) -> bool:
        """Whether the labels are on after ``step`` steps: switched on before, or a map exists and the cap is reached."""
        return self.on_since is not None or (step >= self.cap and self._previous is not None)

    def state_dict(self) -> Dict[str, Any]:
        return {"threshold": self.threshold, "cap": self.cap, "rule": self.rule, "on_since": self.on_since,
                "consecutive_on_since": self.consecutive_on_since,
                "last_agreement": self.last_agreement, "last_cold_agreement": self.last_cold_agreement,
                "recent": list(self._recent),
                "previous": None if self._previous is None else self._previous.copy()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.on_since = None if state["on_since"] is None else int(state["on_since"])
        # States from before consecutive_on_since: under rule consecutive it is on_since; otherwise unknown.
        self.consecutive_on_since = state.get(
            "consecutive_on_since", self.on_since if state.get("rule", "consecutive") == "consecutive" else None)
        self.last_agreement = state["last_agreement"]
        self.last_cold_agreement = state.get("last_cold_agreement")  # states from before asd_switch_rule
        self._recent = [float(a) for a in state.get("recent", [])]  # states from before rule held: none kept
        self._previous = None if state["previous"] is None else np.asarray(state["previous"], dtype=np.int64)
