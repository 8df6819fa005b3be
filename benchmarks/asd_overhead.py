"""Adaptor overhead: time per training iteration of ASD + a learner over the same learner with labels.

    python benchmarks/asd_overhead.py --gt config/freematch_digits_40.yaml \
        --asd config/asd_freematch_digits.yaml --iters 300 --repeats 3 \
        --out benchmarks/results/digits_asd_overhead.json

Both configs share net, batch sizes and data; runs alternate (GT, ASD, GT,
ASD, ...) in one process so machine load affects both alike. The time per
iteration is ``train/iter_time``: from one step's start to the next, so it
holds waiting for data, forward, backward, update and every hook (for ASD:
instance loss, transition tracking, and the periodic re-clustering and
redraws); its mean over a run is ``mean_iter_s``. The ratio is the median
over repeats of ASD / GT of that mean. USB's ``train/run_time`` (median,
``median_step_s``: the step alone, without data waits or ASD's re-clustering
and redraws, which run after the update) is reported beside it.
No evaluation runs inside the timed window (num_eval_iter > iters).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import usb_asd  # noqa: E402,F401
from usb_asd.cli import _extra_arguments  # noqa: E402
from usb_asd.config import parse_config  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", required=True)
    parser.add_argument("--asd", required=True)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    from usb_asd.runner import main as run

    commit = git_commit()
    common = {"num_train_iter": opts.iters, "num_eval_iter": opts.iters * 10, "num_log_iter": opts.iters,
              "seed": opts.seed, "save_dir": "./saved_models/overhead"}
    runs = []
    for repeat in range(opts.repeats):
        for kind, config in (("gt", opts.gt), ("asd", opts.asd)):
            args = parse_config(["--c", config], extra_arguments=_extra_arguments,
                                overrides={**common, "save_name": f"{kind}_{repeat}"})
            record = run(args)
            runs.append({"kind": kind, "repeat": repeat, "config": config, "mean_iter_s": record["mean_iter_s"],
                         "median_step_s": record["median_step_s"], "wall_s": record["wall_s"]})
            print(f"[overhead] {kind} repeat {repeat}: {record['mean_iter_s'] * 1000:.1f} ms per iteration "
                  f"(median step {record['median_step_s'] * 1000:.1f} ms)")

    def ratios_of(key: str) -> List[float]:
        return [
            next(r[key] for r in runs if r["kind"] == "asd" and r["repeat"] == i)
            / next(r[key] for r in runs if r["kind"] == "gt" and r["repeat"] == i)
            for i in range(opts.repeats)
        ]

    ratios, step_ratios = ratios_of("mean_iter_s"), ratios_of("median_step_s")
    payload = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
        "commit": commit, "machine": machine_info(), "runs": runs,
        "ratio_per_repeat": ratios, "ratio_median": statistics.median(ratios),
        "step_ratio_per_repeat": step_ratios, "step_ratio_median": statistics.median(step_ratios),
    }
    write_json_atomic(opts.out, payload)
    print(f"[overhead] ASD / GT time per iteration: median {payload['ratio_median']:.3f} ({ratios}); "
          f"median step alone: {payload['step_ratio_median']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
