"""``python -m usb_asd.choose_k``: choose the number of clusters k without labels.

    python -m usb_asd.choose_k --c config/asd_freematch_folder.yaml --k 2 3 4 5 \\
        [--seeds 0 1] [--num_train_iter 300] [--out saved_models/choose_k] [--data_dir photos/]

For every k it trains one short ASD run per seed (the config's settings, with
``num_classes: k``), reads each run's partition of the training pool from its
``assignments.csv``, and scores k by the **stability of the partition across
seeds**: the mean adjusted Rand index (ARI) between the partitions of every
pair of seeds. No label is read.

Why stability (Ben-Hur, Elisseeff and Guyon, PSB 2002; Lange et al., Neural
Computation 2004): when k matches structure in the data, runs that differ only
in their seed (initialisation, sampled instances, batches) find the same
groups; when k is too large, some group must be split and the split falls
differently from seed to seed; when k is too small, which groups merge often
varies too. ARI is chance-corrected, so scores of different k compare.

The rule, as Ben-Hur et al. read their stability curves: among the k whose
runs fill all k clusters in every seed (a run that leaves clusters empty has
not found k groups, and identical one-cluster partitions would otherwise agree
perfectly), take the **largest k whose agreement is within ``tolerance`` of
the best** (default 0.05). "Largest" because a coarser partition of
well-separated groups (merging the two nearest) can be as stable as the true
one; the first k past the structure is not. Writes ``choose_k.csv``,
``choose_k.md`` and ``choose_k.png`` in ``--out``; reruns reuse finished runs
(refusing those trained on other data). The config, every k's settings and the
data are checked before the first run, and each run replaces an earlier one in
``--out`` only at its first checkpoint (as train.py does), so a mistake leaves
``--out`` as it was.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
from sklearn.metrics import adjusted_rand_score

from .errors import UserError

#: Agreement within this much of the best counts as stable (default of ``--tolerance``).
TOLERANCE = 0.05


@dataclass
class KScore:
    """The stability of one k.

    Args:
        k: Clusters asked for.
        pair_ari: ARI of every pair of seeds' partitions.
        clusters_used: Non-empty clusters of each seed's partition.
    """

    k: int
    pair_ari: List[float]
    clusters_used: List[int]
    chosen: bool = field(default=False)

    @property
    def agreement(self) -> float:
        """Mean pairwise ARI (the score)."""
        return float(np.mean(self.pair_ari)) if self.pair_ari else float("nan")

    @property
    def fills_k(self) -> bool:
        """Whether every seed's partition uses all k clusters."""
        return all(used == self.k for used in self.clusters_used)


def score_k(k: int, partitions: Sequence[np.ndarray]) -> KScore:
    """Stability of k from the partitions of the same images by runs of different seeds.

    Args:
        k: Clusters asked for.
        partitions: One ``(n,)`` cluster-id array per seed (at least two), same images in the same order.
    """
    if len(partitions) < 2:
        raise ValueError("stability needs the partitions of at least two seeds")
    pairs = [float(adjusted_rand_score(a, b)) for a, b in itertools.combinations(partitions, 2)]
    return KScore(k, pairs, [int(len(np.unique(p))) for p in partitions])


def pick_k(scores: List[KScore], tolerance: float = TOLERANCE) -> KScore:
    """The chosen k (see the module docstring); marks it ``chosen``.

    Args:
        scores: One per k.
        tolerance: Agreement within this much of the best counts as stable.

    Returns:
        The chosen :class:`KScore`. When no k fills its clusters in every seed,
        the rule falls back to all k.
    """
    eligible = [s for s in scores if s.fills_k] or list(scores)
    best = max(s.agreement for s in eligible)
    chosen = max((s for s in eligible if s.agreement >= best - tolerance), key=lambda s: s.k)
    for s in scores:
        s.chosen = s is chosen
    return chosen


def check_request(ks: Sequence[int], seeds: Sequence[int]) -> None:
    """Refuse candidate lists stability cannot score.

    Raises:
        UserError: fewer than two different seeds, or a k below 2.
    """
    if len(set(seeds)) < 2:
        raise UserError(f"--seeds needs at least two different seeds to measure stability, got {list(seeds)}")
    if not ks or min(ks) < 2:
        raise UserError(f"--k needs candidate numbers of clusters >= 2, got {list(ks)}")


