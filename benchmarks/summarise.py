"""Print the README's benchmark tables (markdown) from benchmarks/results/*.json.

    python benchmarks/summarise.py
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

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


def _variant_rows(data: dict):
    """``(variant, summary, runs)`` of each ``--variant`` of a run_configs file that has a finished run."""
    for key, summary in data["summary"].items():
        if "acc" not in summary:  # a variant with no finished run yet
            continue
        variant = key.split("[")[-1].rstrip("]")
        yield variant, summary, [r for r in data["runs"] if r.get("variant") == variant]


def main() -> int:
    rows = []
    for name, label_of in (
        ("digits_gt_baselines.json", lambda c: f"{os.path.basename(c)[:-5]} (40 labels)"),
        ("digits_asd.json", lambda c: f"{os.path.basename(c)[:-5]} (no labels)"),
        ("digits_asd_linear.json", lambda c: f"{os.path.basename(c)[:-5]} (no labels, linear k-Medoids distance)"),
        # asd_mapping: features (not the paper's map); one file per config (run_configs summarises one invocation).
        *((name, lambda c: f"{os.path.basename(c)[:-5]} (no labels, k-means map on features)")
          for name in ("digits_asd_feature_map.json", "digits_asd_feature_map_fixmatch.json",
                       "digits_asd_feature_map_supercm.json")),
        *((name, lambda c: f"{os.path.basename(c)[:-5]} (no labels, spectral-clustering map on features)")
          for name in ("digits_asd_feature_spectral.json", "digits_asd_feature_spectral_fixmatch.json")),
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
        top1 = _cell(summary, "top1") if "(no labels" not in label else "–"
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
        from run_configs import summarise

        for name, label, variants_file, prefix in (
            ("digits_asd.json", "default (uniform sampler, OT, CTT map, spectral distance)",
             "digits_asd_ablations_spectral.json", "spectral"),
            ("digits_asd_linear.json", "linear distance", "digits_asd_ablations.json", "linear"),
        ):
            runs = [r for seed, r in _runs_of(name, "/asd_freematch_digits.yaml").items() if seed in ablations["seeds"]]
            if runs:
                summary = summarise(runs)
                print(f"| {label}; runs of {name} | {summary['acc']['n']} | {_scores(summary)} |")
            for variant, summary, _ in _variant_rows(_load(variants_file) or {"summary": {}}):
                print(f"| {prefix} + {variant} | {summary['acc']['n']} | {_scores(summary)} |")
    round_iter = _load("digits_asd_round_iter.json")
    if round_iter:
        print()
        print("| ASD + FreeMatch (linear distance), further seeds | seeds | ACC (per seed) | NMI | ARI |")
        print("| --- | --- | --- | --- | --- |")
        for variant, summary, runs in _variant_rows(round_iter):
            accs = ", ".join(f"{r['acc']:.3f}" for r in runs)
            print(f"| {variant} | {summary['acc']['n']} | {_cell(summary, 'acc')} ({accs}) | "
                  f"{_cell(summary, 'nmi')} | {_cell(summary, 'ari')} |")
    print_distance_table()
    print_label_source_table()
    overhead = _load("digits_asd_overhead.json")
    if overhead:
        print()
        print(f"ASD + FreeMatch / FreeMatch time per iteration: {overhead['ratio_median']:.3f} "
              f"(median of {len(overhead['ratio_per_repeat'])} alternating pairs: "
              + ", ".join(f"{r:.3f}" for r in overhead["ratio_per_repeat"]) + ")")
        if "step_ratio_median" in overhead:
            print(f"  the step alone (USB's train/run_time, median): {overhead['step_ratio_median']:.3f}")
    print_supercm_tables()
    return 0


def _runs_of(name: str, config_suffix: str, variant: Optional[str] = None) -> dict:
    """``{seed: record}`` of one config's runs in one results file (of one ``--variant``, if given)."""
    data = _load(name) or {}
    return {r["seed"]: r for r in data.get("runs", [])
            if r["config"].endswith(config_suffix) and (variant is None or r.get("variant") == variant)}


def _mean_std(values) -> str:
    import statistics

    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f} (median {statistics.median(values):.3f})"


