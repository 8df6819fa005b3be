"""Where each label-gate rule would switch cluster labels on, read from the logs of ASD runs.

    python benchmarks/investigations/asd_switch_trace.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/mnist5k_asd_switch_trace.json

Reads each run's ``log.txt`` (USB's log, one line every ``num_log_iter`` steps)
and collects, at each logged step, the two agreements the label gate can read
and the accuracy of the sampled instances' cluster labels:

* ``map_agreement``: ARI of the map with the previous one (rule ``consecutive``);
* ``cold_fit_agreement``: ARI of the map with a cold k-Medoids fit of the same
  transitions (logged only by runs with ``asd_switch_rule: cold_fit``, while the
  labels are off);
* ``slot_label_acc``: the share of sampled instances whose cluster label is their
  image's class (best one-to-one match of cluster ids to classes; labels read only
  to score, never by the run).

For the diagnostic, the runs hold their labels off (``asd_switch_ari`` above 1) until
``asd_warmup_iter``, so the whole trace is the warm-up's. For each rule and threshold
the script reports the first logged step at which the rule passes and the slot labels'
accuracy there: a rule worth adopting switches on later where the labels are wrong
and not much later where they are right. Steps are those logged (``num_log_iter``),
coarser than the re-clusterings (``asd_cluster_iter``): a reading, not a replay.
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

from usb_asd.asd.label_gate import rule_agreement  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402

_STEP = re.compile(r"\] (\d+) iteration")
_KEYS = {"map_agreement": "train/asd_map_agreement", "cold_fit_agreement": "train/asd_cold_fit_agreement",
         "slot_label_acc": "eval/asd_label_acc"}
_SEED = re.compile(r"\bseed=(\d+)")


def read_trace(log_text: str) -> Dict[str, list]:
    """Per logged step, the two agreements and the slot labels' accuracy (None where not logged).

    Args:
        log_text: A run's ``log.txt``.

    Returns:
        ``{"iterations": [...], "map_agreement": [...], "cold_fit_agreement": [...], "slot_label_acc": [...]}``.
    """
    trace: Dict[str, list] = {"iterations": [], **{name: [] for name in _KEYS}}
    for line in log_text.splitlines():
        step = _STEP.search(line)
        if step is None:
            continue
        trace["iterations"].append(int(step.group(1)))
        for name, key in _KEYS.items():
            value = re.search(re.escape(key) + r": ([0-9.eE+-]+)", line)
            trace[name].append(None if value is None else float(value.group(1)))
    return trace


#: The rules a log can replay: each needs one logged map's agreements. ``held`` needs the agreement at every
#: re-clustering of a window, and the log holds only every ``num_log_iter``-th step's.
REPLAYED_RULES = ("consecutive", "cold_fit")


def first_switch(trace: Dict[str, list], rule: str, threshold: float) -> Optional[int]:
    """Index of the first logged step at which ``rule`` passes at ``threshold``, or None.

    ``consecutive``: ``map_agreement >= threshold``; ``cold_fit``: both agreements ``>= threshold``
    (:class:`usb_asd.asd.label_gate.MapAgreementGate`).
    """
    for i, (consecutive, cold) in enumerate(zip(trace["map_agreement"], trace["cold_fit_agreement"])):
        agreement = rule_agreement(rule, consecutive, cold)
        if agreement is not None and agreement >= threshold:
            return i
    return None


def summarise_run(run_dir: str, thresholds: List[float]) -> dict:
    """One run's trace and, per rule and threshold, the step and slot-label accuracy at its switch-on."""
    with open(os.path.join(run_dir, "log.txt"), encoding="utf-8") as handle:
        text = handle.read()
    trace = read_trace(text)
    if not any(v is not None for v in trace["cold_fit_agreement"]):
        raise SystemExit(f"{run_dir}: no train/asd_cold_fit_agreement in log.txt; "
                         "run it with asd_switch_rule: cold_fit")
    seed = _SEED.search(text)
    switches = {}
    for rule in REPLAYED_RULES:
        for threshold in thresholds:
            i = first_switch(trace, rule, threshold)
            switches[f"{rule}@{threshold:g}"] = None if i is None else {
                "step": trace["iterations"][i], "slot_label_acc": trace["slot_label_acc"][i]}
    return {"run": os.path.basename(os.path.normpath(run_dir)), "seed": None if seed is None else int(seed.group(1)),
            **trace, "switch_on": switches}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run folders holding log.txt")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.8, 0.9])
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    runs = [summarise_run(run, args.thresholds) for run in args.runs]
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    result = {"command": command,
              "commit": git_commit(), "machine": machine_info(), "thresholds": args.thresholds, "runs": runs}
    write_json_atomic(args.out, result)
    print(json.dumps([{r["run"]: r["switch_on"]} for r in runs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
