"""The comparison's PNG figures, drawn with matplotlib's Agg canvas (no display, no pyplot state).

* :func:`plot_accuracy_bars`: accuracy per learner with and without ground truth;
* :func:`plot_confusion`: confusion matrix of a clustering, clusters matched to classes;
* :func:`plot_history`: accuracy over training iterations, ASD vs ground truth.
"""

from __future__ import annotations

import statistics
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.atomic_io import write_atomic
from ..metrics import hungarian_match
from .aggregate import ASD, GROUND_TRUTH, Row, label_text

DPI = 120
#: ASD is orange everywhere; ground-truth settings take these in order; classical lines are grey.
ASD_COLOUR = "tab:orange"
GT_COLOURS = ("tab:blue", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")
CLASSICAL_STYLES = ("--", ":", "-.")


def setting_colour(settings: Sequence[Any], setting: Any) -> str:
    """The colour of a label setting: orange for ASD, then :data:`GT_COLOURS` in the order of ``settings``."""
    if setting == 0:
        return ASD_COLOUR
    ground_truth = [s for s in settings if s != 0]
    return GT_COLOURS[ground_truth.index(setting) % len(GT_COLOURS)]


def setting_name(label: str, kind: str) -> str:
    """Legend text of a label setting: ``no labels, ASD (ACC)`` or ``40 labels (top-1)``."""
    return "no labels, ASD (ACC)" if kind == ASD else f"{label} labels (top-1)"


def headline_metric(kind: str) -> str:
    """``acc`` for ASD rows and classical methods, ``top1`` for ground-truth rows.

    Args:
        kind: A :class:`~usb_asd.compare.aggregate.Row` kind.

    Returns:
        The metric key.
    """
    # Cluster ids of label-free runs are not class ids: only ACC means something there.
    return "top1" if kind == GROUND_TRUTH else "acc"


def _save(fig: Figure, path: str) -> None:
    FigureCanvasAgg(fig)
    # bbox "tight" keeps legends placed outside the axes.
    write_atomic(path, lambda handle: fig.savefig(handle, format="png", dpi=DPI, bbox_inches="tight"), suffix=".png")


def plot_accuracy_bars(rows: Sequence[Row], classical_rows: Sequence[Row], path: str, title: str = "") -> None:
    """Grouped bars: one group per learner, one bar per label setting; error bars = std over seeds.

    ASD bars show ACC, ground-truth bars top-1; classical methods are dashed lines.

    Args:
        rows: :func:`~usb_asd.compare.aggregate.summarise_runs` rows.
        classical_rows: Classical rows.
        path: PNG file to write.
        title: Figure title.
    """
    learners = list(dict.fromkeys(r.method for r in rows))
    settings = list(dict.fromkeys(r.labels for r in rows))
    fig = Figure(figsize=(max(5.0, 1.8 * len(learners) + 2.0), 4.2))
    ax = fig.subplots()
    width = 0.8 / max(1, len(settings))
    for j, setting in enumerate(settings):
        xs, heights, errors = [], [], []
        label = None
        for i, learner in enumerate(learners):
            row = next((r for r in rows if r.method == learner and r.labels == setting), None)
            score = None if row is None else row.scores.get(headline_metric(row.kind))
            if score is None:
                continue
            label = label or setting_name(label_text(row), row.kind)
            xs.append(i + (j - (len(settings) - 1) / 2) * width)
            heights.append(100 * score.mean)
            # No spread from a single run: NaN draws no error bar (rather than a misleading zero).
            errors.append(float("nan") if score.std is None else 100 * score.std)
        if xs:
            ax.bar(xs, heights, width=width * 0.95, yerr=errors, capsize=3, label=label,
                   color=setting_colour(settings, setting))
    for k, row in enumerate(classical_rows):
        score = row.scores.get("acc")
        if score is not None:
            ax.axhline(100 * score.mean, linestyle=CLASSICAL_STYLES[k % len(CLASSICAL_STYLES)], linewidth=1.2,
                       color="0.35", label=f"{row.method} on pixels (ACC)")
    ax.set_xticks(range(len(learners)))
    ax.set_xticklabels(learners)
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or "Accuracy with and without ground-truth labels")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    _save(fig, path)


