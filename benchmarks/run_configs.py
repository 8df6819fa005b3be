"""Run configs over several seeds and write one JSON of results with provenance.

    python benchmarks/run_configs.py --configs config/fixmatch_digits_40.yaml \
        config/freematch_digits_40.yaml --seeds 0 1 2 \
        --out benchmarks/results/digits_gt_baselines.json

    # ablations: one config, several named variants (key=value overrides)
    python benchmarks/run_configs.py --configs config/asd_freematch_digits.yaml \
        --variant default: --variant no_ot:asd_alignment=none --seeds 0 1 2 --out ...

Each run is an ordinary ``train.py`` run (same code path), with ``seed`` and
``save_name`` overridden. The output holds the command, the commit, the
machine, every run's results.json record and, per config, the mean, standard
deviation, min, max and median of each score. Runs already in the output file
(same config and seed) are not redone, so an interrupted benchmark resumes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import usb_asd  # noqa: E402,F401
from usb_asd.cli import _extra_arguments  # noqa: E402
from usb_asd.config import parse_config  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402

SCORES = ("top1", "acc", "nmi", "ari", "wall_s")


def summarise(records: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    """Mean, sample standard deviation, min, max and median of each score over runs."""
    out: Dict[str, Dict[str, float]] = {}
    for key in SCORES:
        values = [r[key] for r in records if r.get(key) is not None]
        if not values:
            continue
        out[key] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values),
            "max": max(values),
            "median": statistics.median(values),
            "n": len(values),
        }
    return out


def logged_scores(log_path: str, key: str = "eval/acc") -> Dict[str, float]:
    """``{iteration: score}`` of every evaluation a run logged (test split), to see whether the final model
    fell from a score reached during the run. Empty when the log is missing."""
    import re

    scores: Dict[str, float] = {}
    if not os.path.exists(log_path):
        return scores
    pattern = re.compile(r"\] (\d+) iteration.*?" + re.escape(key) + r": ([0-9.]+)")
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            match = pattern.search(line)
            if match:
                scores[match.group(1)] = float(match.group(2))
    return scores


def switch_on_slot_labels(log_path: str) -> Dict[str, float]:
    """``{step: ACC}`` of ASD's slot labels when the cluster labels switched on (or, started from
    ``asd_init_assignments``, when the chain's own map took over), read from the run's switch-on line
    (a diagnostic, scored with the pool's labels). Empty for other runs or without a score."""
    import re

    if not os.path.exists(log_path):
        return {}
    pattern = re.compile(r"asd: (?:cluster labels on|the chain's own map takes over from asd_init_assignments.*?) "
                         r"after step (\d+) \(.*?slot labels ([0-9.]+) right")
    with open(log_path, encoding="utf-8") as handle:
        for line in handle:
            match = pattern.search(line)
            if match:
                return {match.group(1): float(match.group(2))}
    return {}


def parse_variant(text: str):
    """``"name:key=value,key=value"`` -> ``(name, {key: value})``, values read as YAML scalars."""
    from ruamel.yaml import YAML

    name, _, body = text.partition(":")
    overrides: Dict[str, Any] = {}
    for item in filter(None, body.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--variant {text!r}: expected key=value, got {item!r}")
        overrides[key.strip()] = YAML(typ="safe", pure=True).load(value)
    return name, overrides


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", required=True)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    parser.add_argument("--save_dir", default="./saved_models/benchmarks")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME:key=value,key=value (YAML-typed values); repeatable")
    parser.add_argument("--max_runs", type=int, default=0,
                        help="stop after this many new runs (0: no limit); with a lock per call, "
                             "other benchmarks can run in between")
    opts = parser.parse_args(argv)
    variants = [parse_variant(v) for v in opts.variant] or [("", {})]

    from usb_asd.runner import main as run

    commit = git_commit()  # read now: the code this process runs

    previous: Dict[str, Any] = {}
    if os.path.exists(opts.out):
        import json

        with open(opts.out, encoding="utf-8") as handle:
            previous = json.load(handle)
    runs: List[Dict[str, Any]] = list(previous.get("runs", []))
    done = {(r["config"], r.get("variant", ""), r["seed"]) for r in runs}
    started = time.time()
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    cells = [(c, v) for c in opts.configs for v in variants]
    new_runs = 0
    for config, (variant, overrides) in cells:
        for seed in opts.seeds:
            if (config, variant, seed) in done:
                print(f"[benchmark] {config} {variant} seed {seed}: already done, skipped")
                continue
            if opts.max_runs and new_runs >= opts.max_runs:
                continue
            new_runs += 1
            name = f"{os.path.splitext(os.path.basename(config))[0]}{'_' + variant if variant else ''}_seed{seed}"
            args = parse_config(
                ["--c", config],
                extra_arguments=_extra_arguments,
                overrides={**overrides, "seed": seed, "save_name": name, "save_dir": opts.save_dir},
            )
            record = run(args)
            record.update(config=config, variant=variant, overrides=overrides, command=command,
                          acc_during_run=logged_scores(os.path.join(opts.save_dir, name, "log.txt")),
                          # ASD: how right the slot labels were when they switched on ({step: ACC}; diagnostic).
                          switch_on_label_acc=switch_on_slot_labels(os.path.join(opts.save_dir, name, "log.txt")))
            runs.append(record)
            print(f"[benchmark] {config} {variant} seed {seed}: top1 {record['top1']} acc {record['acc']:.4f} "
                  f"nmi {record['nmi']:.4f} ari {record['ari']:.4f} in {record['wall_s']:.0f} s")
            # A file may be filled by several calls (one run each, or seeds added later): every run keeps the
            # command and commit that made it, and the seeds and summary cover all runs in the file.
            all_cells = sorted({(r["config"], r.get("variant", "")) for r in runs})
            payload = {
                "command": command,
                "seeds": sorted({r["seed"] for r in runs}),
                "commit": commit,
                "machine": machine_info(),
                "runs": runs,
                "summary": {
                    (f"{c} [{v}]" if v else c): summarise(
                        [r for r in runs if r["config"] == c and r.get("variant", "") == v]
                    )
                    for c, v in all_cells
                },
            }
            write_json_atomic(opts.out, payload)
    print(f"[benchmark] wrote {opts.out} ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
