"""How often ``usb_asd.choose_k`` picks the true k on a data set with known k.

    python benchmarks/choose_k_accuracy.py --c config/asd_freematch_digits.yaml --true_k 10 \\
        --k 8 10 12 --seed_sets 0,1 2,3 --num_train_iter 400 --runs /tmp/choose_k/digits \\
        --out benchmarks/results/choose_k_digits.json --max_runs 1

One repetition is the whole choose_k procedure (every k of ``--k``, one short
ASD run per seed of one seed set, scored by the stability of the partitions
across the seeds) with the command's own code: its runs are
``usb_asd.choose_k.run_partition``'s, its scores and pick ``choose_k``'s.
A repetition hits when its chosen k is ``--true_k``. Labels are read only to
score afterwards (whether the pick is the true k, each run's ACC): they choose
nothing. ``--max_runs`` stops after that many new runs so a lock can be taken
per run; reruns reuse finished runs (their ``assignments.csv``) and the output
file is rewritten with every repetition completed so far.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from usb_asd.choose_k import TOLERANCE, choose_k  # noqa: E402


class RunBudgetSpent(Exception):
    """Raised by the partition source when ``--max_runs`` new runs have been trained."""


def repetition_record(ks: Sequence[int], seeds: Sequence[int], partition: Callable[[int, int], np.ndarray],
                      true_k: int, tolerance: float = TOLERANCE) -> Dict[str, object]:
    """Run choose_k once (one seed set) and score its pick against the true k.

    Args:
        ks: Candidate numbers of clusters.
        seeds: The repetition's seeds (at least two).
        partition: ``partition(k, seed) -> (n,)`` cluster ids (the command's runs).
        true_k: The data set's number of classes (scoring only).
        tolerance: choose_k's tolerance.

    Returns:
        ``seeds``, ``chosen_k``, ``hit`` and, per k, its agreement, pair ARIs, clusters used and whether chosen.
    """
    scores = choose_k(ks, seeds, partition, tolerance)
    chosen = [s for s in scores if s.chosen][0]
    return {
        "seeds": list(seeds),
        "chosen_k": chosen.k,
        "hit": chosen.k == true_k,
        "scores": [{"k": s.k, "agreement": s.agreement, "pair_ari": s.pair_ari, "clusters_used": s.clusters_used,
                    "fills_k": s.fills_k, "chosen": s.chosen} for s in scores],
    }


def measure(ks: Sequence[int], seed_sets: Sequence[Sequence[int]], partition: Callable[[int, int], np.ndarray],
            true_k: int, tolerance: float = TOLERANCE) -> Tuple[List[Dict[str, object]], bool]:
    """Every repetition whose runs can be had; stops at the first that needs more than the run budget.

    Args:
        ks: Candidate numbers of clusters.
        seed_sets: One seed set per repetition.
        partition: As for :func:`repetition_record`; raises :class:`RunBudgetSpent` when it may train no more.
        true_k: The true number of classes (scoring only).
        tolerance: choose_k's tolerance.

    Returns:
        The completed repetitions' records and whether all are complete.
    """
    done = []
    for seeds in seed_sets:
        try:
            done.append(repetition_record(ks, seeds, partition, true_k, tolerance))
        except RunBudgetSpent:
            return done, False
    return done, True


def run_record(run_dir: str) -> Dict[str, object]:
    """One finished run's cost and, scoring only, its ACC / NMI on the pool and the test split."""
    from usb_asd.outputs.assignments import read_assignments_csv, split_scores

    with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as handle:
        result = json.load(handle)
    record = {"name": os.path.basename(run_dir), "wall_s": result["wall_s"], "commit": result["commit"],
              "test_acc": result.get("acc"), "test_nmi": result.get("nmi")}
    for part in read_assignments_csv(os.path.join(run_dir, "assignments.csv")):
        scores = split_scores(part) if part.split == "train" else None
        if scores is not None:
            record["pool_acc"], record["pool_nmi"] = scores["acc"], scores["nmi"]
    return record


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--c", required=True, help="a clustering config of a data set with known k")
    p.add_argument("--true_k", type=int, required=True, help="the data set's number of classes (scoring only)")
    p.add_argument("--k", type=int, nargs="+", required=True)
    p.add_argument("--seed_sets", nargs="+", required=True, help="one comma-separated seed set per repetition")
    p.add_argument("--num_train_iter", type=int, default=None, help="choose_k's --num_train_iter")
    p.add_argument("--tolerance", type=float, default=TOLERANCE)
    p.add_argument("--runs", required=True, help="choose_k's --out (the runs)")
    p.add_argument("--out", required=True, help="the result JSON")
    p.add_argument("--max_runs", type=int, default=0, help="stop after this many new runs (0: no limit)")
    opts = p.parse_args(argv)

    from usb_asd.choose_k import run_partition
    from usb_asd.results import git_commit, machine_info, write_json_atomic

    seed_sets = [[int(s) for s in text.split(",")] for text in opts.seed_sets]
    settings = {} if opts.num_train_iter is None else {"num_train_iter": opts.num_train_iter}
    train = run_partition(opts.c, opts.runs, settings)
    trained = [0]

    def partition(k: int, seed: int) -> np.ndarray:
        finished = os.path.isfile(os.path.join(opts.runs, f"k{k}_seed{seed}", "assignments.csv"))
        if not finished:
            if opts.max_runs and trained[0] >= opts.max_runs:
                raise RunBudgetSpent
            trained[0] += 1
        return train(k, seed)

    repetitions, complete = measure(opts.k, seed_sets, partition, opts.true_k, opts.tolerance)
    runs = sorted((name for name in os.listdir(opts.runs) if os.path.isfile(os.path.join(opts.runs, name,
                                                                                           "assignments.csv"))),
                  key=lambda name: tuple(int(v) for v in name[1:].split("_seed")))
    payload = {
        "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
        "config": opts.c, "true_k": opts.true_k, "ks": sorted(set(opts.k)), "seed_sets": seed_sets,
        "num_train_iter": opts.num_train_iter, "tolerance": opts.tolerance,
        "commit": git_commit(), "machine": machine_info(),
        "runs": [run_record(os.path.join(opts.runs, name)) for name in runs],
        "repetitions": repetitions, "complete": complete,
        "hits": sum(bool(r["hit"]) for r in repetitions),
    }
    write_json_atomic(opts.out, payload)
    print(f"[choose_k_accuracy] {opts.c}: {len(repetitions)}/{len(seed_sets)} repetitions, "
          f"{payload['hits']} picked k = {opts.true_k} "
          f"({', '.join(str(r['chosen_k']) for r in repetitions) or 'none yet'}); {trained[0]} new runs; "
          f"wrote {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