def choose_k(ks: Sequence[int], seeds: Sequence[int], partition: Callable[[int, int], np.ndarray],
             tolerance: float = TOLERANCE) -> List[KScore]:
    """Score every k by the agreement of the seeds' partitions and mark the chosen one.

    Args:
        ks: Candidate numbers of clusters.
        seeds: Seeds (at least two).
        partition: ``partition(k, seed) -> (n,)`` cluster ids of the same n images.
        tolerance: See :func:`pick_k`.
    """
    check_request(ks, seeds)
    scores = [score_k(k, [partition(k, seed) for seed in seeds]) for k in sorted(set(ks))]
    pick_k(scores, tolerance)
    return scores


def table_markdown(scores: List[KScore]) -> str:
    """The scores as a Markdown table (the chosen k in bold)."""
    lines = ["| k | agreement (mean ARI across seeds) | min / max pair | clusters used per seed | chosen |",
             "|---|---|---|---|---|"]
    for s in scores:
        k = f"**{s.k}**" if s.chosen else str(s.k)
        lines.append(f"| {k} | {s.agreement:.3f} | {min(s.pair_ari):.3f} / {max(s.pair_ari):.3f} | "
                     f"{', '.join(map(str, s.clusters_used))} | {'yes' if s.chosen else ''} |")
    return "\n".join(lines) + "\n"


def table_csv(scores: List[KScore]) -> str:
    """The scores as CSV: k, agreement, min_pair_ari, max_pair_ari, clusters_used, fills_k, chosen."""
    rows = ["k,agreement,min_pair_ari,max_pair_ari,clusters_used,fills_k,chosen"]
    rows += [f"{s.k},{s.agreement:.6f},{min(s.pair_ari):.6f},{max(s.pair_ari):.6f},"
             f"{' '.join(map(str, s.clusters_used))},{s.fills_k},{s.chosen}" for s in scores]
    return "\n".join(rows) + "\n"


def plot_scores(scores: List[KScore], path: str, title: str = "") -> None:
    """Agreement against k (each pair of seeds as a dot, the mean as a line), the chosen k marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .core.atomic_io import write_figure_atomic

    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
    ks = [s.k for s in scores]
    ax.plot(ks, [s.agreement for s in scores], "-o", color="tab:blue", label="mean over seed pairs")
    for s in scores:
        ax.scatter([s.k] * len(s.pair_ari), s.pair_ari, color="tab:blue", alpha=0.35, s=14)
        if not s.fills_k:
            ax.annotate("empty clusters", (s.k, s.agreement), textcoords="offset points", xytext=(0, -14),
                        ha="center", fontsize=7, color="tab:red")
    chosen = [s for s in scores if s.chosen]
    if chosen:
        ax.axvline(chosen[0].k, color="tab:green", linestyle="--", label=f"chosen k = {chosen[0].k}")
    ax.set_xticks(ks)
    ax.set_xlabel("k (num_classes)")
    ax.set_ylabel("agreement across seeds (ARI)")
    ax.set_ylim(min(-0.05, min(min(s.pair_ari) for s in scores) - 0.05), 1.05)
    ax.set_title(title or "choosing k by stability across seeds", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()

    write_figure_atomic(fig, path)


def run_settings_for(config: str, out: str, settings: Dict[str, object], k: int, seed: int):
    """The settings of the run for ``(k, seed)``: the config's, with ``num_classes: k`` into ``out/k<k>_seed<seed>``.

    Raises:
        UserError: a config that is not a clustering run, or a key it gets wrong.
    """
    from .cli import _extra_arguments
    from .config import parse_config

    overrides = {**settings, "num_classes": k, "seed": seed, "save_dir": out, "save_name": f"k{k}_seed{seed}",
                 "overwrite": True, "resume": False}
    args = parse_config(["--c", config], extra_arguments=_extra_arguments, overrides=overrides)
    if getattr(args, "adaptor", None) != "asd" and int(args.num_labels) != 0:
        raise UserError(f"{config}: choose_k trains clustering runs; set adaptor: asd and num_labels: 0")
    return args


def check_runs(config: str, out: str, settings: Dict[str, object], ks: Sequence[int],
               seeds: Sequence[int]) -> Optional[Dict[str, object]]:
    """Every run's settings and the data, checked before any run trains or any file is written.

    Returns:
        The fingerprint of the training pool (``None`` for data sets USB reads itself).

    Raises:
        UserError: the first problem, naming the setting or file (the largest k is checked
            against the pool, which bounds the others).
    """
    from .data.pool_check import forget_prepared
    from .preflight import check_data
    from .runner import validate_args

    check_request(ks, seeds)
    runs = [run_settings_for(config, out, settings, k, min(seeds)) for k in sorted(set(ks))]
    for args in runs:
        validate_args(args)
    try:
        fingerprints = check_data(runs[-1])
    finally:
        forget_prepared()  # each run checks its data again when it starts
    return (fingerprints or {}).get("pool")


def _trained_on(run_dir: str) -> Optional[Dict[str, object]]:
    """The training pool's fingerprint a finished run recorded in results.json (older runs: ``None``)."""
    import json

    try:
        with open(os.path.join(run_dir, "results.json"), encoding="utf-8") as handle:
            return (json.load(handle).get("data_fingerprint") or {}).get("pool")
    except (OSError, ValueError):
        return None