def matched_confusion(y_true: np.ndarray, y_pred: np.ndarray) -> Tuple[np.ndarray, List[int], bool]:
    """Confusion matrix after mapping clusters to classes one-to-one (Hungarian matching).

    Args:
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Cluster ids ``(n,)``.

    Returns:
        ``(matrix, classes, has_unmatched)``: ``matrix[i, j]`` counts samples of
        ``classes[i]`` whose cluster maps to ``classes[j]``; with more clusters
        than classes a last column counts the samples of unmatched clusters. The
        diagonal sums to ACC times ``n``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    mapping = hungarian_match(y_true, y_pred)
    classes = sorted(int(c) for c in np.unique(y_true))
    column = {c: j for j, c in enumerate(classes)}
    unmatched = len(classes)
    mapped = np.array([column.get(mapping.get(int(p), -1), unmatched) for p in y_pred], dtype=np.int64)
    rows = np.array([column[int(t)] for t in y_true], dtype=np.int64)
    has_unmatched = bool(np.any(mapped == unmatched))
    matrix = np.zeros((len(classes), len(classes) + int(has_unmatched)), dtype=np.int64)
    np.add.at(matrix, (rows, mapped), 1)
    return matrix, classes, has_unmatched


def plot_confusion(y_true: np.ndarray, y_pred: np.ndarray, path: str, title: str = "") -> None:
    """Confusion matrix of a run's test predictions, clusters matched to classes, with counts.

    Args:
        y_true: Ground-truth classes ``(n,)``.
        y_pred: Cluster (or class) ids ``(n,)``.
        path: PNG file to write.
        title: Figure title.
    """
    matrix, classes, has_unmatched = matched_confusion(y_true, y_pred)
    columns = [str(c) for c in classes] + (["unmatched"] if has_unmatched else [])
    fig = Figure(figsize=(1.0 + 0.45 * len(columns), 1.0 + 0.45 * len(classes)))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if len(columns) <= 30:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if matrix[i, j] > threshold else "black")
    ax.set_xticks(range(len(columns)))
    ax.set_xticklabels(columns, rotation=90 if has_unmatched else 0, fontsize=8)
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels([str(c) for c in classes], fontsize=8)
    ax.set_xlabel("predicted class (cluster matched by Hungarian matching)")
    ax.set_ylabel("true class")
    acc = np.trace(matrix[:, : len(classes)]) / max(1, matrix.sum())
    ax.set_title(title or f"Confusion matrix (ACC {100 * acc:.1f}%)", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def mean_curve(histories: Sequence[List[Dict[str, Any]]], metric: str) -> Tuple[List[int], List[float], List[float]]:
    """Mean and sample std of a score over runs, at the iterations every run evaluated.

    Args:
        histories: One eval history per run (``[{"it", metric...}]``).
        metric: ``acc`` or ``top1``.

    Returns:
        ``(iterations, means, stds)``; stds are 0 for a single run.
    """
    per_run = [{e["it"]: e.get(metric) for e in h if e.get(metric) is not None} for h in histories]
    common = sorted(set.intersection(*(set(p) for p in per_run))) if per_run else []
    means, stds = [], []
    for it in common:
        values = [p[it] for p in per_run]
        means.append(statistics.fmean(values))
        stds.append(statistics.stdev(values) if len(values) > 1 else 0.0)
    return common, means, stds


def plot_history(runs: Sequence[Dict[str, Any]], path: str, title: str = "") -> None:
    """Accuracy over training iterations: one panel per learner, one line per label setting.

    ASD lines show ACC, ground-truth lines top-1; bands are one std over seeds.

    Args:
        runs: ``{"learner", "labels", "kind", "evals"}`` per run (``kind`` as in
            :class:`~usb_asd.compare.aggregate.Row`, ``evals`` its eval history).
        path: PNG file to write.
        title: Figure title.
    """
    learners = list(dict.fromkeys(r["learner"] for r in runs))
    settings = list(dict.fromkeys(r["labels"] for r in runs))
    cols = max(1, min(4, len(learners)))
    nrows = (len(learners) + cols - 1) // cols
    fig = Figure(figsize=(3.6 * cols + 0.5, 3.0 * nrows + 0.6))
    axes = np.atleast_1d(fig.subplots(nrows, cols, sharey=True, squeeze=False)).ravel()
    for ax, learner in zip(axes, learners):
        for setting in settings:
            mine = [r for r in runs if r["learner"] == learner and r["labels"] == setting]
            if not mine:
                continue
            metric = headline_metric(mine[0]["kind"])
            its, means, stds = mean_curve([r["evals"] for r in mine], metric)
            if not its:
                continue
            colour = setting_colour(settings, setting)
            name = setting_name(str(setting), mine[0]["kind"])
            m, s = 100 * np.array(means), 100 * np.array(stds)
            ax.plot(its, m, marker="o", markersize=3, color=colour, label=name)
            ax.fill_between(its, m - s, m + s, color=colour, alpha=0.2)
        ax.set_title(learner, fontsize=10)
        ax.set_xlabel("training iteration")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="best")
    for ax in axes[len(learners):]:
        ax.set_visible(False)
    axes[0].set_ylabel("test accuracy (%)")
    fig.suptitle(title or "Accuracy over training, with and without ground-truth labels", fontsize=11)
    fig.tight_layout()
    _save(fig, path)
