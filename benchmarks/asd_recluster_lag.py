"""Time per training step with the re-clustering in the step (lag 0) or in a background worker process (lag L).

    flock /tmp/usb_asd_bench.lock python benchmarks/asd_recluster_lag.py \
        --out benchmarks/results/asd_recluster_lag.json

At ImageNet-1k size (``k = 1,000``, ``n_l = 4,000``, 448 unlabelled images per
step) a re-clustering with the default ``spectral`` distance takes seconds
(docs/SCALE.md). This benchmark drives the project's own
:class:`~usb_asd.asd.pipeline.ClusterLabelBuilder` and
:class:`~usb_asd.asd.hooks.ASDRoundHook` (the schedule a run uses) through a
simulated training loop:

* each step records the transitions of one batch (planted structure, as in
  ``asd_stage_costs.py``: 80 % of the moves within instance class ``c``'s block
  ``c % k``) and then sleeps ``--step_s`` seconds: a GPU-bound training step,
  during which the host thread waits for the device and the CPU is free;
* the map is fitted once before the loop (the first fit, k-medoids++ seeding,
  is not what recurs), then every ``--cluster_iter`` steps, at once (lag 0) or
  on a snapshot in a background worker applied ``--lag`` steps later.

Both schedules see the same transitions; the JSON records the time of every
step, their mean, median and maximum, the time the apply step waited for the
worker, and whether the two runs' maps are identical once both have applied the
same fits (they must be: the lag moves the map in time, not its content).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import SimpleNamespace
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the stage-costs benchmark's planted input

import numpy as np  # noqa: E402

from asd_stage_costs import WINDOW, planted_pairs  # noqa: E402


class _Algorithm(SimpleNamespace):
    """The adaptor methods :class:`ASDRoundHook` calls, on a real builder, timing the apply's wait."""

    def asd_recluster(self, compete_cold: bool = False) -> bool:
        return self.asd_builder.recluster(compete_cold=compete_cold)

    def asd_start_recluster(self, apply_at: int, compete_cold: bool = False) -> None:
        self.asd_builder.start_recluster(apply_at, compete_cold=compete_cold)

    def asd_finish_recluster(self) -> bool:
        start = time.perf_counter()
        done = self.asd_builder.finish_recluster()
        self.waits.append(time.perf_counter() - start)
        return done

    def asd_new_round(self, first_iteration: int) -> None:
        raise AssertionError("no redraw in this benchmark (asd_round_iter is beyond the run)")

    def asd_label_score(self) -> Optional[float]:
        return None


def run(lag: int, settings, args, fitted_state: Dict[str, Any]) -> Dict[str, Any]:
    from usb_asd.asd.hooks import ASDRoundHook
    from usb_asd.asd.pipeline import ClusterLabelBuilder

    size = {"k": settings.num_clusters, "n_l": settings.num_instances, "batch": args.batch}
    builder = ClusterLabelBuilder(settings, size["n_l"])
    builder.load_state_dict(fitted_state)  # the same first fit and the same full window for both
    rng = np.random.default_rng(1)  # the same transitions for both schedules
    iterations = args.fits * args.cluster_iter + lag
    hook_args = SimpleNamespace(asd_warmup_iter=0, asd_cluster_iter=args.cluster_iter, asd_recluster_lag=lag,
                                asd_round_iter=10**9)
    algorithm = _Algorithm(args=hook_args, it=0, asd_builder=builder, num_train_iter=iterations, log_dict={},
                           waits=[])
    hook = ASDRoundHook()
    steps: List[float] = []
    for it in range(iterations):
        algorithm.it = it
        start = time.perf_counter()
        builder.observe_views(*planted_pairs(size["n_l"], size["k"], size["batch"], rng))
        time.sleep(args.step_s)  # the device computes; the host waits
        hook.after_train_step(algorithm)
        steps.append(time.perf_counter() - start)
    steps_np = np.asarray(steps)
    # The steps' own cost is the median step (most steps neither fit nor apply); what the
    # re-clusterings add is the rest, per fit, and spread over the cluster_iter steps of a period.
    per_fit = float(steps_np.sum() - iterations * np.median(steps_np)) / args.fits
    return {
        "lag": lag,
        "iterations": iterations,
        "fits": args.fits,
        "mean_step_s": float(steps_np.mean()),
        "median_step_s": float(np.median(steps_np)),
        "max_step_s": float(steps_np.max()),
        "total_s": float(steps_np.sum()),
        "added_per_recluster_s": per_fit,
        "steady_mean_step_s": float(np.median(steps_np)) + per_fit / args.cluster_iter,
        "apply_waits_s": [float(w) for w in algorithm.waits],
        "step_s": [float(s) for s in steps],
        "mapping": builder.cluster_map.mapper.mapping,
        "medoids": builder.cluster_map.mapper.medoids,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/asd_recluster_lag.json")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n_l", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=448)
    parser.add_argument("--distance", default="spectral")
    parser.add_argument("--step_s", type=float, default=0.2, help="simulated (GPU-bound) training step")
    parser.add_argument("--cluster_iter", type=int, default=50)
    parser.add_argument("--lag", type=int, default=49)
    parser.add_argument("--fits", type=int, default=2, help="timed re-clusterings per schedule")
    args = parser.parse_args(argv)

    from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder
    from usb_asd.results import git_commit, machine_info, write_json_atomic

    size = {"k": args.k, "n_l": args.n_l, "batch": args.batch}
    settings = ASDSettings(num_clusters=args.k, num_instances=args.n_l, window=WINDOW, seed=0,
                           kmedoids_distance=args.distance)
    builder = ClusterLabelBuilder(settings, args.n_l)
    builder.place(builder.draw())
    rng = np.random.default_rng(0)
    for _ in range(WINDOW):
        builder.observe_views(*planted_pairs(args.n_l, args.k, args.batch, rng))
    start = time.perf_counter()
    builder.recluster()
    first_fit_s = time.perf_counter() - start
    print(f"first fit (untimed in the loop): {first_fit_s:.1f} s", flush=True)
    state = builder.state_dict()

    record: Dict[str, Any] = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "size": size,
        "distance": args.distance,
        "window": WINDOW,
        "simulated_step_s": args.step_s,
        "cluster_iter": args.cluster_iter,
        "first_fit_s": first_fit_s,
        "runs": {},
    }
    for lag in (0, args.lag):
        result = run(lag, settings, args, state)
        print(f"lag {lag:3d}: steady mean step {result['steady_mean_step_s'] * 1e3:.0f} ms (median "
              f"{result['median_step_s'] * 1e3:.0f} ms, + {result['added_per_recluster_s']:.2f} s per re-clustering), "
              f"max {result['max_step_s']:.2f} s, apply waits {result['apply_waits_s']}", flush=True)
        record["runs"][str(lag)] = result
    sync, lagged = record["runs"]["0"], record["runs"][str(args.lag)]
    record["same_map_after_the_same_fits"] = bool(
        np.array_equal(sync.pop("mapping"), lagged.pop("mapping"))
        and np.array_equal(sync.pop("medoids"), lagged.pop("medoids"))
    )
    record["steady_mean_step_ratio"] = lagged["steady_mean_step_s"] / sync["steady_mean_step_s"]
    write_json_atomic(args.out, record)
    print(f"same map: {record['same_map_after_the_same_fits']}; mean step lag {args.lag} / lag 0: "
          f"{record['steady_mean_step_ratio']:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
