"""The k-Medoids map of finished runs refitted offline: warm start, cold fit, and the better of the two.

    python benchmarks/asd_map_refit_offline.py RUN_DIR [RUN_DIR ...] --out benchmarks/results/asd_map_refit_offline.json

For each finished ASD run (``asd_mapping: ctt``; its ``latest_model.pth``) this
reads the transition window and the k-Medoids state the run ended with, builds
the run's distance between instance classes (``asd_kmedoids_distance``), and
fits the map three ways on those same transitions:

* ``stored``: the run's own last map;
* ``warm``: alternate iterations from the run's medoids (what a warm start alone gives);
* ``cold``: a cold KMedoids fit (BUILD, or k-medoids++ above 1,000 classes);
* ``best``: the lower objective of ``warm`` and ``cold`` (a re-clustering rule that was tried
  in training on 2026-12-06 and not adopted: docs/EXPERIMENT_LOG.md).

Each map is scored by its k-Medoids objective (label-free) and by the ACC of
the labels it gives the **validation part** of the pool (each image's argmax
instance class -> its cluster; the only labels read), beside the instance
classes' purity there (the best any map over them can do). Labels choose
nothing here; the objective alone decides ``best``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from asd_instance_stage import ctt_mapper_state, run_pool_outputs  # noqa: E402

from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402


def refit_scores(run_dir: str) -> Dict[str, Any]:
    """Objective and validation ACC of the stored, warm, cold and best maps of one run."""
    from usb_asd.asd.mapping import InstanceClusterMapper, _alternate, kmedoids_objective
    from usb_asd.asd.transitions import ClassTransitionTracker
    from usb_asd.core.checkpoint_codec import decode
    from usb_asd.metrics import cluster_accuracy

    run = run_pool_outputs(run_dir)
    asd = decode(run["checkpoint"]["asd"])
    state = ctt_mapper_state(asd)
    if state is None or state.get("medoids") is None:
        raise SystemExit(f"{run_dir}: no k-Medoids map with medoids in its checkpoint (asd_mapping: ctt runs only)")
    tracker_state = asd["tracker"]
    tracker = ClassTransitionTracker(int(tracker_state["num_samples"]), int(tracker_state["num_classes"]),
                                     int(tracker_state["window"]))
    tracker.load_state_dict(tracker_state)
    sim = tracker.similarity()  # symmetric, zero diagonal
    k = int(state["num_clusters"])
    cold = InstanceClusterMapper(k, int(state["seed"]), int(state["max_iter"]), state.get("distance", "linear"))
    dist = cold.dissimilarity(sim)  # the run's own distance
    targets, val, instance = run["targets"], run["val"], run["instance"]

    def score(mapping, medoids) -> Dict[str, float]:
        return {"objective": kmedoids_objective(dist, medoids),
                "val_acc": cluster_accuracy(targets[val], np.asarray(mapping)[instance[val]])}

    warm_labels, warm_medoids, _ = _alternate(dist, np.asarray(state["medoids"]), int(state["max_iter"]))
    cold.fit(sim)
    cold_won = kmedoids_objective(dist, cold.medoids) < kmedoids_objective(dist, warm_medoids)
    best_mapping, best_medoids = (cold.mapping, cold.medoids) if cold_won else (warm_labels, warm_medoids)
    yv, iv = targets[val], instance[val]
    purity = sum(np.bincount(yv[iv == c]).max() for c in np.unique(iv)) / len(val)
    results = {}
    path = os.path.join(run_dir, "results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            results = json.load(handle)
    return {"run": os.path.basename(os.path.normpath(run_dir)), "dataset": run["args"].dataset,
            "algorithm": run["args"].algorithm, "seed": int(run["args"].seed),
            "run_commit": results.get("commit"), "run_test_acc": results.get("acc"),
            "purity": float(purity), "stored": score(state["mapping"], state["medoids"]),
            "warm": score(warm_labels, warm_medoids), "cold": score(cold.mapping, cold.medoids),
            "best": {**score(best_mapping, best_medoids), "cold_won": bool(cold_won)}}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders (save_dir/save_name) with a latest_model.pth")
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    for run_dir in opts.runs:
        if not os.path.exists(os.path.join(run_dir, "latest_model.pth")):
            raise SystemExit(f"{run_dir}: no latest_model.pth (a finished run's folder was expected)")
    rows = []
    for run_dir in opts.runs:
        row = refit_scores(run_dir)
        rows.append(row)
        print(f"[map refit] {row['run']}: " + ", ".join(
            f"{m} {row[m]['val_acc']:.3f} (objective {row[m]['objective']:.2f})"
            for m in ("stored", "warm", "cold", "best")), flush=True)
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    write_json_atomic(opts.out, {"command": command, "commit": git_commit(), "machine": machine_info(),
                                 "runs": rows})
    print(f"[map refit] wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
