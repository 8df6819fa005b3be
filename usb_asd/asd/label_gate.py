"""When the learner starts training on cluster labels: once consecutive maps agree.

ASD's learner trains on the cluster labels of the sampled instances, which
are only as good as the instance->cluster map. Early maps come from random
features and change from one re-clustering to the next; a map that the
transitions have settled on stays. The gate switches the labels on at the
first re-clustering whose map agrees with the previous one,

.. math:: \\operatorname{ARI}(\\text{map}_t, \\text{map}_{t-1}) \\ge \\tau,

(the adjusted Rand index over the ``n_l`` instance classes: label-free and
blind to cluster ids), and at the latest at ``cap`` steps, whatever the maps
do. Once on, the labels stay on.

Plain numpy; nothing here imports semilearn.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
from sklearn.metrics import adjusted_rand_score

__all__ = ["MapAgreementGate"]


class MapAgreementGate:
    """Switches cluster labels on when two consecutive maps agree, or at a cap.

    Args:
        threshold: ``tau``; above 1 the maps never suffice and the labels switch on at ``cap``.
        cap: Steps after which the labels are on whatever the maps (the latest switch-on).
    """

    def __init__(self, threshold: float, cap: int) -> None:
        if not 0.0 <= threshold:
            raise ValueError(f"asd_switch_ari must be >= 0, got {threshold}")
        if cap < 0:
            raise ValueError(f"asd_warmup_iter must be >= 0, got {cap}")
        self.threshold = float(threshold)
        self.cap = int(cap)
        self.on_since: Optional[int] = None
        self.last_agreement: Optional[float] = None
        self._previous: Optional[np.ndarray] = None

    def observe_map(self, step: int, mapping: Optional[np.ndarray]) -> bool:
        """Note the map installed after ``step`` steps; True when the labels are (now) on.

        Args:
            step: Steps done.
            mapping: ``(n_l,)`` cluster id of each instance class, or None (no map yet).
        """
        if mapping is not None:
            mapping = np.asarray(mapping, dtype=np.int64).copy()
            if self._previous is not None and self._previous.shape == mapping.shape:
                self.last_agreement = float(adjusted_rand_score(self._previous, mapping))
                if self.on_since is None and self.last_agreement >= self.threshold:
                    self.on_since = int(step)
            self._previous = mapping
        if self.on_since is None and self.is_on(step):
            self.on_since = int(step)
        return self.is_on(step)

    def is_on(self, step: int) -> bool:
        """Whether the labels are on after ``step`` steps: switched on before, or a map exists and the cap is reached."""
        return self.on_since is not None or (step >= self.cap and self._previous is not None)

    def state_dict(self) -> Dict[str, Any]:
        return {"threshold": self.threshold, "cap": self.cap, "on_since": self.on_since,
                "last_agreement": self.last_agreement,
                "previous": None if self._previous is None else self._previous.copy()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.on_since = None if state["on_since"] is None else int(state["on_since"])
        self.last_agreement = state["last_agreement"]
        self._previous = None if state["previous"] is None else np.asarray(state["previous"], dtype=np.int64)
