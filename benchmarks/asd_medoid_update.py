"""The k-Medoids alternate iterations with the medoid update vectorised, against the loop over clusters.

    flock /tmp/usb_asd_bench.lock python benchmarks/asd_medoid_update.py \
        --out benchmarks/results/asd_medoid_update.json

At ImageNet-1k's ``k = 1,000``, ``n_l = 4,000`` (planted transitions as in
``asd_stage_costs.py``, the ``linear`` distance: the update's cost does not
depend on how ``D`` was made), from ``k`` random medoids (seeded; a start far
from convergence, so that the iterations run): the time of one iteration, of
the whole fit (to convergence) and of the medoid update alone (on the
converged partition) with :func:`usb_asd.asd.mapping._alternate` and with the
loop it replaced (kept here as the reference), and whether their medoids and
labels are identical. Each iteration also assigns every class to its nearest
medoid (an ``n x k`` argmin), which both share.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from asd_stage_costs import WINDOW, planted_pairs  # noqa: E402


def alternate_loop(dist: np.ndarray, medoids: np.ndarray, max_iter: int):
    """The medoid update before vectorising: one cluster at a time (reference)."""
    from usb_asd.asd.mapping import _assign

    medoids = medoids.copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):
        labels = _assign(dist, medoids)
        new = medoids.copy()
        for c in range(medoids.size):
            members = np.flatnonzero(labels == c)
            spread = dist[np.ix_(members, members)].sum(axis=1)
            best = int(np.argmin(spread))
            current = int(np.flatnonzero(members == medoids[c])[0])
            if spread[best] < spread[current] - 1e-12 * max(1.0, abs(spread[current])):
                new[c] = members[best]
        if np.array_equal(new, medoids):
            break
        medoids = new
    return _assign(dist, medoids), medoids, iterations


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks/results/asd_medoid_update.json")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--n_l", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=448)
    args = parser.parse_args(argv)

    from usb_asd.asd.mapping import _alternate, _assign, _cluster_spreads, similarity_to_distance
    from usb_asd.asd.transitions import ClassTransitionTracker
    from usb_asd.results import git_commit, machine_info, write_json_atomic

    rng = np.random.default_rng(0)
    tracker = ClassTransitionTracker(args.n_l, args.n_l, WINDOW)
    for _ in range(WINDOW):
        tracker.record(*planted_pairs(args.n_l, args.k, args.batch, rng))
    sim = tracker.similarity()
    dist = similarity_to_distance(sim)
    start = np.sort(rng.choice(args.n_l, size=args.k, replace=False))

    record: Dict[str, Any] = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        "k": args.k, "n_l": args.n_l, "window": WINDOW, "batch": args.batch,
    }
    for name, fn in (("vectorised", _alternate), ("loop", alternate_loop)):
        one, _ = _timed(fn, dist, start, 1)
        whole, (labels, medoids, iterations) = _timed(fn, dist, start, 300)
        record[name] = {"one_iteration_s": one, "fit_s": whole, "iterations": iterations}
        record.setdefault("_out", {})[name] = (labels, medoids)
        print(f"{name:10s}: one iteration {one * 1e3:.1f} ms, fit {whole:.2f} s ({iterations} iterations)", flush=True)
    out = record.pop("_out")
    labels = out["vectorised"][0]
    update_vectorised, _ = _timed(_cluster_spreads, dist, labels, args.k)
    update_loop, _ = _timed(lambda: [dist[np.ix_(m, m)].sum(axis=1)
                                     for m in (np.flatnonzero(labels == c) for c in range(args.k))])
    assign, _ = _timed(_assign, dist, out["vectorised"][1])
    record["update_only_s"] = {"vectorised": update_vectorised, "loop": update_loop}
    record["assign_s"] = assign
    print(f"medoid update alone: vectorised {update_vectorised * 1e3:.1f} ms, loop {update_loop * 1e3:.1f} ms; "
          f"assignment {assign * 1e3:.1f} ms", flush=True)
    record["identical"] = bool(
        np.array_equal(out["loop"][0], out["vectorised"][0]) and np.array_equal(out["loop"][1], out["vectorised"][1])
    )
    record["speedup_one_iteration"] = record["loop"]["one_iteration_s"] / record["vectorised"]["one_iteration_s"]
    record["speedup_fit"] = record["loop"]["fit_s"] / record["vectorised"]["fit_s"]
    write_json_atomic(args.out, record)
    print(f"identical: {record['identical']}; speed-up {record['speedup_one_iteration']:.1f}x per iteration, "
          f"{record['speedup_fit']:.1f}x per fit", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
