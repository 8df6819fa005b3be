"""Print the README's benchmark tables (markdown) from benchmarks/results/*.json.

    python benchmarks/summarise.py
"""

from __future__ import annotations

import json
import os
import sys

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _load(name: str):
    path = os.path.join(RESULTS, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _cell(summary: dict, key: str) -> str:
    if key not in summary:
        return "n/a"
    s = summary[key]
    return f"{s['mean']:.3f} ± {s['std']:.3f}" if s["n"] > 1 else f"{s['mean']:.3f}"


def _scores(summary: dict) -> str:
    """The ``ACC | NMI | ARI`` cells of a row."""
    return " | ".join(_cell(summary, key) for key in ("acc", "nmi", "ari"))


def main() -> int:
    rows = []
    for name, label_of in (
        ("digits_gt_baselines.json", lambda c: f"{os.path.basename(c)[:-5]} (40 labels)"),
        ("digits_asd.json", lambda c: f"{os.path.basename(c)[:-5]} (no labels)"),
    ):
        data = _load(name)
        if data is None:
            continue
        for config, summary in data["summary"].items():
            n = summary.get("acc", {}).get("n", 0)
            if n == 0:
                continue
            rows.append((label_of(config.split(" [")[0]), n, summary, data["commit"], name))
    print("| run | seeds | top-1 | ACC | NMI | ARI | s / run |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, n, summary, commit, name in rows:
        top1 = _cell(summary, "top1") if "(no labels)" not in label else "–"
        print(f"| {label} | {n} | {top1} | {_scores(summary)} | {summary['wall_s']['median']:.0f} |")
    classical = _load("digits_classical.json")
    if classical:
        for method, summary in classical["summary"].items():
            print(f"| {method} (raw pixels, test split) | {summary['acc']['n']} | – | {_scores(summary)} | "
                  f"{summary['wall_s']['median']:.1f} |")
    ablations = _load("digits_asd_ablations.json")
    if ablations:
        print()
        print("| ASD + FreeMatch variant | seeds | ACC | NMI | ARI |")
        print("| --- | --- | --- | --- | --- |")
        main_runs = (_load("digits_asd.json") or {}).get("runs", [])
        default = [r for r in main_runs if r["config"].endswith("asd_freematch_digits.yaml")
                   and r["seed"] in ablations["seeds"]]
        if default:
            from run_configs import summarise

            summary = summarise(default)
            print(f"| default (uniform sampler, OT, CTT map; runs of digits_asd.json) | {summary['acc']['n']} | "
                  f"{_scores(summary)} |")
        for key, summary in ablations["summary"].items():
            print(f"| {key.split('[')[-1].rstrip(']')} | {summary['acc']['n']} | {_scores(summary)} |")
    overhead = _load("digits_asd_overhead.json")
    if overhead:
        print()
        print(f"ASD + FreeMatch / FreeMatch time per iteration: {overhead['ratio_median']:.3f} "
              f"(median of {len(overhead['ratio_per_repeat'])} alternating pairs: "
              + ", ".join(f"{r:.3f}" for r in overhead["ratio_per_repeat"]) + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
