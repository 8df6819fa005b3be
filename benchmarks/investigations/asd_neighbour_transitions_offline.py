"""Transitions between feature-space neighbours against the view transitions, offline on finished ASD runs.

    python benchmarks/investigations/asd_neighbour_transitions_offline.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/mnist5k_asd_neighbour_transitions_offline.json

For each finished ASD run (``asd_mapping: ctt``; its ``latest_model.pth``) this
reads the raw model's backbone features and instance-head argmax on the whole
pool, and builds two similarities between the ``n_l`` instance classes:

* ``views``: the run's own transition window (weak -> strong view moves);
* ``knn{k}``: each pool image's instance class -> those of its ``k`` nearest
  pool images by cosine of the features (``k`` = 5, 10, 20), counted once over
  the pool (what ``asd_transitions: neighbours`` counts batch by batch against
  its bank).

Each is scored by ``within``, the share of its mass between instance classes of
the same majority class (labels of the validation part), and by the validation
ACC of a cold k-Medoids map of it (the run's distance), beside the instance
classes' purity there (the best a map over them can do) and the run's stored
map. ``knn10_label_agreement`` is the share of pool images' 10 nearest
neighbours that share their class. Labels are read only to score: nothing is
chosen here.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List

import numpy as np

# benchmarks/investigations/ -> benchmarks/ (asd_instance_stage) and the repository root (usb_asd)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from asd_instance_stage import ctt_mapper_state, run_pool_outputs  # noqa: E402
from asd_map_refit_offline import offline_main  # noqa: E402

NEIGHBOURS = (5, 10, 20)


def nearest_neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """``(N, k)``: each image's ``k`` nearest other images by cosine, nearest first."""
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    cosine = unit @ unit.T
    np.fill_diagonal(cosine, -np.inf)
    nearest = np.argpartition(-cosine, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(cosine, nearest, axis=1), axis=1, kind="stable")
    return np.take_along_axis(nearest, order, axis=1)


def neighbour_similarity(nearest: np.ndarray, instance: np.ndarray, num_classes: int) -> np.ndarray:
    """Symmetric counts of ``c_i -> c_j`` over each image's neighbours ``nearest[i]``, zero diagonal."""
    k = nearest.shape[1]
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (np.repeat(instance, k), instance[nearest].ravel()), 1.0)
    counts = counts + counts.T
    np.fill_diagonal(counts, 0.0)
    return counts


def score_run(run_dir: str) -> Dict[str, Any]:
    from usb_asd.asd.mapping import InstanceClusterMapper
    from usb_asd.asd.transitions import ClassTransitionTracker
    from usb_asd.core.checkpoint_codec import decode
    from usb_asd.metrics import cluster_accuracy

    run = run_pool_outputs(run_dir)
    asd = decode(run["checkpoint"]["asd"])
    state = ctt_mapper_state(asd)
    if state is None:
        raise SystemExit(f"{run_dir}: no k-Medoids map in its checkpoint (asd_mapping: ctt runs only)")
    saved = asd["tracker"]
    tracker = ClassTransitionTracker(int(saved["num_samples"]), int(saved["num_classes"]), int(saved["window"]))
    tracker.load_state_dict(saved)
    views = tracker.similarity()
    n, k_clusters = views.shape[0], int(state["num_clusters"])
    targets, val, instance, features = run["targets"], run["val"], run["instance"], run["features"]
    yv, iv = targets[val], instance[val]
    majority = np.full(n, -1)
    for c in np.unique(iv):
        majority[c] = np.bincount(yv[iv == c]).argmax()
    same = (majority[:, None] == majority[None, :]) & (majority[:, None] >= 0)

    def scored(sim: np.ndarray) -> Dict[str, float]:
        mapper = InstanceClusterMapper(k_clusters, int(state["seed"]), int(state["max_iter"]),
                                       state.get("distance", "linear"))
        mapper.fit(sim)
        return {"within": float(sim[same].sum() / sim.sum()),
                "cold_map_val_acc": float(cluster_accuracy(yv, np.asarray(mapper.mapping)[iv]))}

    nearest = nearest_neighbours(features, max(NEIGHBOURS))
    row: Dict[str, Any] = {
        "run": os.path.basename(os.path.normpath(run_dir)), "algorithm": run["args"].algorithm,
        "seed": int(run["args"].seed),
        "purity": float(sum(np.bincount(yv[iv == c]).max() for c in np.unique(iv)) / len(val)),
        "stored_map_val_acc": float(cluster_accuracy(yv, np.asarray(state["mapping"])[iv])),
        "knn10_label_agreement": float((targets[nearest[:, :10]] == targets[:, None]).mean()),
        "views": scored(views),
    }
    for k in NEIGHBOURS:
        row[f"knn{k}"] = scored(neighbour_similarity(nearest[:, :k], instance, n))
    return row


def describe(row: Dict[str, Any]) -> str:
    return (f"purity {row['purity']:.3f}, stored map {row['stored_map_val_acc']:.3f}, "
            + ", ".join(f"{m} {row[m]['cold_map_val_acc']:.3f} (within {row[m]['within']:.2f})"
                        for m in ("views", *(f"knn{k}" for k in NEIGHBOURS))))


def main(argv: List[str] | None = None) -> int:
    return offline_main(__doc__.splitlines()[0], score_run, describe, "neighbours", __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
