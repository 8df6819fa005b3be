"""From run records to the comparison table: mean, spread, and the ASD vs ground-truth gap.

A run record (one per finished cell, see :func:`usb_asd.compare.report.grid_record`)
has ``learner``, ``labels`` (``0`` = ASD, a count, or ``"all"``),
``num_labels``, ``seed`` and the scores ``acc``, ``nmi``, ``ari``, ``top1``
(fractions in ``[0, 1]``, ``None`` when missing). A classical record has
``method``, ``seed``, ``acc``, ``nmi``, ``ari``.

Spread is the sample standard deviation over seeds (``n - 1`` in the
denominator); with one run it is undefined and shown as such. The gap of a
learner is the mean ACC of its ASD cell minus the mean top-1 of one of its
ground-truth cells, in percentage points: ACC is the only score a label-free
run has (its cluster ids are not class ids), top-1 the usual score of a run
trained with labels.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .grid import ASD_LABELS, LabelSetting

#: Scores of the table, in column order.
METRICS = ("acc", "nmi", "ari", "top1")
METRIC_TITLES = {"acc": "ACC", "nmi": "NMI", "ari": "ARI", "top1": "top-1"}

ASD, GROUND_TRUTH, CLASSICAL = "asd", "ground truth", "classical"


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation of one score over runs.

    Args:
        mean: The mean.
        std: Sample standard deviation; ``None`` for a single run.
        n: Runs the score was found in.
    """

    mean: float
    std: Optional[float]
    n: int


def stat(values: Iterable[Optional[float]]) -> Optional[Stat]:
    """:class:`Stat` of the values that are not ``None``.

    Args:
        values: Scores, ``None`` where a run has none.

    Returns:
        The statistic, or ``None`` when no run has the score.
    """
    kept = [float(v) for v in values if v is not None]
    if not kept:
        return None
    return Stat(mean=statistics.fmean(kept), std=statistics.stdev(kept) if len(kept) > 1 else None, n=len(kept))


@dataclass(frozen=True)
class Row:
    """One row of the table: a (learner, labels) cell over seeds, or a classical method.

    Args:
        method: Learner or classical method name.
        kind: :data:`ASD`, :data:`GROUND_TRUTH` or :data:`CLASSICAL`.
        labels: The label setting (``None`` for classical methods).
        num_labels: Labels the runs trained with (``all`` resolved), when known.
        n: Runs (seeds).
        scores: ``{metric: Stat or None}`` for :data:`METRICS`.
    """

    method: str
    kind: str
    labels: Optional[LabelSetting]
    num_labels: Optional[int]
    n: int
    scores: Dict[str, Optional[Stat]]


def _ordered(values: Iterable[Any], order: Optional[Sequence[Any]] = None) -> List[Any]:
    seen: List[Any] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    if order is None:
        return seen
    return [v for v in order if v in seen] + [v for v in seen if v not in order]


def summarise_runs(runs: Sequence[Dict[str, Any]], learners: Optional[Sequence[str]] = None,
                   labels: Optional[Sequence[LabelSetting]] = None) -> List[Row]:
    """One row per (learner, labels) pair found in ``runs``.

    Args:
        runs: Grid run records.
        learners: Row order of learners (others follow in order of appearance).
        labels: Row order of label settings within a learner.

    Returns:
        Rows, learner-major. ASD rows have no top-1: cluster ids are not class ids.
    """
    rows = []
    for learner in _ordered((r["learner"] for r in runs), learners):
        mine = [r for r in runs if r["learner"] == learner]
        for label in _ordered((r["labels"] for r in mine), labels):
            cell = [r for r in mine if r["labels"] == label]
            is_asd = label == ASD_LABELS
            scores = {m: (None if is_asd and m == "top1" else stat(r.get(m) for r in cell)) for m in METRICS}
            counts = {r.get("num_labels") for r in cell} - {None}
            rows.append(Row(
                method=learner, kind=ASD if is_asd else GROUND_TRUTH, labels=label,
                num_labels=counts.pop() if len(counts) == 1 else None, n=len(cell), scores=scores,
            ))
    return rows


def summarise_classical(runs: Sequence[Dict[str, Any]], methods: Optional[Sequence[str]] = None) -> List[Row]:
    """One row per classical method.

    Args:
        runs: Classical records.
        methods: Row order.

    Returns:
        Rows (no top-1: clusterings have no class ids).
    """
    rows = []
    for method in _ordered((r["method"] for r in runs), methods):
        mine = [r for r in runs if r["method"] == method]
        scores = {m: (None if m == "top1" else stat(r.get(m) for r in mine)) for m in METRICS}
        rows.append(Row(method=method, kind=CLASSICAL, labels=None, num_labels=0, n=len(mine), scores=scores))
    return rows


