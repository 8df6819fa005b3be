"""How right ASD's slot labels were during training, read from finished runs' logs.

    python benchmarks/slot_label_trace.py --runs /tmp/exp/runs/asd_freematch_digits_round1_seed? \\
        /tmp/exp/runs/asd_freematch_digits_default_seed? --out benchmarks/results/digits_asd_slot_label_trace.json

Every ``num_log_iter`` iterations ASD logs ``eval/asd_label_acc``: the share of
the ``n_l`` sampled instances whose cluster label (from the map) is their
image's true class under the best one-to-one matching. It reads training-pool
labels, for diagnosis only: no setting is chosen with it. This collects the
trace of each run (the run's folder name gives its variant and seed) so that
docs/BENCHMARKS.md can show it. The score is set at re-clustering steps, so it
reaches the log when those fall on log steps (the digits configs: every 50 and
every 100 iterations); with ``asd_recluster_lag > 0`` it is set L steps later
and may miss every log line, and this script then refuses the run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", required=True, help="run folders holding log.txt")
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    runs = []
    for folder in opts.runs:
        name = os.path.basename(os.path.normpath(folder))
        match = re.search(r"_([a-z0-9]+)_seed(\d+)$", name)
        trace = read_trace(os.path.join(folder, "log.txt"))
        if not trace["iterations"]:
            raise SystemExit(f"{folder}/log.txt: no eval/asd_label_acc lines (not an ASD run?)")
        runs.append({"run": name, "variant": match.group(1) if match else name,
                     "seed": int(match.group(2)) if match else None, **trace})
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    write_json_atomic(opts.out, {"command": command, "commit": git_commit(), "machine": machine_info(), "runs": runs})
    print(f"wrote {opts.out} ({len(runs)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
