"""Markdown table of the real-pair domain-adaptation benchmark (docs/DOMAIN_ADAPTATION.md).

    python benchmarks/da_table.py            # reads benchmarks/results/da_<source>_<target>.json

Target top-1 on the target's test split, final model, per seed and as mean
± sample standard deviation; paired differences (same seed) DANN - source-only
and DANN + CM - DANN. Only seeds present in every cell of a direction are used.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Dict, List, Optional

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DIRECTIONS = (("mnist5k", "digits"), ("digits", "mnist5k"))
SETUPS = (("source_only", "source-only"), ("dann", "DANN"), ("dann_supercm", "DANN + CM"))
#: Shown for comparison over the same seeds, but not part of the pairing (a run may be missing).
COMPARISON = ("supercm_fixmatch", "FixMatch + CM")


def _top1_by_seed(data: dict, setup: str, pair: str) -> Dict[int, float]:
    config = f"config/da_{setup}_{pair}.yaml"
    return {int(r["seed"]): float(r["top1"]) for r in data.get("runs", []) if r["config"] == config}


def _fmt(values: List[float]) -> str:
    if not values:
        return "n/a"
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.1f} ± {100 * std:.1f}"


def _diff(a: Dict[int, float], b: Dict[int, float], seeds: List[int]) -> str:
    d = [100 * (b[s] - a[s]) for s in seeds]
    if not d:
        return "n/a"
    return f"{statistics.fmean(d):+.1f} (min {min(d):+.1f}, max {max(d):+.1f})"


def table(results_dir: str = RESULTS) -> Optional[str]:
    """The markdown table, or None when no result file exists."""
    lines = ["| direction | seeds | source-only | DANN | DANN + CM | DANN - source-only | DANN + CM - DANN "
             "| FixMatch + CM |",
             "|---|---|---|---|---|---|---|---|"]
    per_seed = ["", "Per seed (target top-1, %):", ""]
    found = False
    for source, target in DIRECTIONS:
        pair = f"{source}_{target}"
        path = os.path.join(results_dir, f"da_{pair}.json")
        if not os.path.exists(path):
            continue
        found = True
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        cells = {setup: _top1_by_seed(data, setup, pair) for setup, _ in SETUPS}
        seeds = sorted(set.intersection(*(set(c) for c in cells.values())))
        means = [_fmt([cells[s][k] for k in seeds]) for s, _ in SETUPS]
        comparison = _top1_by_seed(data, COMPARISON[0], pair)
        cmp_seeds = [k for k in seeds if k in comparison]
        cmp_cell = _fmt([comparison[k] for k in cmp_seeds])
        if cmp_seeds and cmp_seeds != seeds:
            cmp_cell += f" (seeds {' '.join(map(str, cmp_seeds))})"
        lines.append(f"| {source} -> {target} | {' '.join(map(str, seeds)) or 'none'} | {' | '.join(means)} | "
                     f"{_diff(cells['source_only'], cells['dann'], seeds)} | "
                     f"{_diff(cells['dann'], cells['dann_supercm'], seeds)} | {cmp_cell} |")
        listed = {**cells, COMPARISON[0]: comparison}
        for setup, label in SETUPS + ((COMPARISON,) if comparison else ()):
            values = ", ".join(f"{s}: {100 * listed[setup][s]:.1f}" for s in sorted(listed[setup]))
            per_seed.append(f"- {source} -> {target}, {label}: {values or 'none'}")
    if not found:
        return None
    return "\n".join(lines + per_seed)


def main() -> int:
    text = table()
    if text is None:
        print(f"no benchmark results in {RESULTS}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