@dataclass(frozen=True)
class Gap:
    """ASD vs ground truth for one learner and one ground-truth label setting.

    Args:
        learner: The learner.
        gt_labels: The ground-truth cell's label setting.
        asd_acc: ACC of the ASD cell.
        gt_top1: top-1 of the ground-truth cell.
    """

    learner: str
    gt_labels: LabelSetting
    asd_acc: Stat
    gt_top1: Stat

    @property
    def points(self) -> float:
        """Mean ASD ACC minus mean ground-truth top-1, in percentage points (negative: ASD is behind)."""
        return 100.0 * (self.asd_acc.mean - self.gt_top1.mean)


def gaps(rows: Sequence[Row]) -> List[Gap]:
    """Every (learner, ground-truth setting) gap that both cells exist for.

    Args:
        rows: :func:`summarise_runs` rows.

    Returns:
        Gaps, in row order.
    """
    out = []
    for asd in (r for r in rows if r.kind == ASD and r.scores["acc"] is not None):
        for gt in (r for r in rows if r.kind == GROUND_TRUTH and r.method == asd.method):
            if gt.scores["top1"] is not None:
                out.append(Gap(asd.method, gt.labels, asd.scores["acc"], gt.scores["top1"]))
    return out


# ---- markdown ----------------------------------------------------------------


def format_stat(value: Optional[Stat]) -> str:
    """``85.3 ± 1.2`` in percent; ``85.3 ± n/a`` for one run; ``—`` for no score.

    Args:
        value: A statistic of fractions.

    Returns:
        The text.
    """
    if value is None:
        return "—"
    spread = "n/a" if value.std is None else f"{100 * value.std:.1f}"
    return f"{100 * value.mean:.1f} ± {spread}"


def format_points(points: float) -> str:
    """A signed difference in points, ``+1.2`` / ``-3.4``."""
    return f"{points:+.1f}"


def label_text(row: Row) -> str:
    """The label column: ``0 (ASD)``, ``40``, ``all (1390)``, ``0 (pixels)``."""
    if row.kind == CLASSICAL:
        return "0 (pixels)"
    if row.kind == ASD:
        return "0 (ASD)"
    if isinstance(row.labels, str) and row.num_labels is not None and row.num_labels > 0:
        return f"{row.labels} ({row.num_labels})"
    return str(row.labels)


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return lines


def scores_table(rows: Sequence[Row]) -> List[str]:
    """Markdown lines of the scores table: method, ground-truth labels, n, then :data:`METRICS`.

    Args:
        rows: Learner rows then classical rows.

    Returns:
        Lines.
    """
    header = ["Method", "Ground-truth labels", "n"] + [METRIC_TITLES[m] for m in METRICS]
    body = [[row.method, label_text(row), str(row.n)] + [format_stat(row.scores[m]) for m in METRICS]
            for row in rows]
    return _table(header, body)


def gap_table(rows: Sequence[Row]) -> List[str]:
    """Markdown lines of the gap table: one row per learner with an ASD cell, one column per ground-truth setting.

    Args:
        rows: :func:`summarise_runs` rows.

    Returns:
        Lines (empty when no learner has both an ASD and a ground-truth cell).
    """
    found = gaps(rows)
    if not found:
        return []
    settings = _ordered(g.gt_labels for g in found)
    by_key = {(g.learner, g.gt_labels): g for g in found}
    header = ["Learner", "ASD ACC"] + [f"vs {s} labels: gap (top-1)" for s in settings]
    body = []
    for learner in _ordered(g.learner for g in found):
        asd = next(g.asd_acc for g in found if g.learner == learner)
        cells = [learner, format_stat(asd)]
        for setting in settings:
            gap = by_key.get((learner, setting))
            cells.append("n/a" if gap is None else f"{format_points(gap.points)} ({100 * gap.gt_top1.mean:.1f})")
        body.append(cells)
    return _table(header, body)


def render_markdown(title: str, notes: Sequence[str], rows: Sequence[Row], classical_rows: Sequence[Row],
                    missing: Sequence[str] = ()) -> str:
    """The whole ``results.md``.

    Args:
        title: First heading.
        notes: Paragraph lines under it (settings, provenance).
        rows: :func:`summarise_runs` rows.
        classical_rows: :func:`summarise_classical` rows (same table).
        missing: Cells not finished yet, listed so a partial table is not mistaken for a whole one.

    Returns:
        Markdown text.
    """
    lines = [f"# {title}", ""]
    lines += list(notes) + [""]
    lines += [
        "Scores on the test split, in %, mean ± sample standard deviation over seeds (n runs). "
        "ACC is clustering accuracy (clusters matched to classes by the Hungarian algorithm); "
        "top-1 is plain accuracy, which only runs trained with labels have (— elsewhere).",
        "",
    ]
    lines += scores_table(list(rows) + list(classical_rows)) + [""]
    table = gap_table(rows)
    if table:
        lines += [
            "## ASD vs ground truth",
            "",
            "Mean ACC of the learner without any label (ASD) minus mean top-1 of the same learner "
            "trained with ground-truth labels, in percentage points (negative: ASD is behind); "
            "the ground-truth top-1 in parentheses.",
            "",
        ]
        lines += table + [""]
    if missing:
        lines += [f"Not finished ({len(missing)} cells): " + ", ".join(missing), ""]
    return "\n".join(lines)
