"""Adaptor overhead: time per training iteration of ASD + a learner over the same learner with labels.

    python benchmarks/asd_overhead.py --gt config/freematch_digits_40.yaml \
        --asd config/asd_freematch_digits.yaml --iters 300 --repeats 3 \
        --out benchmarks/results/digits_asd_overhead.json

Both configs share net, batch sizes and data; runs alternate (GT, ASD, GT,
ASD, ...) in one process so machine load affects both alike. The time per
iteration is USB's ``train/run_time`` (forward, backward, update, and for ASD
its per-step work: building the labelled batch, instance loss, transition
tracking, and the periodic re-clustering and redraws), median over the
iterations of a run; the ratio is the median over repeats of ASD / GT.
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
            runs.append({"kind": kind, "repeat": repeat, "config": config,
                         "median_step_s": record["median_step_s"], "wall_s": record["wall_s"]})
            print(f"[overhead] {kind} repeat {repeat}: median step {record['median_step_s'] * 1000:.1f} ms")
    ratios = [
        next(r["median_step_s"] for r in runs if r["kind"] == "asd" and r["repeat"] == i)
        / next(r["median_step_s"] for r in runs if r["kind"] == "gt" and r["repeat"] == i)
        for i in range(opts.repeats)
    ]
    payload = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
        "commit": commit, "machine": machine_info(), "runs": runs,
        "ratio_per_repeat": ratios, "ratio_median": statistics.median(ratios),
    }
    write_json_atomic(opts.out, payload)
    print(f"[overhead] ASD / GT time per iteration: median {payload['ratio_median']:.3f} ({ratios})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