def _paired_row(label: str, key: str, without: dict, with_cm: dict) -> str:
    """A row: score without / with SuperCM over the seeds both have, and the paired difference in points."""
    seeds = sorted(set(without) & set(with_cm))
    a = [without[s][key] for s in seeds]
    b = [with_cm[s][key] for s in seeds]
    diffs = [100 * (y - x) for x, y in zip(a, b)]
    per_seed = ", ".join(f"{d:+.1f}" for d in diffs)
    import statistics

    mean = statistics.fmean(diffs) if diffs else float("nan")
    median = statistics.median(diffs) if diffs else float("nan")
    return (f"| {label} | {len(seeds)} | {_mean_std(a)} | {_mean_std(b)} | mean {mean:+.1f}, median {median:+.1f} "
            f"({per_seed}) |")


def _print_paired_table(headers, rows) -> None:
    """A markdown table of :func:`_paired_row` rows ``(label, key, before, after)``; rows missing a side are left out."""
    rows = [r for r in rows if r[2] and r[3]]
    if rows:
        print()
        print(f"| {headers[0]} | seeds | {headers[1]} | {headers[2]} | paired difference, points (per seed) |")
        print("| --- | --- | --- | --- | --- |")
        for label, key, before, after in rows:
            print(_paired_row(label, key, before, after))


def _grid_asd_runs(folder: str, learner: str) -> dict:
    """``{seed: run}`` of one learner's ASD cells in a comparison grid's results.json."""
    data = _load(os.path.join(folder, "results.json")) or {}
    return {r["seed"]: r for r in data.get("runs", []) if r["learner"] == learner and r["labels"] == 0}


def print_distance_table() -> None:
    """ASD, spectral (default) vs linear k-Medoids distance, paired by seed (same sample draws until the maps differ)."""
    linear_freematch = _runs_of("digits_asd_linear.json", "/asd_freematch_digits.yaml")
    # Seeds 3-4 of the linear default: the round500 variant is that same configuration.
    linear_freematch.update(_runs_of("digits_asd_round_iter.json", "/asd_freematch_digits.yaml", variant="round500"))
    spectral_freematch = _default_freematch_runs()
    rows = [
        ("ASD + FreeMatch (ACC)", "acc", linear_freematch, spectral_freematch),
        ("ASD + FreeMatch (NMI)", "nmi", linear_freematch, spectral_freematch),
        ("ASD + FixMatch (ACC)", "acc", _runs_of("digits_asd_linear.json", "/asd_fixmatch_digits.yaml"),
         _runs_of("digits_asd.json", "/asd_fixmatch_digits.yaml")),
    ]
    # The comparison grid's ASD cells (1,000 iterations), before and after the switch.
    for learner in ("fixmatch", "freematch", "flexmatch", "softmatch"):
        rows.append((f"grid: ASD + {learner}, 1,000 iterations (ACC)", "acc",
                     _grid_asd_runs("compare_digits_1000_linear", learner), _grid_asd_runs("compare_digits_1000", learner)))
    _print_paired_table(("k-Medoids distance", "linear", "spectral"), rows)


def _default_freematch_runs() -> dict:
    """``{seed: record}`` of ASD + FreeMatch at the defaults (spectral distance), seeds 0-4."""
    runs = _runs_of("digits_asd.json", "/asd_freematch_digits.yaml")
    runs.update(_runs_of("digits_asd_seeds34.json", "/asd_freematch_digits.yaml"))
    return runs


def _default_supercm_runs() -> dict:
    """``{seed: record}`` of ASD + FreeMatch + SuperCM at the defaults, seeds 0-4."""
    runs = _runs_of("digits_asd_supercm.json", "/asd_supercm_freematch_digits.yaml")
    runs.update(_runs_of("digits_asd_supercm_seeds34.json", "/asd_supercm_freematch_digits.yaml"))
    return runs


