"""results.json, results.md and the figures, from every finished cell of a grid.

Everything here is regenerated from the cells' own folders (results.json,
history.json, predictions.npz), so a report is the same whether the grid ran
in one go, was resumed, or is rebuilt alone with ``--report-only``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..core.atomic_io import write_json_atomic, write_text_atomic
from ..core.provenance import git_commit, machine_info
from .aggregate import ASD, GROUND_TRUTH, render_markdown, summarise_classical, summarise_runs
from .execute import read_cell_record
from .figures import plot_accuracy_bars, plot_confusion, plot_history
from .grid import ALL_LABELS, DONE, Cell, GridSpec, cell_dir, cell_state
from .recording import HISTORY_FILE, PREDICTIONS_FILE, read_history, read_predictions

RESULTS_JSON = "results.json"
RESULTS_MD = "results.md"
FIGURES_DIR = "figures"
ACC_FIGURE = "accuracy_by_learner.png"
CONFUSION_FIGURE = "confusion_best_asd.png"
HISTORY_FIGURE = "accuracy_over_iterations.png"


def grid_record(out: str, cell: Cell, record: Dict[str, Any]) -> Dict[str, Any]:
    """A grid run record from a cell's results.json record.

    Args:
        out: The grid's output folder.
        cell: The cell.
        record: Its results.json record (:func:`usb_asd.core.hooks.build_results_record`).

    Returns:
        ``cell``, ``learner``, ``labels``, ``num_labels``, ``seed``, ``acc``,
        ``nmi``, ``ari``, ``top1`` (``None`` for ASD cells, whose cluster ids
        are not class ids), ``wall_s`` (training time over every invocation
        that trained the cell), ``iterations``, ``commit``, ``device``, ``run_dir``.
    """
    return {
        "cell": cell.cell_id,
        "learner": cell.learner,
        "labels": cell.labels,
        "num_labels": record.get("num_labels"),
        "seed": cell.seed,
        "acc": record.get("acc"),
        "nmi": record.get("nmi"),
        "ari": record.get("ari"),
        "top1": None if cell.is_asd else record.get("top1"),
        "wall_s": record.get("wall_s"),
        "iterations": record.get("iterations"),
        "commit": record.get("commit"),
        "device": record.get("device"),
        "run_dir": os.path.relpath(cell_dir(out, cell), out),
    }


def collect_records(out: str, cells: Sequence[Cell]) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Grid records of the finished cells, and the ids of the others.

    Args:
        out: The grid's output folder.
        cells: The grid's cells.

    Returns:
        ``(records, missing cell ids)``, both in grid order.
    """
    records, missing = [], []
    for cell in cells:
        if cell_state(out, cell) == DONE:
            records.append(grid_record(out, cell, read_cell_record(out, cell)))
        else:
            missing.append(cell.cell_id)
    return records, missing


def results_payload(spec: GridSpec, records: List[Dict[str, Any]], classical: List[Dict[str, Any]],
                    missing: List[str], command: str) -> Dict[str, Any]:
    """The content of ``results.json``.

    Args:
        spec: The grid.
        records: Grid records of finished cells.
        classical: Classical baseline runs.
        missing: Unfinished cell ids.
        command: The command line of this invocation.

    Returns:
        The payload.
    """
    return {
        "command": command,
        "commit": git_commit(),
        "machine": machine_info(),
        "grid": {
            "config": spec.config_path,
            "dataset": spec.dataset,
            "learners": spec.learners,
            "labels": spec.labels,
            "seeds": spec.seeds,
            "num_train_iter": spec.num_train_iter,
            "overrides": spec.overrides,
        },
        "scored_split": "test",
        "runs": records,
        "classical": classical,
        "missing": missing,
    }


def write_results_json(spec: GridSpec, records: List[Dict[str, Any]], classical: List[Dict[str, Any]],
                       missing: List[str], command: str) -> str:
    """Write ``<out>/results.json`` atomically.

    Returns:
        Its path.
    """
    path = os.path.join(spec.out, RESULTS_JSON)
    write_json_atomic(path, results_payload(spec, records, classical, missing, command))
    return path


