"""Does the learner carry its map's labels as far as its own features allow? Offline on finished ASD runs.

    python benchmarks/investigations/asd_learner_vs_map_offline.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/mnist5k_asd_learner_vs_map_offline.json

For each finished ASD run (its ``latest_model.pth``, the raw model ASD's stages
read) this labels every pool image through the map, ``y_i = map(argmax_j
instance_logits_ij)``, the labels the chain gives, and scores on the
validation part (labels read only to score; nothing is chosen here):

* ``map``: those labels themselves;
* ``learner``: the learner's own classifier (the raw model's, not USB's EMA);
* ``probe``: a logistic regression of the unit backbone features on the map's
  labels of the training part (the pool less the validation part);
* ``knn``: a 10-nearest-neighbour (cosine) vote over the same labels.

``probe`` and ``knn`` above ``learner`` mean the final features carry the map's
labels further than the learner's training took its head: what the learner
trains on after the switch-on is then a lever, not the map.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from asd_instance_stage import ctt_mapper_state, run_pool_outputs  # noqa: E402
from asd_map_refit_offline import offline_main  # noqa: E402

NEIGHBOURS = 10


def score_run(run_dir: str) -> Dict[str, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    from usb_asd.core.checkpoint_codec import decode
    from usb_asd.metrics import cluster_accuracy

    run = run_pool_outputs(run_dir)
    targets, val = run["targets"], run["val"]
    mapper = ctt_mapper_state(decode(run["checkpoint"]["asd"]))
    if mapper is None:
        raise SystemExit(f"{run_dir}: no class-transition map in the checkpoint (asd_mapping: ctt runs only)")
    labels = np.asarray(mapper["mapping"])[run["instance"]]
    train = np.setdiff1d(np.arange(len(targets)), val)
    unit = run["features"] / np.linalg.norm(run["features"], axis=1, keepdims=True)
    probe = LogisticRegression(max_iter=2000).fit(unit[train], labels[train]).predict(unit[val])
    knn = KNeighborsClassifier(NEIGHBOURS, metric="cosine").fit(unit[train], labels[train]).predict(unit[val])
    yv = targets[val]
    return {"run": os.path.basename(os.path.normpath(run_dir)), "algorithm": run["args"].algorithm,
            "seed": int(run["args"].seed), "prototype_update": getattr(run["args"], "asd_prototype_update", None),
            "val_acc": {"map": cluster_accuracy(yv, labels[val]), "learner": cluster_accuracy(yv, run["learner"][val]),
                        "probe": cluster_accuracy(yv, probe), "knn": cluster_accuracy(yv, knn)}}


def describe(row: Dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in row["val_acc"].items())


def main(argv: List[str] | None = None) -> int:
    return offline_main(__doc__.splitlines()[0], score_run, describe, "learner vs map", __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