def print_label_source_table() -> None:
    """How the sampled instances get their cluster labels: variants against the default, paired by seed."""
    default = _default_freematch_runs()
    rows = []
    for label, name, variant in (
        ("FreeMatch, redraw labels: posterior", "digits_asd_redraw_labels.json", "posterior"),
        ("FreeMatch, map: k-means on features", "digits_asd_feature_map.json", "features"),
    ):
        runs = _runs_of(name, "/asd_freematch_digits.yaml", variant=variant)
        rows.append((f"{label} (ACC)", "acc", default, runs))
        rows.append((f"{label} (NMI)", "nmi", default, runs))
    rows.append(("FixMatch, map: k-means on features (ACC)", "acc",
                 _runs_of("digits_asd.json", "/asd_fixmatch_digits.yaml"),
                 _runs_of("digits_asd_feature_map_fixmatch.json", "/asd_fixmatch_digits.yaml", variant="features")))
    for learner in ("fixmatch", "freematch", "flexmatch", "softmatch"):
        rows.append((f"grid: {learner}, 1,000 iterations, map: k-means on features (ACC)", "acc",
                     _grid_asd_runs("compare_digits_1000", learner),
                     _grid_asd_runs("compare_digits_1000_features", learner)))
    _print_paired_table(("ASD + learner, labels of the sampled instances", "default", "variant"), rows)
    rows = []
    for learner, suffix, kmeans_name, spectral_name in (
        ("FreeMatch", "/asd_freematch_digits.yaml", "digits_asd_feature_map.json", "digits_asd_feature_spectral.json"),
        ("FixMatch", "/asd_fixmatch_digits.yaml", "digits_asd_feature_map_fixmatch.json",
         "digits_asd_feature_spectral_fixmatch.json"),
    ):
        kmeans = _runs_of(kmeans_name, suffix, variant="features")
        spectral = _runs_of(spectral_name, suffix, variant="features_spectral")
        rows.append((f"{learner} (ACC)", "acc", kmeans, spectral))
        rows.append((f"{learner} (NMI)", "nmi", kmeans, spectral))
    _print_paired_table(("ASD + learner, asd_mapping: features", "kmeans", "spectral"), rows)


def print_supercm_tables() -> None:
    """SuperCM: with vs without it (paired by seed: same labelled draw), standalone, domain adaptation."""
    rows = [
        ("FixMatch, 10 labels (top-1)", "top1", _runs_of("digits_supercm_10.json", "/fixmatch_digits_10.yaml"),
         _runs_of("digits_supercm_10.json", "/supercm_fixmatch_digits_10.yaml")),
        ("FixMatch, 40 labels (top-1)", "top1", _runs_of("digits_gt_baselines.json", "/fixmatch_digits_40.yaml"),
         _runs_of("digits_supercm_40.json", "/supercm_fixmatch_digits_40.yaml")),
        ("ASD + FreeMatch, no labels (ACC)", "acc", _default_freematch_runs(), _default_supercm_runs()),
        ("ASD + FreeMatch, no labels, linear k-Medoids distance (ACC)", "acc",
         _runs_of("digits_asd_linear.json", "/asd_freematch_digits.yaml"),
         _runs_of("digits_asd_supercm_linear.json", "/asd_supercm_freematch_digits.yaml")),
        ("ASD + FreeMatch, no labels, k-means map on features (ACC)", "acc",
         _runs_of("digits_asd_feature_map.json", "/asd_freematch_digits.yaml", variant="features"),
         _runs_of("digits_asd_feature_map_supercm.json", "/asd_supercm_freematch_digits.yaml", variant="features")),
        ("domain adaptation digits -> digits_restyled, CE (target top-1; without = source only)", "top1",
         _runs_of("digits_da.json", "/da_source_only_digits.yaml"), _runs_of("digits_da.json", "/da_supercm_digits.yaml")),
        ("domain adaptation digits -> digits_restyled, FixMatch (target top-1)", "top1",
         _runs_of("digits_da_fixmatch.json", "/da_fixmatch_digits.yaml"),
         _runs_of("digits_da_fixmatch.json", "/da_supercm_fixmatch_digits.yaml")),
    ]
    _print_paired_table(("run", "without SuperCM", "with SuperCM"), rows)
    standalone = _runs_of("digits_supercm_standalone.json", "/supercm_digits_10.yaml")
    if standalone:
        top1 = [r["top1"] for r in standalone.values()]
        print()
        print(f"Standalone SuperCM (CE + CM, no SSL term), 10 labels: top-1 {_mean_std(top1)} "
              f"over {len(top1)} seeds (" + ", ".join(f"{v:.3f}" for v in top1) + ")")


if __name__ == "__main__":
    sys.exit(main())