def markdown_notes(spec: GridSpec, records: List[Dict[str, Any]]) -> List[str]:
    """The lines under the title of results.md: settings and provenance."""
    commits = sorted({str(r.get("commit")) for r in records})
    devices = sorted({str(r.get("device")) for r in records})
    notes = [
        f"Learners {', '.join(spec.learners)}; seeds {', '.join(map(str, spec.seeds))}; "
        f"{spec.num_train_iter} training iterations per run; net {spec.setting('net', 'n/a')}; "
        f"devices {', '.join(devices) or 'n/a'}; commits {', '.join(commits) or 'n/a'}.",
    ]
    all_counts = {r["num_labels"] for r in records if r["labels"] == ALL_LABELS}
    if any(count is not None and count < 0 for count in all_counts):
        notes.append("'all' labels: every training image is labelled (num_labels: -1).")
    balanced = sorted(count for count in all_counts if count is not None and count > 0)
    if balanced:
        notes.append(
            f"'all' labels = {', '.join(map(str, balanced))}: every class gets as many labels as the smallest "
            "class has training images (the labelled split draws the same number from every class)."
        )
    return notes


def history_runs(out: str, cells: Sequence[Cell]) -> List[Dict[str, Any]]:
    """Eval histories of finished cells, for :func:`~usb_asd.compare.figures.plot_history`."""
    runs = []
    for cell in cells:
        if cell_state(out, cell) != DONE:
            continue
        evals = read_history(os.path.join(cell_dir(out, cell), HISTORY_FILE))
        if evals:
            runs.append({"learner": cell.learner, "labels": cell.labels, "seed": cell.seed,
                         "kind": ASD if cell.is_asd else GROUND_TRUTH, "evals": evals})
    return runs


def best_asd_run(out: str, records: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The finished ASD record with the highest ACC that saved its predictions (first on ties)."""
    candidates = [r for r in records if r["labels"] == 0 and r.get("acc") is not None
                  and os.path.isfile(os.path.join(out, r["run_dir"], PREDICTIONS_FILE))]
    return max(candidates, key=lambda r: r["acc"]) if candidates else None


def write_figures(spec: GridSpec, cells: Sequence[Cell], records: List[Dict[str, Any]],
                  classical: List[Dict[str, Any]]) -> List[str]:
    """Draw the figures the finished cells allow; returns their paths.

    Args:
        spec: The grid.
        cells: The grid's cells.
        records: Grid records of finished cells.
        classical: Classical baseline runs.

    Returns:
        Paths of the PNG files written.
    """
    folder = os.path.join(spec.out, FIGURES_DIR)
    written = []
    rows = summarise_runs(records, spec.learners, spec.labels)
    if rows:
        path = os.path.join(folder, ACC_FIGURE)
        plot_accuracy_bars(rows, summarise_classical(classical, spec.classical), path,
                           title=f"{spec.dataset}: accuracy with and without ground truth ({spec.num_train_iter} it.)")
        written.append(path)
    best = best_asd_run(spec.out, records)
    if best is not None:
        predictions = read_predictions(os.path.join(spec.out, best["run_dir"], PREDICTIONS_FILE))
        path = os.path.join(folder, CONFUSION_FIGURE)
        plot_confusion(predictions["y_true"], predictions["y_pred"], path,
                       title=f"Best ASD run {best['cell']} on {spec.dataset}: ACC {100 * best['acc']:.1f}%")
        written.append(path)
    histories = history_runs(spec.out, cells)
    if histories:
        path = os.path.join(folder, HISTORY_FIGURE)
        plot_history(histories, path, title=f"{spec.dataset}: test accuracy over training")
        written.append(path)
    return written


def write_report(spec: GridSpec, cells: Sequence[Cell], classical: List[Dict[str, Any]], command: str) -> List[str]:
    """Write results.json, results.md and the figures from every finished cell.

    Args:
        spec: The grid.
        cells: The grid's cells.
        classical: Classical baseline runs.
        command: The command line of this invocation.

    Returns:
        Paths written.
    """
    records, missing = collect_records(spec.out, cells)
    written = [write_results_json(spec, records, classical, missing, command)]
    markdown = render_markdown(
        title=f"ASD vs ground truth on {spec.dataset}",
        notes=markdown_notes(spec, records),
        rows=summarise_runs(records, spec.learners, spec.labels),
        classical_rows=summarise_classical(classical, spec.classical),
        missing=missing,
    )
    md_path = os.path.join(spec.out, RESULTS_MD)
    write_text_atomic(md_path, markdown)
    written.append(md_path)
    written += write_figures(spec, cells, records, classical)
    return written
