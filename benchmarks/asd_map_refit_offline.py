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
  in training on 2026-12-06 and not adopted: docs/EXPERIMENT_LOG.md);
* ``balanced``: alternate k-Medoids from the cold fit's medoids whose assignment step gives
  every cluster the same number of instance classes (an exact transport of the ``n`` classes
  onto ``k`` medoids of capacity ``ceil(n / k)``): the instance classes are equipartitioned by
  the per-batch Sinkhorn, so on balanced data each class should hold ``n / k`` of them;
* ``prototypes``: a cold fit on the instance head's prototypes instead of the transitions
  (their cosine similarity, through the same distance), a label-free signal of another kind.

And one diagnostic that reads labels (it chooses nothing): ``oracle``, the
partition of the instance classes by their majority class on the validation part
(the map whose ACC is the purity), scored by the k-Medoids cost of that partition
around its own medoids (``partition_cost``) beside the fitted maps' objectives. An
oracle cost below the fitted maps' objective means the search misses a better optimum;
above it, the transitions themselves prefer the wrong grouping.

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
from typing import Any, Callable, Dict, List, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from asd_instance_stage import ctt_mapper_state, run_pool_outputs  # noqa: E402

from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402


def balanced_kmedoids(dist: np.ndarray, medoids: np.ndarray, max_iter: int):
    """Alternate k-Medoids whose assignment gives every cluster at most ``ceil(n / k)`` classes.

    Assignment: :math:`\\min_{g} \\sum_i D_{i, m_{g(i)}}` subject to
    :math:`|\\{i: g(i) = c\\}| \\le \\lceil n/k \\rceil`, solved exactly as a linear
    assignment of the ``n`` classes to ``k * ceil(n / k)`` medoid seats. Update: per
    cluster, the member with the smallest in-cluster distance sum. Stops when the
    medoids repeat.

    Returns:
        ``(labels, medoids)``.
    """
    from scipy.optimize import linear_sum_assignment

    from usb_asd.asd.mapping import _cluster_spreads

    n, k = dist.shape[0], medoids.size
    seats = -(-n // k)
    medoids = medoids.copy()
    labels = None
    for _ in range(max_iter):
        cost = np.repeat(dist[:, medoids], seats, axis=1)  # (n, k * seats), seat j -> cluster j // seats
        rows, cols = linear_sum_assignment(cost)
        labels = np.empty(n, dtype=np.int64)
        labels[rows] = cols // seats
        _, best = _cluster_spreads(dist, labels, k)
        new = np.where(best >= 0, best, medoids)
        if np.array_equal(new, medoids):
            break
        medoids = new
    return labels, medoids


def partition_cost(dist: np.ndarray, labels: np.ndarray, medoids: np.ndarray) -> float:
    """``sum_i D[i, m_{labels[i]}]``: a partition's k-Medoids cost around the given medoids."""
    return float(dist[np.arange(labels.size), medoids[labels]].sum())


def refit_scores(run_dir: str) -> Dict[str, Any]:
    """Objective and validation ACC of the stored, warm, cold and best maps of one run."""
    from usb_asd.asd.mapping import InstanceClusterMapper, _alternate, _partition_medoids, kmedoids_objective
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

    balanced_labels, balanced_medoids = balanced_kmedoids(dist, cold.medoids, int(state["max_iter"]))
    # The oracle: each instance class to its majority class on the validation part; classes
    # no validation image falls in go to their nearest oracle medoid (labels read only to score).
    n = dist.shape[0]
    oracle = np.full(n, -1, dtype=np.int64)
    for c in np.unique(iv):
        oracle[c] = np.bincount(yv[iv == c]).argmax()
    seen = oracle >= 0
    oracle_medoids = _partition_medoids(dist[np.ix_(seen, seen)], oracle[seen], k)
    oracle_medoids = np.flatnonzero(seen)[oracle_medoids]
    oracle[~seen] = dist[np.ix_(~seen, oracle_medoids)].argmin(axis=1)
    oracle_medoids = _partition_medoids(dist, oracle, k)
    model = run["model"]
    protos = model.instance_head.prototypes.detach().double().numpy()
    protos /= np.linalg.norm(protos, axis=1, keepdims=True)
    proto_sim = np.clip(protos @ protos.T, 0.0, None)  # fit zeroes the diagonal
    by_prototypes = InstanceClusterMapper(k, int(state["seed"]), int(state["max_iter"]),
                                          state.get("distance", "linear"))
    by_prototypes.fit(proto_sim)
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
            "best": {**score(best_mapping, best_medoids), "cold_won": bool(cold_won)},
            "balanced": {**score(balanced_labels, balanced_medoids),
                         "partition_cost": partition_cost(dist, balanced_labels, balanced_medoids)},
            "prototypes": score(by_prototypes.mapping, by_prototypes.medoids),
            "oracle": {**score(oracle, oracle_medoids),
                       "partition_cost": partition_cost(dist, oracle, oracle_medoids),
                       "cold_partition_cost": partition_cost(dist, cold.mapping, cold.medoids),
                       # Share of the transition mass between classes of the same majority class.
                       "within_class_transitions": float(sim[oracle[:, None] == oracle[None, :]].sum() / sim.sum()),
                       "sizes": sorted(np.bincount(oracle, minlength=k).tolist()),
                       "cold_sizes": sorted(np.bincount(cold.mapping, minlength=k).tolist())}}


def offline_main(description: str, score_run: Callable[[str], Dict[str, Any]], describe: Callable[[Dict], str],
                 tag: str, script: str, argv: Optional[List[str]]) -> int:
    """The command line the offline checkpoint readers share: run folders in (each checked for a
    ``latest_model.pth`` before any is read), one row per run printed, one JSON record out."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", help="run folders (save_dir/save_name) with a latest_model.pth")
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    for run_dir in opts.runs:
        if not os.path.exists(os.path.join(run_dir, "latest_model.pth")):
            raise SystemExit(f"{run_dir}: no latest_model.pth (a finished run's folder was expected)")
    rows = []
    for run_dir in opts.runs:
        rows.append(score_run(run_dir))
        print(f"[{tag}] {rows[-1]['run']}: {describe(rows[-1])}", flush=True)
    command = "python " + " ".join([os.path.relpath(script)] + (argv if argv is not None else sys.argv[1:]))
    write_json_atomic(opts.out, {"command": command, "commit": git_commit(), "machine": machine_info(),
                                 "runs": rows})
    print(f"[{tag}] wrote {opts.out}")
    return 0


def describe_refit(row: Dict[str, Any]) -> str:
    return (", ".join(f"{m} {row[m]['val_acc']:.3f} (objective {row[m]['objective']:.2f})"
                      for m in ("stored", "warm", "cold", "best", "balanced", "prototypes", "oracle"))
            + f"; oracle partition cost {row['oracle']['partition_cost']:.2f} vs cold "
            f"{row['oracle']['cold_partition_cost']:.2f}; classes per cluster: oracle {row['oracle']['sizes']}, "
            f"cold {row['oracle']['cold_sizes']}")


def main(argv: List[str] | None = None) -> int:
    return offline_main(__doc__.splitlines()[0], refit_scores, describe_refit, "map refit", __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
