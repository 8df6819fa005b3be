"""What a grid cell saves beyond results.json: its eval history and test predictions.

Each evaluation USB's ``EvaluationHook`` runs (every ``num_eval_iter`` and at
the last iteration) goes through the learner's ``evaluate('eval')``;
:class:`RecordingMixin` wraps it to append the scores to ``history.json`` and
to write the predictions of that evaluation to ``predictions.npz``. Both are
written before USB's ``CheckpointHook`` saves the same iteration, so a cell
resumed from its checkpoint has every evaluation up to it; evaluations past
the checkpoint (of a killed run) are dropped and redone.

The mixin is composed with the learner by ``usb_asd.runner.main(args,
extra_mixins=(RecordingMixin,))``: the cell's run is an ordinary run otherwise.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np

from ..core.atomic_io import write_atomic, write_json_atomic

HISTORY_FILE = "history.json"
PREDICTIONS_FILE = "predictions.npz"

#: ``eval/`` keys kept in the history, with their short names.
HISTORY_KEYS = {"eval/acc": "acc", "eval/nmi": "nmi", "eval/ari": "ari", "eval/top-1-acc": "top1"}


def _finite(value: Any) -> Optional[float]:
    value = float(value)
    return None if math.isnan(value) else value


def read_history(path: str) -> List[Dict[str, Any]]:
    """The evaluations a cell recorded, oldest first (empty when there is no file).

    Args:
        path: A cell's ``history.json``.

    Returns:
        ``[{"it": completed iterations, "acc", "nmi", "ari", "top1"}, ...]``.
    """
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return list(json.load(handle).get("evals", []))


def append_history(path: str, entry: Dict[str, Any]) -> None:
    """Add one evaluation to ``history.json``, replacing any at or after its iteration.

    Entries at or after ``entry["it"]`` come from a run that was killed after
    its last checkpoint; the resumed run redoes them.

    Args:
        path: A cell's ``history.json``.
        entry: ``{"it": ..., scores...}``.
    """
    evals = [e for e in read_history(path) if e["it"] < entry["it"]]
    evals.append(entry)
    write_json_atomic(path, {"evals": evals})


def write_predictions(path: str, y_true: np.ndarray, y_pred: np.ndarray, iteration: int) -> None:
    """Write one evaluation's test predictions, atomically.

    Args:
        path: A cell's ``predictions.npz``.
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Predicted class (ground-truth cells) or cluster (ASD cells) ids ``(n,)``.
        iteration: Completed training iterations at that evaluation.
    """
    write_atomic(
        path,
        lambda handle: np.savez(handle, y_true=np.asarray(y_true, dtype=np.int64),
                                y_pred=np.asarray(y_pred, dtype=np.int64), iteration=np.int64(iteration)),
        suffix=".npz",
    )


def read_predictions(path: str) -> Dict[str, np.ndarray]:
    """``{"y_true", "y_pred", "iteration"}`` of a cell's last evaluation.

    Args:
        path: A cell's ``predictions.npz``.

    Returns:
        The arrays.
    """
    with np.load(path) as data:
        return {key: data[key] for key in ("y_true", "y_pred", "iteration")}


class RecordingMixin:
    """Placed first in a learner's MRO: records each evaluation of the test split."""

    def predict(self, eval_dest: str = "eval", out_key: str = "logits"):
        logits, y_true = super().predict(eval_dest, out_key)
        # Kept for evaluate(): the exact outputs and targets the scores are computed from.
        self._recorded_prediction = (eval_dest, logits, y_true)
        return logits, y_true

    def evaluate(self, eval_dest: str = "eval", out_key: str = "logits", return_logits: bool = False):
        self._recorded_prediction = None
        eval_dict = super().evaluate(eval_dest, out_key, return_logits)
        if eval_dest == "eval" and (not self.distributed or self.rank == 0):
            self._record_evaluation(eval_dict)
        return eval_dict

    def _record_evaluation(self, eval_dict: Dict[str, Any]) -> None:
        # The folder the run writes into now (a new run's incoming folder until its first checkpoint).
        folder = os.path.join(self.save_dir, self.save_name)
        # EvaluationHook runs inside iteration self.it (0-based), after its update;
        # ResultsHook scores a run resumed at its end before the loop, when self.it counts them all.
        done = min(int(self.it) + 1, int(self.num_train_iter))
        entry: Dict[str, Any] = {"it": done}
        for key, short in HISTORY_KEYS.items():
            if key in eval_dict:
                entry[short] = _finite(eval_dict[key])
        append_history(os.path.join(folder, HISTORY_FILE), entry)
        prediction = getattr(self, "_recorded_prediction", None)
        if prediction is not None and prediction[0] == "eval":
            _, logits, y_true = prediction
            write_predictions(os.path.join(folder, PREDICTIONS_FILE), y_true, np.asarray(logits).argmax(axis=1), done)