def run_partition(config: str, out: str, settings: Dict[str, object],
                  pool: Optional[Dict[str, object]] = None) -> Callable[[int, int], np.ndarray]:
    """``partition(k, seed)``: a short ASD run of ``config`` with ``num_classes: k``, its pool partition.

    Finished runs (``assignments.csv`` present) are reused, so a rerun continues, unless they
    were trained on another pool than ``pool`` (:func:`check_runs`), which is refused.
    """
    from .data.pool_check import describe_change
    from .outputs.assignments import read_assignments_csv
    from .runner import main

    def partition(k: int, seed: int) -> np.ndarray:
        name = f"k{k}_seed{seed}"
        csv_path = os.path.join(out, name, "assignments.csv")
        if os.path.isfile(csv_path):
            recorded = _trained_on(os.path.join(out, name))
            change = describe_change(recorded, pool) if recorded and pool else None
            if change:
                raise UserError(f"{os.path.join(out, name)} is a finished run on other data ({change}); its "
                                "partition cannot be compared with this data: use another --out, or remove it")
        else:
            args = run_settings_for(config, out, settings, k, seed)
            print(f"[choose_k] k={k} seed={seed}: training {args.num_train_iter} iterations", flush=True)
            main(args)
        train = [p for p in read_assignments_csv(csv_path) if p.split == "train"][0]
        return train.clusters

    return partition


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(prog="python -m usb_asd.choose_k",
                                description="Rank numbers of clusters k by the stability of ASD's partition across seeds.")
    p.add_argument("--c", required=True, help="a clustering config (adaptor: asd, num_labels: 0)")
    p.add_argument("--k", type=int, nargs="+", required=True, help="candidate numbers of clusters, e.g. 2 3 4 5")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds per k (at least two; default 0 1)")
    p.add_argument("--num_train_iter", type=int, default=None, help="iterations of each run (default: the config's)")
    p.add_argument("--data_dir", default=None, help="data_dir of every run (default: the config's)")
    p.add_argument("--out", default="saved_models/choose_k", help="folder of the runs and the table")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help=f"agreement within this of the best counts as stable (default {TOLERANCE})")
    return p


def run_from_command_line(argv: Optional[List[str]] = None) -> int:
    """Run the search; returns a process exit code (2 on a user error)."""
    from .command_errors import report, split_debug_flag
    from .core.atomic_io import write_text_atomic

    argv, debug = split_debug_flag(list(sys.argv[1:] if argv is None else argv))
    opts = build_parser().parse_args(argv)
    settings: Dict[str, object] = {}
    if opts.num_train_iter is not None:
        settings["num_train_iter"] = opts.num_train_iter
    if opts.data_dir is not None:
        settings["data_dir"] = opts.data_dir
    try:
        # Everything is checked before the first run: a mistake costs no training and leaves --out as it was.
        pool = check_runs(opts.c, opts.out, settings, opts.k, opts.seeds)
        scores = choose_k(opts.k, opts.seeds, run_partition(opts.c, opts.out, settings, pool), opts.tolerance)
    except UserError as error:
        return report(error, debug)
    os.makedirs(opts.out, exist_ok=True)
    write_text_atomic(os.path.join(opts.out, "choose_k.csv"), table_csv(scores))
    write_text_atomic(os.path.join(opts.out, "choose_k.md"), table_markdown(scores))
    plot_scores(scores, os.path.join(opts.out, "choose_k.png"),
                title=f"{os.path.basename(opts.c)}, seeds {', '.join(map(str, opts.seeds))}")
    print(table_markdown(scores))
    chosen = [s for s in scores if s.chosen][0]
    print(f"chosen k = {chosen.k} (agreement {chosen.agreement:.3f}); table and plot in {opts.out}/choose_k.*")
    return 0


if __name__ == "__main__":
    import usb_asd  # noqa: F401

    sys.exit(run_from_command_line())
