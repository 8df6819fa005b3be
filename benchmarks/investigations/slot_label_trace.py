"""How right ASD's slot labels were during training, read from finished runs' logs.

    python benchmarks/investigations/slot_label_trace.py --runs /tmp/exp/runs/asd_freematch_digits_round1_seed? \\
        /tmp/exp/runs/asd_freematch_digits_default_seed? --out benchmarks/results/digits_asd_slot_label_trace.json

Every ``num_log_iter`` iterations ASD logs ``eval/asd_label_acc``: the share of
the ``n_l`` sampled instances whose cluster label (from the map) is their
image's true class under the best one-to-one matching. It reads training-pool
labels, for diagnosis only: no setting is chosen with it. This collects the
trace of each run (the run's folder name gives its variant and seed), with the
final model's test ACC from the run's ``results.json`` where there is one, so
that docs/BENCHMARKS.md can show both side by side. The score is set at re-clustering steps, so it
reaches the log when those fall on log steps (the digits configs: every 50 and
every 100 iterations); with ``asd_recluster_lag > 0`` it is set L steps later
and may miss every log line, and this script then refuses the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Dict, List, Optional

# benchmarks/investigations/ -> the repository root (usb_asd)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402

_LINE = re.compile(r"(\d+) iteration.*?eval/asd_label_acc: ([0-9.]+)")


def read_trace(log_path: str) -> Dict[str, List[float]]:
    """``{"iterations": [...], "slot_label_acc": [...]}`` from one run's ``log.txt``.

    Args:
        log_path: USB's log of an ASD run.

    Returns:
        The logged iterations and slot-label accuracies, in log order.
    """
    iterations, accs = [], []
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            match = _LINE.search(line)
            if match:
                iterations.append(int(match.group(1)))
                accs.append(float(match.group(2)))
    return {"iterations": iterations, "slot_label_acc": accs}


def final_acc(folder: str) -> Optional[float]:
    """The run's test ACC (final model) from its ``results.json``; None when it has none."""
    path = os.path.join(folder, "results.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle).get("acc")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="run folders holding log.txt")
    parser.add_argument("--out", required=True)
    parser.add_argument("--variant_from", choices=("suffix", "name"), default="suffix",
                        help="variant = the word before _seed<N> (suffix: 'x_round1_seed0' -> round1) "
                             "or the whole name without _seed<N> (name: runs of several configs)")
    opts = parser.parse_args(argv)
    runs = []
    for folder in opts.runs:
        name = os.path.basename(os.path.normpath(folder))
        pattern = r"_([a-z0-9]+)_seed(\d+)$" if opts.variant_from == "suffix" else r"^(.+)_seed(\d+)$"
        match = re.search(pattern, name)
        trace = read_trace(os.path.join(folder, "log.txt"))
        if not trace["iterations"]:
            raise SystemExit(f"{folder}/log.txt: no eval/asd_label_acc lines (not an ASD run?)")
        runs.append({"run": name, "variant": match.group(1) if match else name,
                     "seed": int(match.group(2)) if match else None, **trace, "acc": final_acc(folder)})
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    write_json_atomic(opts.out, {"command": command, "commit": git_commit(), "machine": machine_info(), "runs": runs})
    print(f"wrote {opts.out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
